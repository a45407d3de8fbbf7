// NodeLocalDNS on a node: the interface holding nodelocaldns_ip, and node-cache's 12 iptables
// rules matched semantically (table, chain, proto, address, port, target), not shadowed by an
// earlier DROP/REJECT, and not split across the legacy and nft backends.
import type { CheckResult, ClusterModel, IptablesRule, LinkFacts, NodeFacts } from '../types.js';
import { isParseError } from '../types.js';
import { ruleWords } from '../collect/iptables.js';

export interface ExpectedRule {
  table: string;
  chain: string;
  proto: 'tcp' | 'udp';
  dir: 'dst' | 'src';
  port: number;
  target: string;
}

/** The rules node-cache (k8s-dns-node-cache, cache_app.go) prepends, with Kubespray's args. */
export function nodeCacheRules(healthPort = 8080): ExpectedRule[] {
  return [
    { table: 'raw', chain: 'PREROUTING', proto: 'tcp', dir: 'dst', port: 53, target: 'NOTRACK' },
    { table: 'raw', chain: 'PREROUTING', proto: 'udp', dir: 'dst', port: 53, target: 'NOTRACK' },
    { table: 'filter', chain: 'INPUT', proto: 'tcp', dir: 'dst', port: 53, target: 'ACCEPT' },
    { table: 'filter', chain: 'INPUT', proto: 'udp', dir: 'dst', port: 53, target: 'ACCEPT' },
    { table: 'raw', chain: 'OUTPUT', proto: 'tcp', dir: 'src', port: 53, target: 'NOTRACK' },
    { table: 'raw', chain: 'OUTPUT', proto: 'udp', dir: 'src', port: 53, target: 'NOTRACK' },
    { table: 'filter', chain: 'OUTPUT', proto: 'tcp', dir: 'src', port: 53, target: 'ACCEPT' },
    { table: 'filter', chain: 'OUTPUT', proto: 'udp', dir: 'src', port: 53, target: 'ACCEPT' },
    { table: 'raw', chain: 'OUTPUT', proto: 'tcp', dir: 'dst', port: 53, target: 'NOTRACK' },
    { table: 'raw', chain: 'OUTPUT', proto: 'udp', dir: 'dst', port: 53, target: 'NOTRACK' },
    { table: 'raw', chain: 'OUTPUT', proto: 'tcp', dir: 'dst', port: healthPort, target: 'NOTRACK' },
    { table: 'raw', chain: 'OUTPUT', proto: 'tcp', dir: 'src', port: healthPort, target: 'NOTRACK' },
  ];
}

export function describeRule(e: ExpectedRule, ip: string): string {
  return `${e.table} ${e.chain} -p ${e.proto} ${e.dir === 'dst' ? '-d' : '-s'} ${ip} --${e.dir === 'dst' ? 'dport' : 'sport'} ${e.port} -j ${e.target}`;
}

function matches(r: IptablesRule, e: ExpectedRule, ip: string): boolean {
  if (r.table !== e.table || r.chain !== e.chain || r.target !== e.target || r.proto !== e.proto) return false;
  const addr = e.dir === 'dst' ? r.dst : r.src;
  const other = e.dir === 'dst' ? r.src : r.dst;
  const port = e.dir === 'dst' ? r.dport : r.sport;
  return addr === ip && other === null && port === String(e.port);
}

const KNOWN = new Set(['-A', '-p', '--protocol', '-s', '--source', '-d', '--destination', '--sport', '--dport', '-m', '-j', '--comment']);

/** An earlier DROP/REJECT in the same chain that surely catches this traffic. */
function shadowing(rules: IptablesRule[], e: ExpectedRule, ip: string, before: number): IptablesRule | null {
  for (const r of rules) {
    if (r.table !== e.table || r.chain !== e.chain || r.index >= before) continue;
    if (r.target !== 'DROP' && r.target !== 'REJECT') continue;
    const words = ruleWords(r.line);
    let onlyKnown = true;
    for (let i = 2; i < words.length; i++) {
      const w = words[i]!;
      if (w === '!') { onlyKnown = false; break; }
      if (!w.startsWith('-')) continue;
      if (!KNOWN.has(w)) { onlyKnown = false; break; }
      if (w === '-m' && !['tcp', 'udp', 'comment'].includes(words[i + 1] ?? '')) { onlyKnown = false; break; }
    }
    if (!onlyKnown) continue;
    if (r.proto && r.proto !== e.proto && r.proto !== 'all') continue;
    const addr = e.dir === 'dst' ? r.dst : r.src;
    if (addr && addr !== ip && !addr.startsWith('0.0.0.0/0')) continue;
    const port = e.dir === 'dst' ? r.dport : r.sport;
    if (port && port !== String(e.port)) continue;
    if ((e.dir === 'dst' ? r.src : r.dst) && !(e.dir === 'dst' ? r.src : r.dst)!.startsWith('0.0.0.0/0')) continue;
    if ((e.dir === 'dst' ? r.sport : r.dport)) continue;
    return r;
  }
  return null;
}

