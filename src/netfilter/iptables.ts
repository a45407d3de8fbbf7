// iptables-save (legacy or nft backend) in the kernel's model: each table a `ip` family table, its
// built-in chains base chains at the priorities iptables registers them with (raw -300, mangle
// -150, nat dstnat -100 / srcnat 100, filter 0, security 50), each rule's options as matches and
// its target as the verdict. Options this model does not know stay as unknown matches. Pure.
import type { IptablesChainLine, IptablesRule } from '../types.js';
import type { Hook, Match, Rule, Ruleset, Table, Verdict } from './model.js';
import { chainOf, newTable, protoName } from './model.js';
import { parsePortSpec } from './values.js';

const BUILTIN: Record<string, Partial<Record<string, { hook: Hook; priority: number; type: string }>>> = {
  raw: {
    PREROUTING: { hook: 'prerouting', priority: -300, type: 'filter' },
    OUTPUT: { hook: 'output', priority: -300, type: 'filter' },
  },
  mangle: {
    PREROUTING: { hook: 'prerouting', priority: -150, type: 'filter' },
    INPUT: { hook: 'input', priority: -150, type: 'filter' },
    FORWARD: { hook: 'forward', priority: -150, type: 'filter' },
    OUTPUT: { hook: 'output', priority: -150, type: 'route' },
    POSTROUTING: { hook: 'postrouting', priority: -150, type: 'filter' },
  },
  nat: {
    PREROUTING: { hook: 'prerouting', priority: -100, type: 'nat' },
    INPUT: { hook: 'input', priority: 100, type: 'nat' },
    OUTPUT: { hook: 'output', priority: -100, type: 'nat' },
    POSTROUTING: { hook: 'postrouting', priority: 100, type: 'nat' },
  },
  filter: {
    INPUT: { hook: 'input', priority: 0, type: 'filter' },
    FORWARD: { hook: 'forward', priority: 0, type: 'filter' },
    OUTPUT: { hook: 'output', priority: 0, type: 'filter' },
  },
  security: {
    INPUT: { hook: 'input', priority: 50, type: 'filter' },
    FORWARD: { hook: 'forward', priority: 50, type: 'filter' },
    OUTPUT: { hook: 'output', priority: 50, type: 'filter' },
  },
};

