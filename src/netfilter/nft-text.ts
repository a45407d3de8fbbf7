// `nft list ruleset` text, for nodes whose nft has no JSON output: tables of every family, sets and
// verdict maps with their elements, chains with `type … hook … priority …; policy …;`, rules with
// the common matches (interfaces, addresses, ports, protocols, ct state/status, fib type, mark) and
// every verdict. What a rule holds beyond that is kept as an unknown match (it may match), so a
// rule is never lost. Pure; never throws.
import type { ParseError } from '../types.js';
import type { Family, Hook, Match, NamedSet, Rule, Ruleset, Table, Value, Verdict } from './model.js';
import { FAMILIES, HOOKS, chainOf, namedPriority, newTable } from './model.js';
import { KEYS, buildMatch, impliedBy, resolveVmap, type Key } from './matches.js';

type Tok = { t: 'w'; v: string } | { t: 's'; v: string } | { t: 'set'; items: Tok[][] };

/** Does this character end a word (space, brace, quote; a comma inside a group)? */
function ends(c: number, inGroup: boolean): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 123 || c === 125 || c === 34 || (inGroup && c === 44);
}

/** Words, quoted strings and `{ … }` groups (split at commas) of one statement. */
export function tokenize(line: string): Tok[] {
  let i = 0;
  const group = (close: string | null): Tok[][] => {
    const items: Tok[][] = [[]];
    while (i < line.length) {
      const c = line[i]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
      else if (close && c === close) {
        i++;
        break;
      } else if (c === ',' && close) {
        items.push([]);
        i++;
      } else if (c === '{') {
        i++;
        items[items.length - 1]!.push({ t: 'set', items: group('}').filter((x) => x.length) });
      } else if (c === '"') {
        let s = '';
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) i++;
          s += line[i++];
        }
        i++;
        items[items.length - 1]!.push({ t: 's', v: s });
      } else {
        // commas split a group's elements; outside a group they belong to the word (a flag list)
        const start = i;
        while (i < line.length && !ends(line.charCodeAt(i), close !== null)) i++;
        const s = line.slice(start, i);
        if (!s) {
          i++;
          continue;
        }
        items[items.length - 1]!.push({ t: 'w', v: s });
      }
    }
    return items;
  };
  return group(null)[0] ?? [];
}

const text = (t: Tok): string =>
  t.t === 'set' ? `{ ${t.items.map((x) => x.map(text).join(' ')).join(', ')} }` : t.t === 's' ? `"${t.v}"` : t.v;

/** One element or literal as a value ("198.18.0.0/16", "cali*", 53, 4789-4790). */
function value(toks: Tok[]): Value | null {
  if (toks.length !== 1 || toks[0]!.t === 'set') return null;
  const v = toks[0]!.v;
  if (toks[0]!.t === 's') return v;
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}

function values(tok: Tok): Value[] | string | null {
  if (tok.t === 'w' && tok.v.startsWith('@')) return tok.v.slice(1);
  if (tok.t === 'set') {
    const out: Value[] = [];
    for (const item of tok.items) {
      const v = value(item);
      if (v === null) return null;
      out.push(v);
    }
    return out;
  }
  // flag lists print as one word: ct state established,related
  if (tok.t === 'w' && tok.v.includes(',')) return tok.v.split(',');
  return [value([tok])!];
}

const VERDICTS = new Set(['accept', 'drop', 'reject', 'jump', 'goto', 'return', 'continue', 'queue']);
const NAT = new Set(['dnat', 'snat', 'masquerade', 'redirect']);
const STATEMENTS = new Set([
  'counter',
  'comment',
  'log',
  'notrack',
  'flow',
  'add',
  'update',
  'dup',
  'fwd',
  'limit',
  'quota',
]);
const OPS = new Set(['==', '!=', 'eq', 'ne']);
const ALIASES: Record<string, string> = {
  iif: 'iifname',
  oif: 'oifname',
  'meta iifname': 'iifname',
  'meta oifname': 'oifname',
  'meta iif': 'iifname',
  'meta oif': 'oifname',
  mark: 'meta mark',
  'meta protocol': 'meta nfproto-ethertype',
};

/** The key that starts at `i` and how many words it takes, or null. */
/** The keys by their first word, longest first (each as its words, and the key it names). */
const BY_FIRST = new Map<string, { words: string[]; key: Key }[]>();
for (const k of [...KEYS, ...Object.keys(ALIASES)]) {
  const words = k.split(' ');
  const list = BY_FIRST.get(words[0]!) ?? [];
  list.push({ words, key: (ALIASES[k] ?? k) as Key });
  BY_FIRST.set(
    words[0]!,
    list.sort((a, b) => b.words.length - a.words.length),
  );
}

