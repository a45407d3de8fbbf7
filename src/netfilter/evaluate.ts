// What may happen to one packet: the hooks of its path (prerouting → input for traffic to the node,
// prerouting → forward → postrouting when forwarded, output → postrouting from the node), and in
// each hook every base chain of every table of the packet's family — native nft, iptables-nft and
// iptables-legacy alike — in priority order, as the kernel runs them. An accept ends only its own
// base chain: the packet goes on to the next base chain of the hook, and to the next hook; a drop
// or reject anywhere ends the packet. Matching is three-valued: a match the packet description
// leaves open (a mark, an ipset, an unknown module) may match, so a rule after it may or may not
// see the packet. "drop" is only said when every way through ends in a drop. Pure.
import type { Chain, Family, Hook, Match, Rule, Ruleset, Table, Value } from './model.js';
import { protoName, sourceLabel } from './model.js';
import { addrFamily, addrIn, ifnameIn } from './values.js';

export interface Packet {
  /** ip (IPv4, the default), ip6, or a bridged/arp packet */
  family?: 'ip' | 'ip6' | 'bridge' | 'arp';
  path: Hook[];
  iif?: string | null;
  oif?: string | null;
  saddr?: string | null;
  daddr?: string | null;
  /** tcp, udp, icmp, ipencap… */
  l4proto?: string | null;
  sport?: number | null;
  dport?: number | null;
  /** conntrack state when the filter chains see it: new, established, related, invalid, untracked */
  ct?: string | null;
  /** the connection was DNATed (ct status dnat) */
  dnat?: boolean | null;
  /** the addresses are the node's own (fib … type local, addrtype LOCAL) */
  localSaddr?: boolean | null;
  localDaddr?: boolean | null;
  mark?: number | null;
}

export type Tri = 'yes' | 'no' | 'maybe';
/** how a packet may leave a chain: fall = off its end or RETURN (back to the caller, or the policy) */
export type End = 'accept' | 'drop' | 'fall' | 'unknown';

export interface Step {
  chain: string;
  rule: Rule;
}

export interface ChainWalk {
  ends: Set<End>;
  /** the first rule that surely matches and surely ends the chain (with the jumps leading to it) */
  sure: { end: End; path: Step[] } | null;
  /** the first way to a drop */
  mayDrop: Step[] | null;
  /** an unknown match or target made a rule "may" */
  uncertain: boolean;
}

export interface Decision {
  source: string;
  family: Family;
  table: string;
  /** the base chain */
  chain: string;
  /** the jumps and the deciding rule, last; empty when the chain's policy decided */
  path: Step[];
  /** the chain's policy decided (the packet fell off the base chain) */
  policy: boolean;
}

export interface ChainResult {
  decision: Decision;
  priority: number;
  verdict: 'accept' | 'drop' | 'maybe-drop';
  uncertain: boolean;
}

export interface HookResult {
  hook: Hook;
  verdict: 'accept' | 'drop' | 'maybe-drop';
  /** for drop: what drops it; for maybe-drop: the first rule that may; for accept: null */
  by: Decision | null;
  uncertain: boolean;
  chains: ChainResult[];
}

export interface PacketResult {
  verdict: 'accept' | 'drop' | 'maybe-drop';
  by: Decision | null;
  /** the hooks evaluated (up to the one that surely drops) */
  hooks: HookResult[];
  uncertain: boolean;
}

interface Ctx {
  pk: Packet;
  ct: string | null;
  table: Table;
  uncertain: boolean;
}

const not = (t: Tri, neg: boolean): Tri => (!neg || t === 'maybe' ? t : t === 'yes' ? 'no' : 'yes');
const tri = (b: boolean | null | undefined): Tri => (b === null || b === undefined ? 'maybe' : b ? 'yes' : 'no');
/** any of several values: yes if one surely is, no if all surely are not */
function anyOf<T>(xs: readonly T[], f: (x: T) => boolean | null): Tri {
  let maybe = false;
  for (const x of xs) {
    const r = f(x);
    if (r === true) return 'yes';
    if (r === null) maybe = true;
  }
  return maybe ? 'maybe' : 'no';
}

function pkFamily(pk: Packet): 'ipv4' | 'ipv6' | null {
  return pk.family === 'ip6' ? 'ipv6' : pk.family === 'ip' || pk.family === undefined ? 'ipv4' : null;
}