// targets that let the packet go on to the next rule
const GOES_ON = new Set([
  'LOG',
  'NFLOG',
  'ULOG',
  'MARK',
  'CONNMARK',
  'TRACE',
  'AUDIT',
  'CHECKSUM',
  'TCPMSS',
  'DSCP',
  'TOS',
  'TTL',
  'HL',
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
const NAT = new Set(['DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'NETMAP']);

/** The target (and its options) of a rule as a verdict. */
function verdictOf(target: string | null, goto: boolean, opts: string[], chains: ReadonlySet<string>): Verdict {
  if (!target) return { kind: 'none' };
  if (goto) return { kind: 'goto', target };
  switch (target) {
    case 'ACCEPT':
      return { kind: 'accept' };
    case 'DROP':
      return { kind: 'drop' };
    case 'REJECT': {
      const i = opts.indexOf('--reject-with');
      return { kind: 'reject', with: i >= 0 ? (opts[i + 1] ?? null) : null };
    }
    case 'RETURN':
      return { kind: 'return' };
    case 'QUEUE':
    case 'NFQUEUE':
      return { kind: 'queue' };
    case 'NOTRACK':
      return { kind: 'none', notrack: true };
    case 'CT':
      return { kind: 'none', notrack: opts.includes('--notrack') };
  }
  if (NAT.has(target)) return { kind: 'nat', action: target.toLowerCase() };
  if (GOES_ON.has(target)) return { kind: 'none' };
  if (chains.has(target)) return { kind: 'jump', target };
  return { kind: 'unknown', text: [target, ...opts].join(' ') };
}

/** The value of a multi-word option and how many words it takes. */
function optionWords(w: string[], i: number): number {
  let n = 0;
  while (i + 1 + n < w.length && !w[i + 1 + n]!.startsWith('-') && w[i + 1 + n] !== '!') n++;
  return n;
}

/** An option this model does not read, as an unknown match with its text. */
function unknownOption(w: string[], i: number, n: number, neg: boolean, module: string | null): Match {
  const text = [neg ? '!' : '', w[i], ...w.slice(i + 1, i + 1 + n)].filter(Boolean).join(' ');
  return { kind: 'unknown', text: module ? `-m ${module} ${text}` : text };
}

/** One iptables-save rule line as matches + verdict. */
export function translateRule(line: string, index: number, chains: ReadonlySet<string>): Rule {
  const w = ruleWords(line);
  const matches: Match[] = [];
  let comment: string | undefined;
  let target: string | null = null;
  let goto = false;
  let opts: string[] = [];
  let module: string | null = null;
  for (let i = 2; i < w.length; i++) {
    let neg = false;
    if (w[i] === '!') {
      neg = true;
      i++;
    }
    const opt = w[i];
    if (opt === undefined) break;
    if (opt === '-j' || opt === '--jump' || opt === '-g' || opt === '--goto') {
      target = w[i + 1] ?? null;
      goto = opt === '-g' || opt === '--goto';
      opts = w.slice(i + 2);
      break;
    }
    if (opt === '-m' || opt === '--match') {
      module = w[i + 1] ?? null;
      i++;
      continue;
    }
    const n = optionWords(w, i);
    const val = n ? w[i + 1]! : undefined;
    const from = i;
    i += n;
    if (val === undefined) {
      matches.push(unknownOption(w, from, n, neg, module));
      continue;
    }
    switch (opt) {
      case '--comment':
        comment = val;
        break;
      case '-p':
      case '--protocol':
        matches.push({ kind: 'l4proto', neg, protos: [protoName(val)] });
        break;
      case '-s':
      case '--source':
      case '-d':
      case '--destination':
        matches.push({
          kind: opt.startsWith('-s') || opt === '--source' ? 'saddr' : 'daddr',
          neg,
          addrs: val.split(','),
        });
        break;
      case '-i':
      case '--in-interface':
      case '-o':
      case '--out-interface':
        matches.push({ kind: opt === '-i' || opt === '--in-interface' ? 'iif' : 'oif', neg, names: [val] });
        break;
      case '--dport':
      case '--destination-port':
      case '--dports':
      case '--destination-ports':
      case '--sport':
      case '--source-port':
      case '--sports':
      case '--source-ports': {
        const ranges = parsePortSpec(val);
        if (!ranges) matches.push(unknownOption(w, from, n, neg, module));
        else matches.push({ kind: opt.startsWith('--d') ? 'dport' : 'sport', neg, ranges });
        break;
      }
      case '--ctstate':
      case '--state':
        matches.push({ kind: 'ct', neg, states: val.toLowerCase().split(',') });
        break;
      case '--dst-type':
      case '--src-type':
        matches.push({
          kind: 'addrtype',
          neg,
          dir: opt === '--dst-type' ? 'dst' : 'src',
          types: val.toLowerCase().split(','),
        });
        break;
      case '--mark': {
        const [v, m] = val.split('/');
        const value = Number(v);
        const mask = m === undefined ? 0xffffffff : Number(m);
        if (module === 'mark' && Number.isFinite(value) && Number.isFinite(mask))
          matches.push({ kind: 'mark', neg, value, mask });
        else matches.push(unknownOption(w, from, n, neg, module));
        break;
      }
      case '--match-set':
        matches.push({ kind: 'ipset', neg, name: val });
        break;
      default:
        matches.push(unknownOption(w, from, n, neg, module));
    }
  }
  return {
    index,
    text: line,
    matches,
    verdict: verdictOf(target, goto, opts, chains),
    ...(comment !== undefined ? { comment } : {}),
  };
}

/** iptables rules (one backend or both) as tables; `chains` are the chain lines of iptables-save
 *  (policies and empty user chains), when read. */
export function fromIptables(rules: readonly IptablesRule[], chains: readonly IptablesChainLine[] = []): Ruleset {
  const tables = new Map<string, Table>();
  const tableOf = (backend: 'legacy' | 'nft', name: string) => {
    const key = `${backend} ${name}`;
    let t = tables.get(key);
    if (!t) {
      t = newTable('ip', name, { kind: 'iptables', backend });
      tables.set(key, t);
    }
    return t;
  };
  const known = new Map<string, Set<string>>();
  const knownOf = (backend: string, table: string) => {
    const k = `${backend} ${table}`;
    let s = known.get(k);
    if (!s) known.set(k, (s = new Set()));
    return s;
  };
  for (const c of chains) knownOf(c.backend, c.table).add(c.chain);
  for (const r of rules) knownOf(r.backend, r.table).add(r.chain);
  const base = (t: Table, name: string) => {
    const c = chainOf(t, name);
    const b = BUILTIN[t.name]?.[name];
    if (b && !c.base) c.base = { ...b, policy: null };
    return c;
  };
  for (const c of chains) {
    const chain = base(tableOf(c.backend, c.table), c.chain);
    if (chain.base && c.policy) chain.base.policy = c.policy === 'DROP' ? 'drop' : 'accept';
  }
  for (const r of rules) {
    const t = tableOf(r.backend, r.table);
    const chain = base(t, r.chain);
    chain.rules.push(translateRule(r.line, chain.rules.length, knownOf(r.backend, r.table)));
  }
  return { tables: [...tables.values()] };
}

const cache = new WeakMap<readonly IptablesRule[], Ruleset>();

/** fromIptables, once per rules array (checks and diagnoses ask many questions of one node's rules). */
export function iptablesModel(rules: readonly IptablesRule[], chains: readonly IptablesChainLine[] = []): Ruleset {
  let rs = cache.get(rules);
  if (!rs) cache.set(rules, (rs = fromIptables(rules, chains)));
  return rs;
}

/** Split an iptables-save rule line into words, honouring double quotes as iptables-save writes them. */
export function ruleWords(line: string): string[] {
  // most rules have no quotes: plain words
  if (!line.includes('"')) return line.split(/[ \t]+/).filter((x) => x !== '');
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