function keyAt(toks: Tok[], i: number): { key: Key; n: number } | null {
  const t = toks[i];
  if (!t || t.t !== 'w') return null;
  const list = BY_FIRST.get(t.v);
  if (!list) return null;
  for (const { words, key } of list) {
    let ok = true;
    for (let k = 1; k < words.length && ok; k++) {
      const x = toks[i + k];
      ok = !!x && x.t === 'w' && x.v === words[k];
    }
    if (ok) return { key, n: words.length };
  }
  return null;
}

/** Does a verdict, a statement or (with `keys`) a match start at `i`? Not after a `.`: a word
 *  inside a concatenation (`fib saddr . mark . iif oif missing`) starts nothing. */
function startsSomething(toks: Tok[], i: number, keys = true): boolean {
  const t = toks[i];
  if (!t || t.t !== 'w') return false;
  const prev = toks[i - 1];
  if (prev?.t === 'w' && prev.v === '.') return false;
  return VERDICTS.has(t.v) || NAT.has(t.v) || STATEMENTS.has(t.v) || (keys && keyAt(toks, i) !== null);
}

function verdictFrom(toks: Tok[], i: number): { verdict: Verdict; n: number } | null {
  const w = toks[i]?.t === 'w' ? (toks[i] as { v: string }).v : null;
  if (!w) return null;
  switch (w) {
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
      return { verdict: { kind: w }, n: 1 };
    case 'jump':
    case 'goto': {
      const target = toks[i + 1];
      if (!target || target.t === 'set') return null;
      return { verdict: { kind: w, target: target.v }, n: 2 };
    }
    case 'reject': {
      if (toks[i + 1]?.t === 'w' && (toks[i + 1] as { v: string }).v === 'with') {
        const rest = toks.slice(i + 2).map(text);
        return { verdict: { kind: 'reject', with: rest.join(' ') || null }, n: toks.length - i };
      }
      return { verdict: { kind: 'reject', with: null }, n: 1 };
    }
    case 'queue':
      return { verdict: { kind: 'queue' }, n: toks.length - i };
  }
  if (NAT.has(w)) return { verdict: { kind: 'nat', action: w }, n: toks.length - i };
  return null;
}

interface Parsed {
  matches: Match[];
  verdict: Verdict;
  counter?: { packets: number; bytes: number };
  comment?: string;
  vmap?: { key: Key | null; ref: Tok };
}

/** One rule line as matches + verdict; what is not understood becomes unknown matches. */
export function parseRuleLine(line: string, t: Table): Parsed {
  const toks = tokenize(line);
  const out: Parsed = { matches: [], verdict: { kind: 'none' } };
  let i = 0;
  const unknownUntilNext = () => {
    const start = i;
    const first = toks[i]!;
    if (first.t === 'w') out.matches.push(...impliedBy(first.v, t));
    // a fib expression ends in words that look like keys (oif, type): it runs to the verdict
    const keys = !(first.t === 'w' && first.v === 'fib');
    i++;
    while (i < toks.length && !startsSomething(toks, i, keys)) i++;
    out.matches.push({ kind: 'unknown', text: toks.slice(start, i).map(text).join(' ') });
  };
  while (i < toks.length) {
    const tok = toks[i]!;
    const w = tok.t === 'w' ? tok.v : null;
    if (w === 'counter') {
      const p = toks[i + 1]?.t === 'w' && (toks[i + 1] as { v: string }).v === 'packets';
      if (p) {
        out.counter = {
          packets: Number((toks[i + 2] as { v: string })?.v),
          bytes: Number((toks[i + 4] as { v: string })?.v),
        };
        i += 5;
      } else i++;
      continue;
    }
    if (w === 'comment' && toks[i + 1]?.t === 's') {
      out.comment = (toks[i + 1] as { v: string }).v;
      i += 2;
      continue;
    }
    if (w === 'notrack') {
      out.verdict = { kind: 'none', notrack: true };
      i++;
      continue;
    }
    if (w === 'log' || w === 'flow' || w === 'add' || w === 'update' || w === 'dup' || w === 'fwd') {
      // statements that let the packet go on
      i++;
      while (i < toks.length && !startsSomething(toks, i)) i++;
      continue;
    }
    const v = verdictFrom(toks, i);
    if (v) {
      out.verdict = v.verdict;
      i += v.n;
      continue;
    }
    const k = keyAt(toks, i);
    if (k) {
      let j = i + k.n;
      const next = toks[j];
      if (next?.t === 'w' && next.v === 'set') {
        // meta mark set …: a statement
        i = j + 1;
        while (i < toks.length && !startsSomething(toks, i)) i++;
        continue;
      }
      if (next?.t === 'w' && next.v === 'vmap' && toks[j + 1]) {
        out.vmap = { key: k.key, ref: toks[j + 1]! };
        i = j + 2;
        continue;
      }
      let neg = false;
      if (next?.t === 'w' && OPS.has(next.v)) {
        neg = next.v === '!=' || next.v === 'ne';
        j++;
      }
      const valTok = toks[j];
      const vals = valTok ? values(valTok) : null;
      const after = toks[j + 1];
      // a concatenation, a bitwise operation or a comparison: not read
      const plain = !(after?.t === 'w' && ['.', '&', '|', '^', '<', '>', '<=', '>=', 'and', 'or'].includes(after.v));
      const m = vals !== null && plain ? buildMatch(k.key, neg, vals, t) : null;
      if (m) {
        out.matches.push(...m);
        i = j + 1;
        continue;
      }
    }
    if (w === 'vmap' || (tok.t !== 'w' && !k)) {
      unknownUntilNext();
      continue;
    }
    unknownUntilNext();
  }
  return out;
}

