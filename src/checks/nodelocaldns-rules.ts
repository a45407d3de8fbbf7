// node-cache's 12 iptables rules (k8s-dns-node-cache, cmd/node-cache/app/cache_app.go, with
// Kubespray's args) and how a rule set is judged against them: each rule present (matched on table,
// chain, protocol, address, port and target; comments and order ignored), and not shadowed — no
// earlier rule in the same chain surely catches the same traffic with a verdict that keeps the
// node-cache rule from acting (kubernetes/dns#745: `-t raw -A PREROUTING ! -p 253 -j ACCEPT`
// ahead of the NOTRACK rules). Pure. Shared by nodelocaldns.iptables and iptables.backend.
import type { IptablesRule } from '../types.js';
import { inCidr, portIn, ruleWords } from '../collect/iptables.js';

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

const PROTO_NUM: Record<string, string> = { tcp: '6', udp: '17', ipencap: '4', ipip: '4' };

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

function matches(r: IptablesRule, e: ExpectedRule, ip: string): boolean {
  if (r.table !== e.table || r.chain !== e.chain || r.target !== e.target || r.proto !== e.proto) return false;
  const addr = e.dir === 'dst' ? r.dst : r.src;
  const other = e.dir === 'dst' ? r.src : r.dst;
  const port = e.dir === 'dst' ? r.dport : r.sport;
  return addr === ip && other === null && port === String(e.port);
}

/** Every rule of `rules` that is one of node-cache's rules for `ip`. */
export function nodeCacheRuleHits(rules: IptablesRule[], ip: string): IptablesRule[] {
  const expected = nodeCacheRules();
  return rules.filter((r) => expected.some((e) => matches(r, e, ip)));
}

export function findNodeCacheRule(rules: IptablesRule[], e: ExpectedRule, ip: string): IptablesRule[] {
  return rules.filter((r) => matches(r, e, ip));
}

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
const ENDS = new Set(['ACCEPT', 'DROP', 'REJECT']);

/**
 * Does `r` surely match every packet of `e`'s traffic to/from `ip`? Only matches this can decide
 * count (protocol, addresses, ports, comments, the tcp/udp/multiport modules); a rule with any other
 * match (interfaces, conntrack state, marks, sets…) may let some of the traffic pass, so it is not
 * counted — a shadow is only named when it is certain.
 */
export function surelyCatches(r: IptablesRule, e: ExpectedRule, ip: string): boolean {
  const w = ruleWords(r.line);
  for (let i = 2; i < w.length; i++) {
    let neg = false;
    if (w[i] === '!') {
      neg = true;
      i++;
    }
    const opt = w[i];
    const val = w[i + 1];
    if (opt === '-j' || opt === '--jump' || opt === '-g' || opt === '--goto') return true;
    if (opt === undefined) return true;
    if (opt === '-m' || opt === '--match') {
      if (!['tcp', 'udp', 'comment', 'multiport'].includes(val ?? '')) return false;
      i++;
      continue;
    }
    if (opt === '--comment') {
      i++;
      continue;
    }
    if (val === undefined) return false;
    i++;
    let hit: boolean | null;
    switch (opt) {
      case '-p':
      case '--protocol':
        hit =
          val === e.proto ||
          val === 'all' ||
          val === '0' ||
          (PROTO_NUM[val] ?? val) === (PROTO_NUM[e.proto] ?? e.proto);
        break;
      case '-i':
      case '--in-interface': {
        if (!e.inIface) return false;
        hit = val === e.inIface || (val.endsWith('+') && e.inIface.startsWith(val.slice(0, -1)));
        break;
      }
      case '-s':
      case '--source':
      case '-d':
      case '--destination': {
        const isDst = opt === '-d' || opt === '--destination';
        const ours = (e.dir === 'dst') === isDst; // the side that carries nodelocaldns_ip
        if (!ours) {
          // the other side is anyone: only "any" surely matches
          hit = val === '0.0.0.0/0' ? true : null;
          if (neg || hit === null) return false;
          continue;
        }
        hit = inCidr(ip, val);
        break;
      }
      case '--dport':
      case '--destination-port':
      case '--sport':
      case '--source-port':
      case '--dports':
      case '--sports':
      case '--ports': {
        const isD = opt.includes('d');
        const ours = opt === '--ports' ? true : (e.dir === 'dst') === isD;
        if (!ours || !e.port) return false; // the peer's port is anything
        hit = portIn(e.port, val);
        break;
      }
      default:
        return false;
    }
    if (hit === null) return false;
    if (neg) hit = !hit;
    if (!hit) return false;
  }
  return true;
}

/** What happens to the traffic when it reaches `chain` from the top: the first sure verdict
 *  (ACCEPT/DROP/REJECT, or RETURN from a built-in chain), or null when rules may let it through. */
export function chainVerdict(
  rules: IptablesRule[],
  table: string,
  chain: string,
  e: ExpectedRule,
  ip: string,
  depth = 0,
): IptablesRule | 'return' | null {
  if (depth > 8) return null;
  for (const r of rules.filter((x) => x.table === table && x.chain === chain).sort((a, b) => a.index - b.index)) {
    if (!r.target || !surelyCatches(r, e, ip)) continue;
    if (ENDS.has(r.target)) return r;
    if (r.target === 'RETURN') return 'return';
    if (rules.some((x) => x.table === table && x.chain === r.target)) {
      const v = chainVerdict(rules, table, r.target, e, ip, depth + 1);
      if (v && v !== 'return') return r;
    }
  }
  return null;
}

/**
 * The earlier rule (same backend, table and chain, before `before`) that keeps node-cache's rule
 * `e` from acting on its traffic, or null. For a NOTRACK rule any sure verdict does (the packet is
 * tracked after all); for an ACCEPT rule only one that drops it (an earlier ACCEPT is harmless).
 */
export function shadowing(
  rules: IptablesRule[],
  e: ExpectedRule,
  ip: string,
  before: number,
): { rule: IptablesRule; via: string | null } | null {
  const chainRules = rules
    .filter((r) => r.table === e.table && r.chain === e.chain && r.index < before)
    .sort((a, b) => a.index - b.index);
  for (const r of chainRules) {
    if (!r.target || !surelyCatches(r, e, ip)) continue;
    let verdict: string | null = null;
    let via: string | null = null;
    if (ENDS.has(r.target)) verdict = r.target;
    else if (r.target === 'RETURN') verdict = BUILTIN.has(r.chain) ? 'RETURN' : null;
    else if (rules.some((x) => x.table === e.table && x.chain === r.target)) {
      const v = chainVerdict(rules, e.table, r.target, e, ip, 1);
      if (v && v !== 'return') {
        verdict = v.target;
        via = v.line;
      }
    }
    if (!verdict) continue;
    const harmful = e.target === 'NOTRACK' ? true : verdict === 'DROP' || verdict === 'REJECT';
    if (harmful) return { rule: r, via };
    // an earlier ACCEPT for an ACCEPT rule: the traffic is accepted either way; later rules do not matter
    return null;
  }
  return null;
}
