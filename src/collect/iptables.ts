// iptables-save output -> rules. Handles both backends' output, comments, negations, the
// "-m udp --dport" module form and quoted comments. Pure; never throws.
import type { IptablesRule, NodeFacts, ParseError, Parsed } from '../types.js';
import { isParseError } from '../types.js';
import type { Reader } from './reader.js';
import { firstLine } from '../errors.js';
import { ipv4ToInt, isIPv4, parseCidr } from '../inventory/validate.js';

/** Split an iptables-save rule line into words, honouring double quotes as iptables-save writes them. */
export function ruleWords(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inQ = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (inQ) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === '"') inQ = false;
      else cur += c;
    } else if (c === '"') {
      inQ = true;
      has = true;
    } else if (c === ' ' || c === '\t') {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has || cur) out.push(cur);
  return out;
}

function stripHost(addr: string): string {
  return addr.replace(/\/32$/, '').replace(/\/128$/, '');
}

export function parseIptablesSave(text: string, backend: 'legacy' | 'nft'): Parsed<IptablesRule[]> {
  if (typeof text !== 'string') return { parseError: 'iptables-save: no output' };
  const rules: IptablesRule[] = [];
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
    if (line.startsWith(':') || line === 'COMMIT') continue;
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
      const v = (x: string | undefined) => (x === undefined ? null : (neg ? '!' : '') + x);
      switch (opt) {
        case '-p':
        case '--protocol':
          rule.proto = v(val);
          i++;
          break;
        case '-s':
        case '--source':
          rule.src = v(val && stripHost(val));
          i++;
          break;
        case '-d':
        case '--destination':
          rule.dst = v(val && stripHost(val));
          i++;
          break;
        case '--sport':
        case '--source-port':
          rule.sport = v(val);
          i++;
          break;
        case '--dport':
        case '--destination-port':
          rule.dport = v(val);
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
  return rules;
}

/** Both backends' rules: iptables-legacy-save only where legacy tables exist (it prints nothing
 *  otherwise, and each process costs), iptables-nft-save where installed, plain iptables-save on
 *  systems that have neither name. */
export const iptablesReader: Reader<'iptables'> = {
  key: 'iptables',
  script: () =>
    [
      'if command -v iptables-legacy-save >/dev/null 2>&1 && read -r t </proc/net/ip_tables_names 2>/dev/null; then echo "@@iptables legacy"; iptables-legacy-save 2>&1; echo "@@rc $?"; fi',
      'if command -v iptables-nft-save >/dev/null 2>&1; then echo "@@iptables nft"; iptables-nft-save 2>&1; echo "@@rc $?"; fi',
      'if ! command -v iptables-legacy-save >/dev/null 2>&1 && ! command -v iptables-nft-save >/dev/null 2>&1; then echo "@@iptables auto"; iptables-save 2>&1; echo "@@rc $?"; fi',
    ].join('\n'),
  parse(sections): NodeFacts['iptables'] {
    const ipt = sections.filter((s) => s.name === 'iptables');
    if (!ipt.length) return { parseError: 'iptables-save: no output' };
    const rules: IptablesRule[] = [];
    const backends: ('legacy' | 'nft')[] = [];
    let err: ParseError | null = null;
    for (const s of ipt) {
      if (s.code !== 0) {
        err ??= { parseError: `iptables-${s.arg}-save failed (exit ${s.code}): ${firstLine(s.body.trim())}` };
        continue;
      }
      let backend: 'legacy' | 'nft' = s.arg === 'legacy' ? 'legacy' : 'nft';
      if (s.arg === 'auto') backend = /\(legacy\)/.test(s.body) ? 'legacy' : 'nft';
      const r = parseIptablesSave(s.body, backend);
      if (isParseError(r)) {
        err ??= r;
        continue;
      }
      if (r.length || /^\*/m.test(s.body)) backends.push(backend);
      rules.push(...r);
    }
    return err && !backends.length ? err : { backends, rules };
  },
};

/** Is the IPv4 address `ip` in an iptables address match (`10.0.0.0/8`, `10.1.2.3`)? null when
 *  either cannot be judged (IPv6, a malformed spec). */
export function inCidr(ip: string, spec: string): boolean | null {
  const c = parseCidr(spec.includes('/') ? spec : `${spec}/32`);
  if (!c || c.family !== 4 || !isIPv4(ip)) return null;
  const size = 2 ** (32 - c.prefix);
  return Math.floor(ipv4ToInt(ip) / size) === Math.floor(ipv4ToInt(c.address) / size);
}

/** Is `port` in a port match (`53`, `1:1024`, multiport `53,853`)? null when it cannot be read. */
export function portIn(port: number, spec: string): boolean | null {
  let any = false;
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?::(\d+))?$/.exec(part);
    if (!m) return null;
    if (port >= Number(m[1]) && port <= Number(m[2] ?? m[1])) any = true;
  }
  return any;
}