function addrMatch(ip: string | null | undefined, vals: Value[], pk: Packet): Tri {
  if (ip) return anyOf(vals, (v) => addrIn(ip, v));
  // the address is open: only "any" of its family surely matches, the other family surely not
  const fam = pkFamily(pk) === 'ipv6' ? 6 : 4;
  if (
    vals.some(
      (v) =>
        addrFamily(v) === fam && /\/0$/.test(typeof v === 'object' && 'prefix' in v ? `/${v.prefix[1]}` : String(v)),
    )
  )
    return 'yes';
  return vals.every((v) => addrFamily(v) !== null && addrFamily(v) !== fam) ? 'no' : 'maybe';
}

export function matchOne(m: Match, ctx: Ctx): Tri {
  const pk = ctx.pk;
  switch (m.kind) {
    case 'iif':
    case 'oif': {
      const name = m.kind === 'iif' ? pk.iif : pk.oif;
      return not(name ? anyOf(m.names, (p) => ifnameIn(name, p)) : 'maybe', m.neg);
    }
    case 'saddr':
    case 'daddr':
      return not(addrMatch(m.kind === 'saddr' ? pk.saddr : pk.daddr, m.addrs, pk), m.neg);
    case 'sport':
    case 'dport': {
      const port = m.kind === 'sport' ? pk.sport : pk.dport;
      const has = pk.l4proto ? ['tcp', 'udp', 'sctp', 'udplite', 'dccp'].includes(pk.l4proto) : null;
      if (has === false) return 'no'; // no transport header: the match fails either way
      return not(
        port === null || port === undefined ? 'maybe' : anyOf(m.ranges, ([lo, hi]) => port >= lo && port <= hi),
        m.neg,
      );
    }
    case 'l4proto':
      return not(
        pk.l4proto
          ? anyOf(m.protos, (p) => p === 'all' || p === protoName(pk.l4proto!))
          : m.protos.includes('all')
            ? 'yes'
            : 'maybe',
        m.neg,
      );
    case 'nfproto': {
      const f = pkFamily(pk);
      return not(f ? tri(m.families.includes(f)) : 'no', m.neg);
    }
    case 'ct': {
      const s = ctx.ct;
      return not(s ? tri(m.states.includes(s)) : 'maybe', m.neg);
    }
    case 'ctstatus': {
      if (m.statuses.length === 1 && m.statuses[0] === 'dnat') {
        const dnat = ctx.ct === 'untracked' ? false : pk.dnat;
        return not(tri(dnat), m.neg);
      }
      return 'maybe';
    }
    case 'addrtype': {
      const local = m.dir === 'dst' ? pk.localDaddr : pk.localSaddr;
      if (local === null || local === undefined) return 'maybe';
      if (m.types.includes('local')) return not(local ? 'yes' : m.types.length === 1 ? 'no' : 'maybe', m.neg);
      if (local && m.types.includes('unicast')) return not('yes', m.neg);
      return 'maybe';
    }
    case 'mark':
      return pk.mark === null || pk.mark === undefined
        ? 'maybe'
        : not(tri((pk.mark & m.mask) === (m.value & m.mask)), m.neg);
    case 'ipset':
    case 'unknown':
      return 'maybe';
  }
}

/** All of a rule's matches: no if one surely fails, yes if all surely hold. */
export function matchRule(rule: Rule, ctx: Ctx): Tri {
  let out: Tri = 'yes';
  let unknown = false;
  for (const m of rule.matches) {
    const r = matchOne(m, ctx);
    if (r === 'no') return 'no';
    if (r === 'maybe') {
      out = 'maybe';
      if (m.kind === 'unknown' || m.kind === 'ipset' || m.kind === 'mark') unknown = true;
    }
  }
  if (out === 'maybe' && unknown) ctx.uncertain = true;
  return out;
}

const MAX_DEPTH = 32;

/** Every way the packet may leave `chain` from its top (or from before rule `until`, exclusive). */
export function walkChain(ctx: Ctx, chain: Chain, until = Infinity, depth = 0): ChainWalk {
  const w = walkBits(ctx, chain, until, depth);
  return { ends: toSet(w.ends), sure: w.sure, mayDrop: w.mayDrop, uncertain: ctx.uncertain };
}