function vmapRules(base: Omit<Rule, 'verdict'>, p: Parsed, t: Table): Rule[] {
  const ref = p.vmap!.ref;
  const entries = resolveVmap(
    ref.t === 'w' ? ref.v : ref.t === 'set' ? { set: ref.items.map(splitEntry) } : null,
    t,
    (x) => {
      const toks = x as Tok[];
      return verdictFrom(toks, 0)?.verdict ?? null;
    },
    (x) => values({ t: 'set', items: [x as Tok[]] }),
  );
  if (!entries)
    return [
      {
        ...base,
        matches: [...base.matches, { kind: 'unknown', text: 'vmap' }],
        verdict: { kind: 'unknown', text: 'vmap' },
      },
    ];
  return entries.map(({ values: vals, verdict }) => {
    const m = p.vmap!.key && vals ? buildMatch(p.vmap!.key, false, vals, t) : null;
    return { ...base, matches: [...base.matches, ...(m ?? [{ kind: 'unknown' as const, text: 'vmap key' }])], verdict };
  });
}

/** `established : accept` → [key tokens, verdict tokens] */
function splitEntry(item: Tok[]): [Tok[], Tok[]] | null {
  const at = item.findIndex((x) => x.t === 'w' && x.v === ':');
  return at < 0 ? null : [item.slice(0, at), item.slice(at + 1)];
}

