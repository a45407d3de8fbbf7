// node-cache's 12 iptables rules (k8s-dns-node-cache, cmd/node-cache/app/cache_app.go, with
// Kubespray's args) and how a rule set is judged against them: each rule present (its protocol,
// address, port and verdict; comments, modules and order ignored), and not shadowed — no earlier
// rule in the same chain surely catches the same traffic with a verdict that keeps the node-cache
// rule from acting (kubernetes/dns#745: `-t raw -A PREROUTING ! -p 253 -j ACCEPT` ahead of the
// NOTRACK rules). Both questions are asked of the netfilter model. Pure. Shared by
// nodelocaldns.iptables and iptables.backend.
import type { IptablesChainLine, IptablesRule } from '../types.js';
import type { Match, Rule, Table } from '../netfilter/model.js';
import { protoName } from '../netfilter/model.js';
import { iptablesModel } from '../netfilter/iptables.js';
import { walk, type Packet } from '../netfilter/evaluate.js';
import { addrIn } from '../netfilter/values.js';

export interface ExpectedRule {
  table: string;
  chain: string;
  /** tcp, udp, or another protocol by name or number (ipencap = 4, IP-in-IP) */
  proto: string;
  dir: 'dst' | 'src';
  /** 0: no port (a protocol without ports) */
  port: number;
  target: string;
  /** the interface the traffic surely arrives on, when known (an overlay's parent NIC) */
  inIface?: string;
}

/** The rules node-cache prepends (its -health-port default is 8080; Kubespray passes none). */
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

const same = (m: Match | undefined, f: (m: Match) => boolean) => !!m && !('neg' in m && m.neg) && f(m);

/** Is the model's rule node-cache's rule `e` for `ip`? */
function isRule(r: Rule, e: ExpectedRule, ip: string): boolean {
  const want = e.target === 'NOTRACK' ? r.verdict.kind === 'none' && !!r.verdict.notrack : r.verdict.kind === 'accept';
  if (!want) return false;
  const ours = e.dir === 'dst' ? 'daddr' : 'saddr';
  const other = e.dir === 'dst' ? 'saddr' : 'daddr';
  const port = e.dir === 'dst' ? 'dport' : 'sport';
  const by = (k: Match['kind']) => r.matches.filter((m) => m.kind === k);
  const one = (k: Match['kind']) => (by(k).length === 1 ? by(k)[0] : undefined);
  return (
    same(one('l4proto'), (m) => m.kind === 'l4proto' && m.protos.length === 1 && m.protos[0] === protoName(e.proto)) &&
    same(
      one(ours),
      (m) =>
        'addrs' in m &&
        m.addrs.length === 1 &&
        addrIn(ip, m.addrs[0]!) === true &&
        !/\/(?!32$)\d+$/.test(String(m.addrs[0])),
    ) &&
    by(other).length === 0 &&
    same(
      one(port),
      (m) => 'ranges' in m && m.ranges.length === 1 && m.ranges[0]![0] === e.port && m.ranges[0]![1] === e.port,
    )
  );
}

/** The tables of one backend's rules, in the model. */
function tablesOf(rules: IptablesRule[], backend: 'legacy' | 'nft', chains: readonly IptablesChainLine[]): Table[] {
  return iptablesModel(rules, chains).tables.filter(
    (t) => t.source.kind === 'iptables' && t.source.backend === backend,
  );
}

/** The model's rule for an iptables rule (same backend, table, chain and position). */
function modelRule(t: Table | undefined, r: IptablesRule): Rule | undefined {
  return t?.chains.get(r.chain)?.rules[r.index];
}

function tableFor(rules: IptablesRule[], r: IptablesRule, chains: readonly IptablesChainLine[]): Table | undefined {
  return tablesOf(rules, r.backend, chains).find((t) => t.name === r.table);
}

/** Every rule of `rules` that is one of node-cache's rules for `ip`. */
export function nodeCacheRuleHits(rules: IptablesRule[], ip: string): IptablesRule[] {
  const hits = new Set(nodeCacheRules().flatMap((e) => findNodeCacheRule(rules, e, ip)));
  return rules.filter((r) => hits.has(r));
}

export function findNodeCacheRule(
  rules: IptablesRule[],
  e: ExpectedRule,
  ip: string,
  chains: readonly IptablesChainLine[] = [],
): IptablesRule[] {
  const candidates = rules.filter((r) => r.table === e.table && r.chain === e.chain);
  if (!candidates.length) return [];
  const tables = new Map<string, Table | undefined>();
  return candidates.filter((r) => {
    if (!tables.has(r.backend)) tables.set(r.backend, tableFor(rules, r, chains));
    const m = modelRule(tables.get(r.backend), r);
    return !!m && isRule(m, e, ip);
  });
}

/** The packet node-cache's rule `e` is about: to or from `ip` on its port, the peer open. */
export function packetOf(e: ExpectedRule, ip: string): Packet {
  const hook = e.chain === 'PREROUTING' ? 'prerouting' : e.chain === 'INPUT' ? 'input' : 'output';
  return {
    path: [hook],
    l4proto: e.proto,
    iif: e.inIface ?? null,
    ...(e.dir === 'dst' ? { daddr: ip, dport: e.port || null } : { saddr: ip, sport: e.port || null }),
  };
}

/**
 * The earlier rule (same backend, table and chain as the rule `before`) that keeps node-cache's rule
 * `e` from acting on its traffic, or null: the first rule that surely catches all of it and surely
 * ends the chain for it. For a NOTRACK rule any end does (the packet is tracked after all); for an
 * ACCEPT rule only a drop or reject (an earlier ACCEPT is harmless).
 */
export function shadowing(
  rules: IptablesRule[],
  e: ExpectedRule,
  ip: string,
  before: { backend: 'legacy' | 'nft'; index: number },
  chains: readonly IptablesChainLine[] = [],
): { rule: IptablesRule; via: string | null } | null {
  const backend = before.backend;
  const hit = rules.find((r) => r.backend === backend && r.table === e.table && r.chain === e.chain);
  if (!hit) return null;
  const table = tableFor(rules, hit, chains);
  const chain = table?.chains.get(e.chain);
  if (!table || !chain) return null;
  const w = walk(table, chain, packetOf(e, ip), before.index);
  if (!w.sure) return null;
  const harmful = e.target === 'NOTRACK' ? w.sure.end !== 'unknown' : w.sure.end === 'drop';
  if (!harmful) return null;
  const first = w.sure.path[0]!;
  const rule = rules.find(
    (r) => r.backend === hit.backend && r.table === e.table && r.chain === e.chain && r.index === first.rule.index,
  );
  if (!rule) return null;
  const last = w.sure.path[w.sure.path.length - 1]!;
  return { rule, via: w.sure.path.length > 1 ? last.rule.text : null };
}
