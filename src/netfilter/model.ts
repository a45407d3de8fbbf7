// The kernel's own model of a ruleset, as nftables' JSON schema (libnftables-json(5)) describes it:
// tables of a family, chains (base chains with a hook, a priority and a policy), rules as a list of
// matches and one verdict. Native nft tables, iptables-nft and iptables-legacy all fit it; one
// evaluator (evaluate.ts) walks it. Pure data.

export type Family = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';
export type Hook = 'ingress' | 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'egress';

/** Where a table was read: nft's JSON or text listing, or iptables-save of one backend. */
export type Source = { kind: 'nft'; format: 'json' | 'text' } | { kind: 'iptables'; backend: 'legacy' | 'nft' };

export const FAMILIES: readonly Family[] = ['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev'];
export const HOOKS: readonly Hook[] = ['ingress', 'prerouting', 'input', 'forward', 'output', 'postrouting', 'egress'];

/** One side of a match: a literal, a range or a prefix, as nft prints them. */
export type Value = string | number | { range: [string | number, string | number] } | { prefix: [string, number] };

export type Match =
  /** iifname/oifname (iif/oif, iptables -i/-o): a trailing `*` is a wildcard (iptables' `+`) */
  | { kind: 'iif' | 'oif'; neg: boolean; names: string[] }
  /** ip/ip6 saddr/daddr (iptables -s/-d): CIDRs, plain addresses or `a-b` ranges */
  | { kind: 'saddr' | 'daddr'; neg: boolean; addrs: Value[] }
  /** tcp/udp/sctp/th sport/dport (iptables --sport/--dport/--dports); `proto` null for th */
  | { kind: 'sport' | 'dport'; neg: boolean; ranges: [number, number][] }
  /** meta l4proto / ip protocol / iptables -p, by name (tcp, udp, icmp, ipencap…) */
  | { kind: 'l4proto'; neg: boolean; protos: string[] }
  /** meta nfproto; also implied by `ip …`/`ip6 …` matches in inet tables */
  | { kind: 'nfproto'; neg: boolean; families: ('ipv4' | 'ipv6')[] }
  /** ct state (iptables -m conntrack --ctstate, -m state --state), lower case */
  | { kind: 'ct'; neg: boolean; states: string[] }
  /** ct status (dnat, snat…) */
  | { kind: 'ctstatus'; neg: boolean; statuses: string[] }
  /** fib daddr/saddr type (iptables -m addrtype --dst-type/--src-type), lower case */
  | { kind: 'addrtype'; neg: boolean; dir: 'src' | 'dst'; types: string[] }
  /** meta mark / -m mark --mark: the packet description rarely knows it */
  | { kind: 'mark'; neg: boolean; value: number; mask: number }
  /** iptables -m set --match-set: ipset contents are not read */
  | { kind: 'ipset'; neg: boolean; name: string }
  /** anything else: may match */
  | { kind: 'unknown'; text: string };

export type Verdict =
  | { kind: 'accept' | 'drop' | 'return' | 'continue' | 'queue' }
  | { kind: 'reject'; with: string | null }
  | { kind: 'jump' | 'goto'; target: string }
  /** dnat/snat/masquerade/redirect: the packet leaves its base chain accepted, translated */
  | { kind: 'nat'; action: string }
  /** no verdict: the next rule sees the packet (counter, log, mark set…); notrack untracks it */
  | { kind: 'none'; notrack?: boolean }
  /** a target this model does not know: may do anything */
  | { kind: 'unknown'; text: string };

export interface Rule {
  /** position in its chain, 0-based */
  index: number;
  /** the rule as printed (nft text, iptables-save line) or rendered from JSON */
  text: string;
  matches: Match[];
  verdict: Verdict;
  handle?: number;
  comment?: string;
  counter?: { packets: number; bytes: number };
}