/** The header of a base chain: `type filter hook input priority filter + 10; policy accept;` */
function chainHeader(
  line: string,
  family: Family,
): { type: string; hook: Hook; priority: number; policy: 'accept' | 'drop'; devices?: string[] } | null {
  const m = /\btype\s+(\S+)\s+hook\s+(\S+)(.*?)\bpriority\s+([^;]+);/.exec(line);
  if (!m || !HOOKS.includes(m[2] as Hook)) return null;
  const p = m[4]!.trim();
  let priority: number | null = null;
  const expr = /^([a-z]+|-?\d+)\s*(?:([+-])\s*(\d+))?$/.exec(p);
  if (expr) {
    const base = /^-?\d+$/.test(expr[1]!) ? Number(expr[1]) : namedPriority(expr[1]!, family);
    if (base !== null) priority = base + (expr[2] ? (expr[2] === '-' ? -1 : 1) * Number(expr[3]) : 0);
  }
  const devs = /\bdevices?\s*=?\s*(\{[^}]*\}|"[^"]*"|\S+)/.exec(m[3] ?? '');
  const policy = /\bpolicy\s+(accept|drop)\b/.exec(line)?.[1] as 'accept' | 'drop' | undefined;
  return {
    type: m[1]!,
    hook: m[2] as Hook,
    priority: priority ?? 0,
    policy: policy ?? 'accept',
    ...(devs
      ? {
          devices: devs[1]!
            .replace(/[{}"]/g, '')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        }
      : {}),
  };
}

/** Lines joined into statements: a `{` left open inside a statement continues it on the next line. */
function statements(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || (line.startsWith('#') && !cur)) continue;
    const opensBlock =
      !cur &&
      /^(table|chain|set|map|flowtable|counter|quota|limit|ct\s+(?:helper|timeout|expectation)|secmark|synproxy|tunnel)\s+\S+(\s+\S+)?\s*\{$/.test(
        line,
      );
    if (opensBlock || (!cur && line === '}')) {
      out.push(line);
      continue;
    }
    cur = cur ? `${cur} ${line}` : line;
    let inQ = false;
    for (const c of line) {
      if (c === '"') inQ = !inQ;
      else if (!inQ && c === '{') depth++;
      else if (!inQ && c === '}') depth--;
    }
    if (depth <= 0) {
      out.push(cur);
      cur = '';
      depth = 0;
    }
  }
  if (cur) out.push(cur);
  return out;
}

export function parseNftText(input: string): Ruleset | ParseError {
  if (typeof input !== 'string') return { parseError: 'nft list ruleset: no output' };
  const tables: Table[] = [];
  let table: Table | null = null;
  let block:
    | { kind: 'chain'; name: string }
    | { kind: 'set' | 'map'; set: NamedSet; lines: string[] }
    | { kind: 'other' }
    | null = null;
  const pending: { t: Table; chain: string; index: number; p: Parsed; text: string }[] = [];
  for (const st of statements(input)) {
    if (!table) {
      const m = /^table\s+(\S+)\s+(\S+)\s*\{$/.exec(st) ?? /^table\s+(\S+)\s*\{$/.exec(st);
      if (!m) return { parseError: `nft list ruleset: unexpected line "${st.slice(0, 80)}"` };
      const [family, name] = m[2] ? [m[1]!, m[2]] : ['ip', m[1]!];
      if (!FAMILIES.includes(family as Family)) return { parseError: `nft list ruleset: unknown family "${family}"` };
      table = newTable(family as Family, name.replace(/"/g, ''), { kind: 'nft', format: 'text' });
      tables.push(table);
      continue;
    }
    if (st === '}') {
      if (block) {
        if (block.kind === 'set' || block.kind === 'map') finishSet(block.set, block.lines.join(' ; '), block.kind);
        block = null;
      } else table = null;
      continue;
    }
    if (!block) {
      const m = /^(chain|set|map)\s+(\S+)\s*\{$/.exec(st);
      if (m && m[1] === 'chain') {
        chainOf(table, m[2]!.replace(/"/g, ''));
        block = { kind: 'chain', name: m[2]!.replace(/"/g, '') };
      } else if (m) {
        const set: NamedSet = { name: m[2]!.replace(/"/g, ''), type: '', elements: [] };
        table.sets.set(set.name, set);
        block = { kind: m[1] as 'set' | 'map', set, lines: [] };
      } else if (/\{$/.test(st)) block = { kind: 'other' };
      // table flags, comments: nothing to model
      continue;
    }
    if (block.kind === 'other') continue;
    if (block.kind === 'set' || block.kind === 'map') {
      block.lines.push(st);
      continue;
    }
    const chain = chainOf(table, (block as { name: string }).name);
    if (/^type\s/.test(st)) {
      const h = chainHeader(st, table.family);
      if (h) chain.base = h;
      continue;
    }
    if (/^(comment|devices|policy)\b/.test(st) && !chain.rules.length) continue;
    const p = parseRuleLine(st, table);
    const rule: Rule = {
      index: chain.rules.length,
      text: st,
      matches: p.matches,
      verdict: p.verdict,
      ...(p.comment ? { comment: p.comment } : {}),
      ...(p.counter ? { counter: p.counter } : {}),
    };
    chain.rules.push(rule);
    if (p.vmap) pending.push({ t: table, chain: chain.name, index: rule.index, p, text: st });
  }
  if (table) return { parseError: 'nft list ruleset: output ends inside a table' };
  for (const x of pending) {
    const c = x.t.chains.get(x.chain)!;
    const at = c.rules.findIndex((r) => r.index === x.index);
    const { verdict: _v, ...base } = c.rules[at]!;
    c.rules.splice(at, 1, ...vmapRules(base, x.p, x.t));
  }
  return { tables };
}

/** A set's or map's body (`type …; flags …; elements = { … }`) into its elements. */
function finishSet(set: NamedSet, body: string, kind: 'set' | 'map'): void {
  const type = /\btype\s+([^;]+?)\s*(?:;|$)/.exec(body)?.[1] ?? '';
  set.type = type.includes(' . ') ? 'concat' : type;
  const at = body.indexOf('elements = ');
  if (at < 0) return;
  const toks = tokenize(body.slice(at + 'elements = '.length));
  const group = toks[0];
  if (!group || group.t !== 'set' || set.type === 'concat') {
    set.elements = null;
    return;
  }
  const elements: Value[] = [];
  const data: Verdict[] = [];
  for (const item of group.items) {
    const entry: [Tok[], Tok[] | null] | null = kind === 'map' ? splitEntry(item) : [item, null];
    const v = entry ? value(entry[0]) : null;
    if (v === null) {
      set.elements = null;
      return;
    }
    elements.push(v);
    if (kind === 'map')
      data.push(verdictFrom(entry![1]!, 0)?.verdict ?? { kind: 'unknown', text: entry![1]!.map(text).join(' ') });
  }
  set.elements = elements;
  if (kind === 'map') set.data = data;
}
