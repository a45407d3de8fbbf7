// What a node's iptables rules surely do to one packet addressed to the node itself (a pod's query
// to NodeLocalDNS, a pod's reply to the node): it is walked through the hooks such a packet passes
// — raw PREROUTING, mangle PREROUTING, mangle INPUT, filter INPUT — with three-valued matching: a
// rule matches, does not, or may (a match this cannot judge: marks, sets, physdev…). "Dropped" is
// only said when every way through ends in a DROP or REJECT, with the rule that does it (and the
// jumps that lead there): a Felix chain whose policy rules test marks is "may", never a guess.
// Pure. Chain policies are not in the parsed rules: falling off a built-in chain is "may".
import type { IptablesRule } from '../types.js';
import { inCidr, portIn, ruleWords } from '../collect/iptables.js';

export interface Packet {
  proto: 'udp' | 'tcp';
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

type Tri = 'yes' | 'no' | 'maybe';
type End = 'drop' | 'accept' | 'fall' | 'unknown';

export interface Walk {
  /** every way the packet may leave the chain */
  ends: Set<End>;
  /** the rules leading to the first sure drop (the jumps, then the DROP/REJECT itself) */
  drop: IptablesRule[] | null;
}

const PROTO_NUM: Record<string, string> = { tcp: '6', udp: '17' };
// targets that let the packet go on to the next rule
const GOES_ON = new Set([
  'LOG',
  'NFLOG',
  'ULOG',
  'MARK',
  'CONNMARK',
  'NOTRACK',
  'CT',
  'TRACE',
  'AUDIT',
  'CHECKSUM',
  'TCPMSS',
  'DSCP',
  'TOS',
  'TTL',
  'SET',
  'CLASSIFY',
  'SECMARK',
  'CONNSECMARK',
  'IDLETIMER',
  'LED',
  'RATEEST',
  'HMARK',
  'TEE',
]);

const tri = (b: boolean | null): Tri => (b === null ? 'maybe' : b ? 'yes' : 'no');

/** Does the rule match the packet? Its target is returned with the verdict. */
export function ruleMatches(r: IptablesRule, pk: Packet): { match: Tri; target: string | null } {
  const w = ruleWords(r.line);
  let match: Tri = 'yes';
  let target: string | null = null;
  const and = (t: Tri) => {
    if (t === 'no' || match === 'no') match = 'no';
    else if (t === 'maybe') match = 'maybe';
  };
  for (let i = 2; i < w.length; i++) {
    let neg = false;
    if (w[i] === '!') {
      neg = true;
      i++;
    }
    const opt = w[i];
    const val = w[i + 1];
    const not = (t: Tri): Tri => (!neg || t === 'maybe' ? t : t === 'yes' ? 'no' : 'yes');
    if (opt === undefined) break;
    if (opt === '-j' || opt === '--jump' || opt === '-g' || opt === '--goto') {
      target = val ?? null;
      break;
    }
    if (opt === '-m' || opt === '--match') {
      i++;
      continue;
    }
    if (val === undefined) {
      and('maybe');
      continue;
    }
    i++;
    switch (opt) {
      case '--comment':
        break;
      case '-p':
      case '--protocol':
        and(
          not(tri(val === pk.proto || val === 'all' || val === '0' || (PROTO_NUM[val] ?? val) === PROTO_NUM[pk.proto])),
        );
        break;
      case '-s':
      case '--source':
        and(
          not(
            pk.src
              ? tri(
                  val
                    .split(',')
                    .map((x) => inCidr(pk.src!, x))
                    .reduce<boolean | null>(
                      (a, b) => (a === true || b === true ? true : a === null || b === null ? null : false),
                      false,
                    ),
                )
              : val === '0.0.0.0/0'
                ? 'yes'
                : 'maybe',
          ),
        );
        break;
      case '-d':
      case '--destination':
        and(
          not(
            tri(
              val
                .split(',')
                .map((x) => inCidr(pk.dst, x))
                .reduce<boolean | null>(
                  (a, b) => (a === true || b === true ? true : a === null || b === null ? null : false),
                  false,
                ),
            ),
          ),
        );
        break;
      case '-i':
      case '--in-interface':
        and(
          not(
            pk.inIface === null
              ? 'maybe'
              : tri(val === pk.inIface || (val.endsWith('+') && pk.inIface.startsWith(val.slice(0, -1)))),
          ),
        );
        break;
      case '--dport':
      case '--destination-port':
      case '--dports':
      case '--destination-ports':
        and(not(pk.dport === null ? 'maybe' : tri(portIn(pk.dport, val))));
        break;
      case '--sport':
      case '--source-port':
      case '--sports':
      case '--source-ports':
        and(not(pk.sport === null ? 'maybe' : tri(portIn(pk.sport, val))));
        break;
      case '--ctstate':
      case '--state': {
        const s = pk.state ?? null;
        and(not(s === null ? 'maybe' : tri(val.split(',').includes(s))));
        break;
      }
      case '--dst-type':
        and(
          not(
            pk.dstLocal === undefined
              ? 'maybe'
              : tri(val.split(',').includes('LOCAL') ? pk.dstLocal : val.split(',').includes('UNICAST') ? true : null),
          ),
        );
        break;
      default:
        and('maybe');
    }
  }
  return { match, target };
}

/** Every way a packet may leave `chain` from its top ("fall": off its end, or RETURN). */
export function walk(rules: IptablesRule[], table: string, chain: string, pk: Packet, depth = 0): Walk {
  if (depth > 8) return { ends: new Set(['unknown']), drop: null };
  const ends = new Set<End>();
  for (const r of rules.filter((x) => x.table === table && x.chain === chain).sort((a, b) => a.index - b.index)) {
    const { match, target } = ruleMatches(r, pk);
    if (match === 'no' || !target || GOES_ON.has(target)) continue;
    let taken: Set<End>;
    let via: IptablesRule[] | null = null;
    let comesBack = false;
    if (target === 'DROP' || target === 'REJECT') {
      taken = new Set(['drop']);
      via = [r];
    } else if (target === 'ACCEPT') taken = new Set(['accept']);
    else if (target === 'RETURN') taken = new Set(['fall']);
    else if (rules.some((x) => x.table === table && x.chain === target)) {
      const sub = walk(rules, table, target, pk, depth + 1);
      taken = new Set(sub.ends);
      via = sub.drop ? [r, ...sub.drop] : null;
      // a jump comes back when the chain falls through; a goto returns from this chain instead
      if (!/ (-g|--goto) /.test(` ${r.line} `) && taken.delete('fall')) comesBack = true;
    } else taken = new Set(['unknown']);
    for (const e of taken) ends.add(e);
    if (match === 'yes' && !comesBack) return { ends, drop: ends.size === 1 && ends.has('drop') ? via : null };
    // a rule that may not match, or a jump that may come back: the rules after it may see the packet
  }
  ends.add('fall');
  return { ends, drop: null };
}

const HOOKS: [string, string][] = [
  ['raw', 'PREROUTING'],
  ['mangle', 'PREROUTING'],
  ['mangle', 'INPUT'],
  ['filter', 'INPUT'],
];

export interface Verdict {
  /** the packet is surely dropped: by this rule (after the jumps before it) */
  rules: IptablesRule[];
  table: string;
  chain: string;
}

/** The conntrack state a new packet has in filter INPUT: UNTRACKED when raw PREROUTING surely
 *  NOTRACKs it (node-cache's rules for NodeLocalDNS), NEW when surely not, null when unknown. */
export function stateAfterRaw(rules: IptablesRule[], pk: Packet): string | null {
  for (const r of rules
    .filter((x) => x.table === 'raw' && x.chain === 'PREROUTING')
    .sort((a, b) => a.index - b.index)) {
    const { match, target } = ruleMatches(r, pk);
    if (match === 'no' || !target) continue;
    const notrack = target === 'NOTRACK' || (target === 'CT' && /--notrack/.test(r.line));
    if (match === 'maybe') {
      if (notrack || !GOES_ON.has(target)) return null;
      continue;
    }
    if (notrack) return 'UNTRACKED';
    if (target === 'ACCEPT' || target === 'DROP' || target === 'REJECT') return 'NEW';
    if (!GOES_ON.has(target)) return null;
  }
  return 'NEW';
}

/** The hook that surely drops a packet to the node, with the rule; null when it may pass. */
export function inputDrop(rules: IptablesRule[], pk: Packet): Verdict | null {
  for (const [table, chain] of HOOKS) {
    const w = walk(rules, table, chain, pk);
    if (w.ends.size === 1 && w.ends.has('drop') && w.drop) return { rules: w.drop, table, chain };
    // any other way out than accept or falling through: cannot tell what the next hooks see
    if (w.ends.has('unknown') || w.ends.has('drop')) return null;
  }
  return null;
}