// the ends as bits while walking (a rule set of 10,000 rules is walked without allocating sets)
const ACCEPT = 1;
const DROP = 2;
const FALL = 4;
const UNKNOWN = 8;
const END_OF: [number, End][] = [
  [ACCEPT, 'accept'],
  [DROP, 'drop'],
  [FALL, 'fall'],
  [UNKNOWN, 'unknown'],
];
function toSet(bits: number): Set<End> {
  return new Set(END_OF.filter(([b]) => bits & b).map(([, e]) => e));
}
function only(bits: number): End | null {
  const one = END_OF.find(([b]) => b === bits);
  return one ? one[1] : null;
}

interface BitsWalk {
  ends: number;
  sure: { end: End; path: Step[] } | null;
  mayDrop: Step[] | null;
}

function walkBits(ctx: Ctx, chain: Chain, until: number, depth: number): BitsWalk {
  let ends = 0;
  let mayDrop: Step[] | null = null;
  // until a rule may have taken the packet away, the rules after it surely see it
  let certain = true;
  if (depth > MAX_DEPTH) {
    ctx.uncertain = true;
    return { ends: UNKNOWN, sure: null, mayDrop: null };
  }
  for (const rule of chain.rules) {
    if (rule.index >= until) break;
    const m = matchRule(rule, ctx);
    if (m === 'no') continue;
    const v = rule.verdict;
    if (v.kind === 'none' || v.kind === 'continue') {
      if (v.kind === 'none' && v.notrack) {
        if (m === 'yes' && certain) ctx.ct = 'untracked';
        else if (ctx.ct !== 'untracked') ctx.ct = null;
      }
      continue;
    }
    const step: Step = { chain: chain.name, rule };
    let taken: number;
    let sure: { end: End; path: Step[] } | null = null;
    let drops: Step[] | null = null;
    let comesBack = false;
    switch (v.kind) {
      case 'accept':
      case 'nat':
        taken = ACCEPT;
        break;
      case 'drop':
      case 'reject':
        taken = DROP;
        drops = [step];
        break;
      case 'return':
        taken = FALL;
        break;
      case 'jump':
      case 'goto': {
        const sub = ctx.table.chains.get(v.target);
        if (!sub) {
          // a chain that is not there: may do anything, or come back
          taken = UNKNOWN;
          comesBack = true;
          ctx.uncertain = true;
          break;
        }
        const w = walkBits(ctx, sub, Infinity, depth + 1);
        taken = w.ends;
        drops = w.mayDrop ? [step, ...w.mayDrop] : null;
        sure = w.sure ? { end: w.sure.end, path: [step, ...w.sure.path] } : null;
        // a jump comes back when the chain falls through; a goto falls from this chain instead
        if (v.kind === 'jump' && taken & FALL) {
          taken &= ~FALL;
          comesBack = true;
        }
        break;
      }
      case 'queue':
        // userspace decides
        taken = UNKNOWN;
        break;
      default:
        // a target this model does not know: may end the chain or go on
        taken = UNKNOWN;
        comesBack = true;
        ctx.uncertain = true;
    }
    ends |= taken;
    if (drops && !mayDrop) mayDrop = drops;
    if (m === 'yes' && !comesBack) {
      const one = only(taken);
      const end =
        v.kind === 'jump' || v.kind === 'goto'
          ? (sure ?? (one ? { end: one, path: [step] } : null))
          : { end: one!, path: [step] };
      return { ends, sure: end, mayDrop };
    }
    if (taken) certain = false;
  }
  return { ends: ends | FALL, sure: null, mayDrop };
}

/** The base chains a packet of this family meets at `hook`, in the order the kernel runs them. */
export function baseChains(rs: Ruleset, hook: Hook, pk: Packet): { table: Table; chain: Chain }[] {
  const fam = pk.family ?? 'ip';
  const families: Family[] =
    fam === 'ip' || fam === 'ip6' ? (hook === 'ingress' ? ['netdev', 'inet'] : [fam, 'inet']) : [fam];
  const out: { table: Table; chain: Chain; prio: number; order: number }[] = [];
  let order = 0;
  for (const table of rs.tables) {
    if (!families.includes(table.family)) continue;
    for (const chain of table.chains.values()) {
      const b = chain.base;
      if (!b || b.hook !== hook) continue;
      if (hook === 'ingress' && !(pk.iif && b.devices?.includes(pk.iif))) continue;
      out.push({ table, chain, prio: b.priority, order: order++ });
    }
  }
  return out.sort((a, b) => a.prio - b.prio || a.order - b.order);
}

function decision(table: Table, chain: Chain, path: Step[], policy: boolean): Decision {
  return {
    source: sourceLabel(table.source),
    family: table.family,
    table: table.name,
    chain: chain.name,
    path,
    policy,
  };
}

