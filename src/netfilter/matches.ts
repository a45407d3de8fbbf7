// From a match as nft lists it (a key such as `iifname` or `tcp dport`, an operator, values or a
// named set) to the model's matches, with what the key implies (`tcp dport` tests the protocol,
// `ip saddr` the IPv4 family). Shared by the JSON and the text reader. Pure.
import type { Match, Table, Value, Verdict } from './model.js';
import { portNumber, protoName } from './model.js';

export type Key =
  | 'iifname'
  | 'oifname'
  | 'meta l4proto'
  | 'meta nfproto'
  | 'meta mark'
  | 'ip saddr'
  | 'ip daddr'
  | 'ip6 saddr'
  | 'ip6 daddr'
  | 'ip protocol'
  | 'ip6 nexthdr'
  | `${'tcp' | 'udp' | 'sctp' | 'th' | 'udplite' | 'dccp'} ${'sport' | 'dport'}`
  | 'ct state'
  | 'ct status'
  | 'fib daddr type'
  | 'fib saddr type';

export const KEYS: readonly string[] = [
  'iifname',
  'oifname',
  'meta l4proto',
  'meta nfproto',
  'meta mark',
  'ip saddr',
  'ip daddr',
  'ip6 saddr',
  'ip6 daddr',
  'ip protocol',
  'ip6 nexthdr',
  'ct state',
  'ct status',
  'fib daddr type',
  'fib saddr type',
  ...['tcp', 'udp', 'sctp', 'th', 'udplite', 'dccp'].flatMap((p) => [`${p} sport`, `${p} dport`]),
];

function str(v: Value): string | null {
  return typeof v === 'object' ? null : String(v);
}
function all<T>(xs: (T | null)[]): xs is T[] {
  return xs.every((x) => x !== null);
}

/** The values of a named set of the table, null when it cannot be read. */
function setValues(t: Table, name: string): Value[] | null {
  return t.sets.get(name)?.elements ?? null;
}

/** What a payload expression of `proto` tests before its field: the header is there (`tcp …`: the
 *  protocol is tcp; `icmpv6 …`: IPv6 and ICMPv6; `ip …` in an inet table: IPv4). */
const TRANSPORT = new Set(['tcp', 'udp', 'sctp', 'udplite', 'dccp', 'icmp', 'icmpv6']);
const MIXED = new Set(['inet', 'bridge', 'netdev']);
const NONE: Match[] = [];

export function impliedBy(proto: string, t: Table): Match[] {
  const fam = proto === 'ip' || proto === 'icmp' ? 'ipv4' : proto === 'ip6' || proto === 'icmpv6' ? 'ipv6' : null;
  const l4 = TRANSPORT.has(proto);
  if (!l4 && !(fam && MIXED.has(t.family))) return NONE;
  const out: Match[] = [];
  if (fam && MIXED.has(t.family)) out.push({ kind: 'nfproto', neg: false, families: [fam] });
  if (l4) out.push({ kind: 'l4proto', neg: false, protos: [protoName(proto)] });
  return out;
}

/** The model's matches for one nft match; null when the values cannot be read for this key. */
export function buildMatch(key: Key, neg: boolean, vals: Value[] | string, t: Table): Match[] | null {
  const values = typeof vals === 'string' ? setValues(t, vals) : vals;
  if (!values) return null;
  const [proto, field] = key.split(' ') as [string, string | undefined];
  const implied = impliedBy(proto, t);
  const strings = values.map(str);
  switch (key) {
    case 'iifname':
    case 'oifname':
      return all(strings) ? [{ kind: key === 'iifname' ? 'iif' : 'oif', neg, names: strings }] : null;
    case 'meta l4proto':
    case 'ip protocol':
    case 'ip6 nexthdr':
      return all(strings) ? [...implied, { kind: 'l4proto', neg, protos: strings.map(protoName) }] : null;
    case 'meta nfproto':
      return all(strings) && strings.every((s) => s === 'ipv4' || s === 'ipv6')
        ? [{ kind: 'nfproto', neg, families: strings as ('ipv4' | 'ipv6')[] }]
        : null;
    case 'meta mark': {
      const n = values.length === 1 ? Number(str(values[0]!)) : NaN;
      return Number.isFinite(n) ? [{ kind: 'mark', neg, value: n, mask: 0xffffffff }] : null;
    }
    case 'ip saddr':
    case 'ip daddr':
    case 'ip6 saddr':
    case 'ip6 daddr':
      return [...implied, { kind: field === 'saddr' ? 'saddr' : 'daddr', neg, addrs: values }];
    case 'ct state':
      return all(strings) ? [{ kind: 'ct', neg, states: strings.map((s) => s.toLowerCase()) }] : null;
    case 'ct status':
      return all(strings) ? [{ kind: 'ctstatus', neg, statuses: strings }] : null;
    case 'fib daddr type':
    case 'fib saddr type':
      return all(strings)
        ? [
            {
              kind: 'addrtype',
              neg,
              dir: key === 'fib daddr type' ? 'dst' : 'src',
              types: strings.map((s) => s.toLowerCase()),
            },
          ]
        : null;
    default: {
      const ranges: [number, number][] = [];
      for (const v of values) {
        if (typeof v === 'object' && 'range' in v) {
          const lo = portNumber(v.range[0]);
          const hi = portNumber(v.range[1]);
          if (lo === null || hi === null) return null;
          ranges.push([lo, hi]);
        } else {
          const s = str(v)!;
          const r = /^(\w[\w-]*?)-(\w+)$/.exec(s);
          const lo = portNumber(r ? r[1]! : s);
          const hi = r ? portNumber(r[2]!) : lo;
          if (lo === null || hi === null) return null;
          ranges.push([lo, hi]);
        }
      }
      return [...implied, { kind: field === 'sport' ? 'sport' : 'dport', neg, ranges }];
    }
  }
}

/** A verdict map's entries, from its inline elements or a named map; null when unreadable. */
export function resolveVmap(
  ref: unknown,
  t: Table,
  verdictOf: (x: unknown) => Verdict | null,
  valuesOf: (x: unknown) => Value[] | string | null,
): { values: Value[] | null; verdict: Verdict }[] | null {
  if (typeof ref === 'string' && ref.startsWith('@')) {
    const m = t.sets.get(ref.slice(1));
    if (!m?.elements || !m.data) return null;
    return m.elements.map((v, i) => {
      const d = m.data![i]!;
      return { values: [v], verdict: typeof d === 'object' && 'kind' in d ? d : { kind: 'unknown', text: String(d) } };
    });
  }
  const set = typeof ref === 'object' && ref !== null && 'set' in ref ? (ref as { set: unknown }).set : null;
  if (!Array.isArray(set)) return null;
  const out: { values: Value[] | null; verdict: Verdict }[] = [];
  for (const el of set) {
    if (!Array.isArray(el) || el.length !== 2) return null;
    const v = valuesOf(el[0]);
    out.push({ values: Array.isArray(v) ? v : null, verdict: verdictOf(el[1]) ?? { kind: 'unknown', text: 'vmap' } });
  }
  return out;
}
