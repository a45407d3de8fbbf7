// What a node's rules surely do to one packet addressed to the node itself (a pod's query to
// NodeLocalDNS, a pod's reply to the node, the overlay's encapsulation from another node): asked of
// the netfilter model, which walks the prerouting and input hooks' base chains in priority order
// through every jump with three-valued matching (a mark, an ipset, physdev… may match). "Dropped"
// is only said when every way through ends in a DROP or REJECT, with the rule that does it and the
// jumps that lead there: a Felix chain whose policy rules test marks is "may", never a guess. Pure.
import type { IptablesChainLine, IptablesRule, NodeFacts } from '../types.js';
import { iptablesModel } from '../netfilter/iptables.js';
import {
  baseChains,
  evaluate,
  evaluateBaseChain,
  type Decision,
  type Packet as NfPacket,
} from '../netfilter/evaluate.js';
import type { Ruleset } from '../netfilter/model.js';
import { firewallOf, nodeRuleset, zoneOf } from '../netfilter/node.js';

export interface Packet {
  /** udp, tcp, or another IP protocol by name (ipencap) */
  proto: string;
  src: string | null;
  dst: string;
  dport: number | null;
  sport: number | null;
  /** the interface it arrives on; null when not known */
  inIface: string | null;
  /** conntrack state it has in filter INPUT, when known (a node-cache NOTRACK makes it UNTRACKED) */
  state?: string | null;
  /** the destination is an address of the node (addrtype LOCAL) */
  dstLocal?: boolean;
}

/** A rule on the way to the verdict, as evidence prints it. */
export interface RuleRef {
  /** legacy, nft (the iptables backends) or nftables (a native table) */
  backend: string;
  table: string;
  chain: string;
  line: string;
  /** the chain it jumps to, or its verdict */
  target: string | null;
}

export interface Verdict {
  /** the packet is surely dropped: by this rule (after the jumps before it) */
  rules: RuleRef[];
  table: string;
  chain: string;
  /** the model's account of it (source, family, path) */
  decision: Decision;
}

function toModel(pk: Packet, path: NfPacket['path']): NfPacket {
  return {
    path,
    l4proto: pk.proto,
    saddr: pk.src,
    daddr: pk.dst,
    dport: pk.dport,
    sport: pk.sport,
    iif: pk.inIface,
    ct: pk.state ? pk.state.toLowerCase() : null,
    localDaddr: pk.dstLocal ?? null,
    // addressed to the node itself: no service DNAT on the way
    dnat: false,
  };
}

function rulesetOf(rules: IptablesRule[] | Ruleset, chains?: readonly IptablesChainLine[]): Ruleset {
  return Array.isArray(rules) ? iptablesModel(rules, chains) : (rules as Ruleset);
}

function verdictOf(d: Decision): Verdict {
  const backend = d.source.startsWith('iptables-') ? d.source.slice('iptables-'.length) : d.source;
  const refs: RuleRef[] = d.path.map((s) => ({
    backend,
    table: d.table,
    chain: s.chain,
    line: s.rule.text,
    target:
      s.rule.verdict.kind === 'jump' || s.rule.verdict.kind === 'goto'
        ? s.rule.verdict.target
        : s.rule.verdict.kind.toUpperCase(),
  }));
  if (!refs.length)
    refs.push({ backend, table: d.table, chain: d.chain, line: `policy drop of ${d.chain}`, target: 'DROP' });
  return { rules: refs, table: d.table, chain: d.chain, decision: d };
}

/** The conntrack state a new packet has when the filter chains see it: UNTRACKED when the raw
 *  prerouting chains surely notrack it (node-cache's rules for NodeLocalDNS), NEW when surely
 *  not, null when unknown. */
export function stateAfterRaw(rules: IptablesRule[] | Ruleset, pk: Packet): string | null {
  const rs = rulesetOf(rules);
  const mpk = toModel(pk, ['prerouting']);
  const ct = { state: 'new' as string | null };
  for (const { table, chain } of baseChains(rs, 'prerouting', mpk)) {
    // conntrack runs at priority -200: what comes before it decides whether the packet is tracked
    if ((chain.base?.priority ?? 0) >= -200) break;
    const r = evaluateBaseChain(table, chain, mpk, ct);
    if (r.verdict !== 'accept') return null;
  }
  return ct.state ? ct.state.toUpperCase() : null;
}

/** The rule that surely drops a packet to the node on its way through prerouting and input; null
 *  when it may pass. */
export function inputDrop(rules: IptablesRule[] | Ruleset, pk: Packet): Verdict | null {
  const r = evaluate(rulesetOf(rules), toModel(pk, ['prerouting', 'input']));
  return r.verdict === 'drop' && r.by ? verdictOf(r.by) : null;
}

/** The rule that surely drops DNS the node sends to `dst` (its own queries leave through output and
 *  postrouting; a service address may be DNATed on the way, so address matches may stay open). */
export function outputDrop(rules: Ruleset, proto: 'udp' | 'tcp', dst: string): Verdict | null {
  const r = evaluate(rules, {
    path: ['output', 'postrouting'],
    l4proto: proto,
    daddr: dst,
    dport: 53,
    sport: null,
    ct: 'new',
    localSaddr: true,
  });
  return r.verdict === 'drop' && r.by ? verdictOf(r.by) : null;
}

/** Evidence for a dropping rule: `node2: "<rule>" (nft, filter OUTPUT) drops udp/53 <what>`, with
 *  the firewall that owns it (firewalld with the zone, ufw, a native nftables table). */
export function dropEvidence(host: string, x: Verdict, what: string, iface: string | null = null): string[] {
  const last = x.rules[x.rules.length - 1]!;
  const d = x.decision;
  const via = d.path.length > 1 ? ` via ${[...new Set(d.path.slice(1).map((s) => s.chain))].join(' → ')}` : '';
  const out = [`${host}: "${last.line}" (${last.backend}, ${d.table} ${d.chain}${via}) drops ${what}`];
  const manager = firewallOf(d);
  if (manager) {
    const zone = manager === 'firewalld' ? zoneOf(d, iface) : null;
    out.push(
      `${host}: the rule is ${manager === 'nftables' ? `the native nftables table ${d.family} ${d.table}` : manager}'s${zone ? `: ${zone.why}` : ''}`,
    );
  }
  return out;
}

/** Evidence for the rules that surely drop `proto`/53 the node sends to these servers. */
export function outputDrops(
  facts: NodeFacts | undefined,
  host: string,
  proto: 'udp' | 'tcp',
  servers: string[],
): string[] {
  if (!facts) return [];
  const rs = nodeRuleset(facts).ruleset;
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of servers) {
    const x = outputDrop(rs, proto, s);
    if (!x) continue;
    const line = x.rules[x.rules.length - 1]!.line;
    if (seen.has(line)) continue;
    seen.add(line);
    out.push(...dropEvidence(host, x, `${proto}/53 leaving the node for ${s}`));
  }
  return out;
}