export interface BaseChain {
  type: string;
  hook: Hook;
  priority: number;
  /** null when not read (iptables rules without their chain lines): taken as accept, uncertain */
  policy: 'accept' | 'drop' | null;
  /** netdev/inet ingress: the devices it is attached to */
  devices?: string[];
}

export interface Chain {
  name: string;
  base: BaseChain | null;
  rules: Rule[];
}

export interface NamedSet {
  name: string;
  type: string;
  /** null when the elements are not printed or cannot be read (concatenations) */
  elements: Value[] | null;
  /** maps and verdict maps: each element's data, same order */
  data?: (Verdict | Value)[];
}

export interface Table {
  family: Family;
  name: string;
  source: Source;
  chains: Map<string, Chain>;
  sets: Map<string, NamedSet>;
}

export interface Ruleset {
  tables: Table[];
}

/** nft's named priorities (nft(8), "PRIORITY"); the bridge family has its own. */
export function namedPriority(name: string, family: Family): number | null {
  if (family === 'bridge')
    return ({ dstnat: -300, filter: -200, out: 100, srcnat: 300 } as const)[name as 'out'] ?? null;
  return (
    ({ raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 } as const)[name as 'raw'] ?? null
  );
}

/** "nftables", "iptables-nft", "iptables-legacy": the reader a table came from, for evidence. */
export function sourceLabel(s: Source): string {
  return s.kind === 'nft' ? 'nftables' : `iptables-${s.backend}`;
}

export function newTable(family: Family, name: string, source: Source): Table {
  return { family, name, source, chains: new Map(), sets: new Map() };
}

export function chainOf(t: Table, name: string): Chain {
  let c = t.chains.get(name);
  if (!c) {
    c = { name, base: null, rules: [] };
    t.chains.set(name, c);
  }
  return c;
}

/** Every table of `rulesets`, except the nft listing's copies of the tables iptables-nft-save read
 *  (iptables-nft keeps its tables as `table ip filter` etc.; iptables-save prints them faithfully,
 *  nft shows their xtables matches as opaque `xt` expressions). A node's nft reader already leaves
 *  those copies out while it parses (collect/nftables.ts, to keep no per-node copy of them); this is
 *  the rule for any listing handed here whole. */
export function combine(...rulesets: (Ruleset | null | undefined)[]): Ruleset {
  const all = rulesets.flatMap((r) => r?.tables ?? []);
  const xtables = new Set(
    all.filter((t) => t.source.kind === 'iptables' && t.source.backend === 'nft').map((t) => `${t.family} ${t.name}`),
  );
  return { tables: all.filter((t) => t.source.kind !== 'nft' || !xtables.has(`${t.family} ${t.name}`)) };
}

/** The names nft and iptables use for IP protocols, one per number. */
const PROTO_NAMES: Record<string, string> = {
  '0': 'all',
  '1': 'icmp',
  '2': 'igmp',
  '4': 'ipencap',
  ipip: 'ipencap',
  '6': 'tcp',
  '17': 'udp',
  '41': 'ipv6',
  '47': 'gre',
  '50': 'esp',
  '51': 'ah',
  '58': 'ipv6-icmp',
  icmpv6: 'ipv6-icmp',
  '132': 'sctp',
  '136': 'udplite',
};
export function protoName(p: string | number): string {
  const s = String(p).toLowerCase();
  return PROTO_NAMES[s] ?? s;
}

/** A few service names older nft versions print instead of port numbers. */
const SERVICES: Record<string, number> = {
  ssh: 22,
  domain: 53,
  http: 80,
  https: 443,
  ntp: 123,
  bootps: 67,
  bootpc: 68,
  'dhcpv6-client': 546,
  'dhcpv6-server': 547,
  mdns: 5353,
  vxlan: 4789,
  bgp: 179,
};
export function portNumber(v: string | number): number | null {
  if (typeof v === 'number') return v;
  if (/^\d+$/.test(v)) return Number(v);
  return SERVICES[v] ?? null;
}