/** One base chain: its verdict for the packet, with what decided it. `ct` carries the conntrack
 *  state from chain to chain (a notrack in raw prerouting makes it untracked). */
export function evaluateBaseChain(table: Table, chain: Chain, pk: Packet, ct: { state: string | null }): ChainResult {
  const ctx: Ctx = { pk, ct: ct.state, table, uncertain: false };
  const w = walkChain(ctx, chain);
  ct.state = ctx.ct;
  const policy = chain.base?.policy ?? null;
  if (policy === null) ctx.uncertain = true;
  const ends = new Set(w.ends);
  if (ends.delete('fall')) ends.add(policy === 'drop' ? 'drop' : 'accept');
  const prio = chain.base?.priority ?? 0;
  const sureEnd = w.sure ? (w.sure.end === 'fall' ? (policy === 'drop' ? 'drop' : 'accept') : w.sure.end) : null;
  const policyDecides = !w.sure || w.sure.end === 'fall';
  if (ends.size === 1 && ends.has('drop')) {
    const path = w.sure && sureEnd === 'drop' && !policyDecides ? w.sure.path : (w.mayDrop ?? []);
    return {
      decision: decision(table, chain, path, path.length === 0),
      priority: prio,
      verdict: 'drop',
      uncertain: ctx.uncertain,
    };
  }
  if (ends.has('drop') || ends.has('unknown')) {
    const path = w.mayDrop ?? [];
    return {
      decision: decision(table, chain, path, path.length === 0 && policy === 'drop'),
      priority: prio,
      verdict: 'maybe-drop',
      uncertain: ctx.uncertain,
    };
  }
  return {
    decision: decision(table, chain, w.sure && !policyDecides ? w.sure.path : [], policyDecides),
    priority: prio,
    verdict: 'accept',
    uncertain: ctx.uncertain,
  };
}

/** The packet through every hook of its path. */
export function evaluate(rs: Ruleset, pk: Packet): PacketResult {
  const hooks: HookResult[] = [];
  const ct = { state: pk.ct ?? null };
  let maybe: Decision | null = null;
  let uncertain = false;
  for (const hook of pk.path) {
    const chains: ChainResult[] = [];
    let verdict: HookResult['verdict'] = 'accept';
    let by: Decision | null = null;
    for (const { table, chain } of baseChains(rs, hook, pk)) {
      // nat chains see only a connection's first packet; untracked packets never
      if (chain.base?.type === 'nat' && ct.state !== null && ct.state !== 'new') continue;
      const r = evaluateBaseChain(table, chain, pk, ct);
      chains.push(r);
      if (r.uncertain) uncertain = true;
      if (r.verdict === 'drop') {
        verdict = 'drop';
        by = r.decision;
        break;
      }
      if (r.verdict === 'maybe-drop' && verdict === 'accept') {
        verdict = 'maybe-drop';
        by = r.decision;
      }
    }
    const h: HookResult = { hook, verdict, by, uncertain: chains.some((c) => c.uncertain), chains };
    hooks.push(h);
    if (verdict === 'drop') return { verdict: 'drop', by, hooks, uncertain };
    if (verdict === 'maybe-drop' && !maybe) maybe = by;
  }
  return { verdict: maybe ? 'maybe-drop' : 'accept', by: maybe, hooks, uncertain };
}

/** The packet through one chain, stopping before rule `until`: how it may leave, for questions
 *  about one chain (is a rule reached? what surely catches its traffic first?). */
export function walk(table: Table, chain: Chain, pk: Packet, until = Infinity): ChainWalk {
  return walkChain({ pk, ct: pk.ct ?? null, table, uncertain: false }, chain, until);
}

/** One line for evidence: `"reject with icmpx admin-prohibited" (nftables, inet firewalld
 *  filter_INPUT via filter_INPUT_ZONES → filter_IN_public)`. */
export function describe(d: Decision): string {
  const last = d.path[d.path.length - 1];
  const chains = d.path.slice(1).map((s) => s.chain);
  const via = chains.length ? ` via ${[...new Set(chains)].join(' → ')}` : '';
  const what = last ? `"${last.rule.text}"` : `the policy drop of ${d.chain}`;
  const family = d.source.startsWith('iptables') ? '' : `${d.family} `;
  return `${what} (${d.source}, ${family}${d.table} ${d.chain}${via})`;
}
