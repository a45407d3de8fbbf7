// iptables-save output -> rules. Handles both backends' output, comments, negations, the
// "-m udp --dport" module form and quoted comments. Pure; never throws.
import type { IptablesChainLine, IptablesRule, NodeFacts, ParseError, Parsed } from '../types.js';
import { isParseError } from '../types.js';
import type { Reader } from './reader.js';
import { firstLine } from '../errors.js';
import { failureText } from './sections.js';
import { ruleWords } from '../netfilter/iptables.js';

function stripHost(addr: string): string {
  return addr.replace(/\/32$/, '').replace(/\/128$/, '');
}

/** An option's value with iptables-save's `!` in front when negated. */
function negated(neg: boolean, x: string | undefined): string | null {
  return x === undefined ? null : (neg ? '!' : '') + x;
}

export function parseIptablesSave(text: string, backend: 'legacy' | 'nft'): Parsed<IptablesRule[]> {
  const r = scanIptablesSave(text, backend);
  return isParseError(r) ? r : r.rules;
}

/** The rules and the chain lines (policies, empty user chains) of iptables-save output. */
export function scanIptablesSave(
  text: string,
  backend: 'legacy' | 'nft',
): Parsed<{ rules: IptablesRule[]; chains: IptablesChainLine[] }> {
  if (typeof text !== 'string') return { parseError: 'iptables-save: no output' };
  const rules: IptablesRule[] = [];
  const chains: IptablesChainLine[] = [];
  let table: string | null = null;
  const counts = new Map<string, number>();
  let sawTable = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      sawTable = true;
      continue;
    }
    if (line === 'COMMIT') continue;
    if (line.startsWith(':')) {
      const m = /^:(\S+)\s+(\S+)/.exec(line);
      if (m && table)
        chains.push({ backend, table, chain: m[1]!, policy: m[2] === 'ACCEPT' || m[2] === 'DROP' ? m[2] : null });
      continue;
    }
    if (!line.startsWith('-A ')) {
      if (line.startsWith('[')) continue; // counters form
      return { parseError: `iptables-save (${backend}): unexpected line "${line.slice(0, 80)}"` };
    }
    if (!table) return { parseError: `iptables-save (${backend}): rule before any *table line` };
    const w = ruleWords(line);
    const chain = w[1] ?? '';
    const key = `${table}/${chain}`;
    const index = counts.get(key) ?? 0;
    counts.set(key, index + 1);
    const rule: IptablesRule = {
      backend,
      table,
      chain,
      index,
      line,
      proto: null,
      src: null,
      dst: null,
      sport: null,
      dport: null,
      target: null,
      comment: null,
    };
    for (let i = 2; i < w.length; i++) {
      const neg = w[i] === '!';
      if (neg) i++;
      const opt = w[i];
      const val = w[i + 1];
      switch (opt) {
        case '-p':
        case '--protocol':
          rule.proto = negated(neg, val);
          i++;
          break;
        case '-s':
        case '--source':
          rule.src = negated(neg, val && stripHost(val));
          i++;
          break;
        case '-d':
        case '--destination':
          rule.dst = negated(neg, val && stripHost(val));
          i++;
          break;
        case '--sport':
        case '--source-port':
          rule.sport = negated(neg, val);
          i++;
          break;
        case '--dport':
        case '--destination-port':
          rule.dport = negated(neg, val);
          i++;
          break;
        case '-j':
        case '--jump':
          rule.target = val ?? null;
          i++;
          break;
        case '-g':
        case '--goto':
          rule.target = val ?? null;
          i++;
          break;
        case '--comment':
          rule.comment = val ?? null;
          i++;
          break;
        default:
          break;
      }
    }
    rules.push(rule);
  }
  if (!sawTable && text.trim() && rules.length === 0 && !/^#/m.test(text))
    return { parseError: `iptables-save (${backend}): output has no tables` };
  return { rules, chains };
}

/** Both backends' rules: iptables-legacy-save only where legacy tables exist (it prints nothing
 *  otherwise, and each process costs), iptables-nft-save where installed, plain iptables-save on
 *  systems that have neither name. */
export const iptablesReader: Reader<'iptables'> = {
  key: 'iptables',
  sections: ['iptables'],
  script: () =>
    [
      'if command -v iptables-legacy-save >/dev/null 2>&1 && read -r t </proc/net/ip_tables_names 2>/dev/null; then echo "@@iptables legacy"; ksv_run iptables-legacy-save; fi',
      'if command -v iptables-nft-save >/dev/null 2>&1; then echo "@@iptables nft"; ksv_run iptables-nft-save; fi',
      'if ! command -v iptables-legacy-save >/dev/null 2>&1 && ! command -v iptables-nft-save >/dev/null 2>&1; then echo "@@iptables auto"; ksv_run iptables-save; fi',
    ].join('\n'),
  parse(sections): NodeFacts['iptables'] {
    const ipt = sections.filter((s) => s.name === 'iptables');
    if (!ipt.length) return { parseError: 'iptables-save: no output' };
    const rules: IptablesRule[] = [];
    const chains: IptablesChainLine[] = [];
    const backends: ('legacy' | 'nft')[] = [];
    let err: ParseError | null = null;
    for (const s of ipt) {
      if (s.code !== 0) {
        err ??= { parseError: `iptables-${s.arg}-save failed (exit ${s.code}): ${firstLine(failureText(s))}` };
        continue;
      }
      let backend: 'legacy' | 'nft' = s.arg === 'legacy' ? 'legacy' : 'nft';
      if (s.arg === 'auto') backend = /\(legacy\)/.test(s.body) ? 'legacy' : 'nft';
      const r = scanIptablesSave(s.body, backend);
      if (isParseError(r)) {
        err ??= r;
        continue;
      }
      if (r.rules.length || /^\*/m.test(s.body)) backends.push(backend);
      rules.push(...r.rules);
      chains.push(...r.chains);
    }
    // a backend that could not be read leaves the ruleset unknown: judging node-cache's rules on the
    // other backend alone would call them missing when they live in the unread one
    return err ?? { backends, rules, chains };
  },
};