function r(check: string, host: string, status: CheckResult['status'], summary: string, evidence: Record<string, unknown> = {}): CheckResult {
  return { check, host, status, summary, evidence };
}

export function nodelocaldnsChecks(f: NodeFacts, c: ClusterModel): CheckResult[] {
  const h = f.host;
  if (!c.nodelocaldnsEnabled) return [r('nodelocaldns.interface', h, 'skip', 'enable_nodelocaldns is false'), r('nodelocaldns.iptables', h, 'skip', 'enable_nodelocaldns is false')];
  const ip = c.nodelocaldnsIp;
  const out: CheckResult[] = [];
  if (isParseError(f.links)) out.push(r('nodelocaldns.interface', h, 'error', f.links.parseError));
  else {
    const links = f.links as LinkFacts[];
    const dev = links.find((l) => l.name === 'nodelocaldns');
    const holder = links.find((l) => l.addresses.some((a) => a.split('/')[0] === ip));
    if (dev && dev.addresses.some((a) => a.split('/')[0] === ip)) out.push(r('nodelocaldns.interface', h, 'pass', `nodelocaldns holds ${ip}`, { device: dev.name, kind: dev.kind, addresses: dev.addresses }));
    else if (dev) out.push(r('nodelocaldns.interface', h, 'fail', `nodelocaldns exists but does not hold ${ip}`, { device: dev.name, addresses: dev.addresses, heldBy: holder?.name ?? null }));
    else out.push(r('nodelocaldns.interface', h, 'fail', `no nodelocaldns interface${holder ? ` (${ip} is on ${holder.name})` : ` and nothing holds ${ip}`}: the node-cache pod is not running or has not set up the node`, { heldBy: holder?.name ?? null }));
  }

  if (isParseError(f.iptables)) {
    out.push(r('nodelocaldns.iptables', h, 'error', f.iptables.parseError));
    return out;
  }
  const { rules, backends } = f.iptables as { rules: IptablesRule[]; backends: ('legacy' | 'nft')[] };
  const expected = nodeCacheRules();
  const missing: string[] = [];
  const shadowed: string[] = [];
  const foundIn = new Set<string>();
  for (const e of expected) {
    const hits = rules.filter((x) => matches(x, e, ip));
    if (!hits.length) {
      missing.push(describeRule(e, ip));
      continue;
    }
    hits.forEach((x) => foundIn.add(x.backend));
    const shadows = hits.map((hit) => ({ hit, by: shadowing(rules.filter((x) => x.backend === hit.backend), e, ip, hit.index) }));
    if (shadows.every((x) => x.by)) shadowed.push(`${describeRule(e, ip)} comes after "${shadows[0]!.by!.line}" (${shadows[0]!.hit.backend})`);
  }
  const ev: Record<string, unknown> = { expected: expected.length, present: expected.length - missing.length, backends, rulesIn: [...foundIn] };
  if (missing.length) ev.missing = missing;
  if (shadowed.length) ev.shadowed = shadowed;
  if (missing.length) out.push(r('nodelocaldns.iptables', h, 'fail', `${missing.length} of node-cache's ${expected.length} iptables rules for ${ip} are missing`, ev));
  else if (shadowed.length) out.push(r('nodelocaldns.iptables', h, 'fail', `${shadowed.length} node-cache rule(s) for ${ip} come after a DROP/REJECT that catches the same traffic`, ev));
  else out.push(r('nodelocaldns.iptables', h, 'pass', `all ${expected.length} node-cache rules for ${ip} present`, ev));

  // Rules in both backends: kube-proxy/Calico and node-cache disagree on iptables-legacy vs -nft.
  const per = { legacy: rules.filter((x) => x.backend === 'legacy').length, nft: rules.filter((x) => x.backend === 'nft').length };
  if (per.legacy && per.nft) out.push(r('iptables.backend', h, 'warn', `rules exist in both iptables-legacy (${per.legacy}) and iptables-nft (${per.nft}); components disagree on the backend (calico_iptables_backend)`, { ...per, nodeCacheRulesIn: [...foundIn] }));
  else out.push(r('iptables.backend', h, 'pass', `one iptables backend in use (${per.legacy ? 'legacy' : per.nft ? 'nft' : 'none'})`, per));
  return out;
}
