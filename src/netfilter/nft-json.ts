// `nft -j list ruleset` (libnftables-json(5)) in the kernel's model: tables, sets and maps, chains
// with hook/priority/policy, rules as matches + verdict. Each rule is also rendered back as nft
// text for evidence. Expressions this model does not know become unknown matches. Pure; never
// throws: an unreadable listing is a ParseError.
import type { ParseError } from '../types.js';
import type { Family, Hook, Match, NamedSet, Rule, Ruleset, Table, Value, Verdict } from './model.js';
import { FAMILIES, HOOKS, chainOf, newTable } from './model.js';
import { buildMatch, impliedBy, resolveVmap, type Key } from './matches.js';

type J = Record<string, unknown>;
const isObj = (x: unknown): x is J => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A JSON expression as nft prints it (for rule text). */
export function exprText(e: unknown): string {
  // fib and exthdr print existence as missing/exists
  if (typeof e === 'boolean') return e ? 'exists' : 'missing';
  if (typeof e === 'string' || typeof e === 'number') return String(e);
  if (Array.isArray(e)) return e.map(exprText).join(', ');
  if (!isObj(e)) return '';
  const [k, v] = Object.entries(e)[0] ?? ['', null];
  const o = isObj(v) ? v : {};
  switch (k) {
    case 'meta':
      return ['iifname', 'oifname', 'iif', 'oif'].includes(String(o.key)) ? String(o.key) : `meta ${String(o.key)}`;
    case 'payload':
      return o.protocol
        ? `${String(o.protocol)} ${String(o.field)}`
        : `@${String(o.base)},${String(o.offset)},${String(o.len)}`;
    case 'ct':
      return `ct ${String(o.key)}`;
    case 'fib':
      return `fib ${((o.flags as string[]) ?? []).join(' . ')} ${String(o.result)}`;
    case 'set':
      return `{ ${(Array.isArray(v) ? v : [v]).map(exprText).join(', ')} }`;
    case 'prefix':
      return `${exprText(o.addr)}/${String(o.len)}`;
    case 'range':
      return (v as unknown[]).map(exprText).join('-');
    case 'concat':
      return (v as unknown[]).map(exprText).join(' . ');
    case 'elem':
      return exprText(o.val);
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
      return k;
    case 'jump':
    case 'goto':
      return `${k} ${String(o.target)}`;
    default:
      return `${k}${v === null ? '' : ` ${JSON.stringify(v)}`}`;
  }
}

/** The key a match's left side is, or null for what this model does not read. */
function keyOf(left: unknown): Key | null {
  if (!isObj(left)) return null;
  if (isObj(left.meta)) {
    const k = String(left.meta.key);
    if (k === 'iifname' || k === 'iif') return 'iifname';
    if (k === 'oifname' || k === 'oif') return 'oifname';
    if (k === 'l4proto' || k === 'nfproto' || k === 'mark') return `meta ${k}` as Key;
    return null;
  }
  if (isObj(left.payload)) {
    const p = String(left.payload.protocol);
    const f = String(left.payload.field);
    if ((p === 'ip' || p === 'ip6') && (f === 'saddr' || f === 'daddr')) return `${p} ${f}` as Key;
    if (p === 'ip' && f === 'protocol') return 'ip protocol';
    if (p === 'ip6' && f === 'nexthdr') return 'ip6 nexthdr';
    if (['tcp', 'udp', 'sctp', 'th', 'udplite', 'dccp'].includes(p) && (f === 'sport' || f === 'dport'))
      return `${p} ${f}` as Key;
    return null;
  }
  if (isObj(left.ct)) {
    const k = String(left.ct.key);
    return k === 'state' || k === 'status' ? (`ct ${k}` as Key) : null;
  }
  if (isObj(left.fib)) {
    const flags = (left.fib.flags as string[]) ?? [];
    if (left.fib.result === 'type' && flags.length === 1 && (flags[0] === 'daddr' || flags[0] === 'saddr'))
      return `fib ${flags[0]} type` as Key;
  }
  return null;
}

/** A right side as values, or a set's name (`@name`). */
function valuesOf(right: unknown): Value[] | string | null {
  if (typeof right === 'string' && right.startsWith('@')) return right.slice(1);
  if (typeof right === 'string' || typeof right === 'number') return [right];
  if (Array.isArray(right)) return right.every((x) => typeof x === 'string') ? (right as string[]) : null;
  if (!isObj(right)) return null;
  if (isObj(right.prefix)) return [{ prefix: [String(right.prefix.addr), Number(right.prefix.len)] }];
  if (Array.isArray(right.range)) return [{ range: [right.range[0] as string, right.range[1] as string] }];
  if ('set' in right) {
    const out: Value[] = [];
    for (const x of Array.isArray(right.set) ? right.set : [right.set]) {
      const v = valuesOf(isObj(x) && isObj(x.elem) ? x.elem.val : x);
      if (!Array.isArray(v)) return null;
      out.push(...v);
    }
    return out;
  }
  return null;
}

function verdictOf(k: string, v: unknown): Verdict | 'statement' | null {
  const o = isObj(v) ? v : {};
  switch (k) {
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
    case 'queue':
      return { kind: k };
    case 'reject':
      return { kind: 'reject', with: o.type ? `${String(o.type)}${o.expr ? ` ${String(o.expr)}` : ''}` : null };
    case 'jump':
    case 'goto':
      return { kind: k, target: String(o.target) };
    case 'dnat':
    case 'snat':
    case 'masquerade':
    case 'redirect':
      return { kind: 'nat', action: k };
    case 'notrack':
      return { kind: 'none', notrack: true };
    case 'counter':
    case 'log':
    case 'mangle':
    case 'comment':
    case 'quota':
    case 'meter':
    case 'set':
    case 'ct helper':
    case 'flow':
    case 'dup':
    case 'fwd':
      return 'statement';
    default:
      return null;
  }
}

interface Built {
  matches: Match[];
  verdict: Verdict;
  text: string[];
  counter?: { packets: number; bytes: number };
  /** a verdict map: one rule per element */
  vmap?: { key: Key | null; text: string; ref: unknown };
}

function buildRule(expr: unknown[], t: Table): Built {
  const out: Built = { matches: [], verdict: { kind: 'none' }, text: [] };
  for (const e of expr) {
    if (!isObj(e)) continue;
    const [k, v] = Object.entries(e)[0] ?? ['', null];
    if (k === 'match' && isObj(v)) {
      const op = String(v.op ?? '==');
      const mark = isObj(v.left) && isObj(v.left.meta) && v.left.meta.key === 'mark' && typeof v.right === 'number';
      const right = mark ? `0x${(v.right as number).toString(16).padStart(8, '0')}` : exprText(v.right);
      const text = `${exprText(v.left)}${op === '==' || op === 'in' ? '' : ` ${op}`} ${right}`;
      out.text.push(text);
      const key = keyOf(v.left);
      const vals = valuesOf(v.right);
      const m =
        key && vals !== null && (op === '==' || op === '!=' || op === 'in')
          ? buildMatch(key, op === '!=', vals, t)
          : null;
      const left = isObj(v.left) && isObj(v.left.payload) ? String(v.left.payload.protocol) : null;
      out.matches.push(...(m ?? [...(left ? impliedBy(left, t) : []), { kind: 'unknown' as const, text }]));
      continue;
    }
    if (k === 'vmap' && isObj(v)) {
      const text = `${exprText(v.key)} vmap ${exprText(v.data)}`;
      out.text.push(text);
      out.vmap = { key: keyOf(v.key), text, ref: v.data };
      continue;
    }
    if (k === 'counter' && isObj(v)) {
      out.counter = { packets: Number(v.packets ?? 0), bytes: Number(v.bytes ?? 0) };
      out.text.push(`counter packets ${out.counter.packets} bytes ${out.counter.bytes}`);
      continue;
    }
    const verdict = verdictOf(k, v);
    if (verdict === 'statement') {
      out.text.push(exprText(e));
      continue;
    }
    if (verdict === null) {
      // an expression this model does not know (limit, xt, meta set…): may match
      out.text.push(exprText(e));
      out.matches.push({ kind: 'unknown', text: exprText(e) });
      continue;
    }
    out.text.push(
      verdict.kind === 'reject'
        ? `reject${verdict.with ? ` with ${verdict.with}` : ''}`
        : verdict.kind === 'none'
          ? k
          : exprText(e),
    );
    if (verdict.kind === 'none') out.verdict = verdict;
    else out.verdict = verdict;
  }
  return out;
}

/** The rules a verdict map stands for, one per element (keys are distinct: at most one applies). */
export function expandVmap(base: Omit<Rule, 'verdict'>, key: Key | null, ref: unknown, t: Table): Rule[] {
  const entries = resolveVmap(
    ref,
    t,
    (x) => {
      if (!isObj(x)) return null;
      const [k, v] = Object.entries(x)[0] ?? ['', null];
      const vd = verdictOf(k, v);
      return vd && vd !== 'statement' ? vd : null;
    },
    valuesOf,
  );
  if (!entries)
    return [
      {
        ...base,
        matches: [...base.matches, { kind: 'unknown', text: 'vmap' }],
        verdict: { kind: 'unknown', text: 'vmap' },
      },
    ];
  return entries.map(({ values, verdict }) => {
    const m = key && values ? buildMatch(key, false, values, t) : null;
    return { ...base, matches: [...base.matches, ...(m ?? [{ kind: 'unknown' as const, text: 'vmap key' }])], verdict };
  });
}

/** `skip`: tables not to build (the copies of the tables iptables-nft-save printed: model.ts combine). */
export function parseNftJson(text: string, skip?: (family: Family, name: string) => boolean): Ruleset | ParseError {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { parseError: `nft -j list ruleset: not JSON (${(e as Error).message.split('\n')[0]})` };
  }
  if (!isObj(doc) || !Array.isArray(doc.nftables)) return { parseError: 'nft -j list ruleset: no "nftables" array' };
  const tables = new Map<string, Table>();
  const tableOf = (o: J): Table | null => {
    const family = String(o.family) as Family;
    const name = String(o.table ?? o.name);
    if (!FAMILIES.includes(family) || skip?.(family, name)) return null;
    const k = `${family} ${name}`;
    let t = tables.get(k);
    if (!t) tables.set(k, (t = newTable(family, name, { kind: 'nft', format: 'json' })));
    return t;
  };
  const pendingVmaps: { t: Table; chain: string; built: Built; base: Omit<Rule, 'verdict'> }[] = [];
  for (const item of doc.nftables) {
    if (!isObj(item)) continue;
    const [kind, o] = Object.entries(item)[0] ?? ['', null];
    if (!isObj(o)) continue;
    if (kind === 'table') {
      const family = String(o.family) as Family;
      tableOf({ family, table: o.name });
    } else if (kind === 'set' || kind === 'map') {
      const t = tableOf(o);
      if (!t) continue;
      const set: NamedSet = {
        name: String(o.name),
        type: Array.isArray(o.type) ? 'concat' : String(o.type),
        elements: [],
      };
      const elems = Array.isArray(o.elem) ? o.elem : o.elem === undefined ? [] : null;
      if (!elems || set.type === 'concat') set.elements = null;
      else if (kind === 'map') {
        set.data = [];
        for (const el of elems) {
          const [k, d] = Array.isArray(el) ? el : [el, null];
          const v = valuesOf(isObj(k) && isObj(k.elem) ? k.elem.val : k);
          if (!Array.isArray(v)) {
            set.elements = null;
            break;
          }
          set.elements!.push(v[0]!);
          const [dk, dv] = isObj(d) ? (Object.entries(d)[0] ?? ['', null]) : ['', null];
          const vd = verdictOf(dk, dv);
          set.data.push(vd && vd !== 'statement' ? vd : { kind: 'unknown', text: exprText(d) });
        }
      } else {
        for (const el of elems) {
          const v = valuesOf(isObj(el) && isObj(el.elem) ? el.elem.val : el);
          if (!Array.isArray(v)) {
            set.elements = null;
            break;
          }
          set.elements!.push(...v);
        }
      }
      t.sets.set(set.name, set);
    } else if (kind === 'chain') {
      const t = tableOf(o);
      if (!t) continue;
      const c = chainOf(t, String(o.name));
      if (o.hook && HOOKS.includes(o.hook as Hook)) {
        const prio = typeof o.prio === 'number' ? o.prio : Number(o.prio);
        c.base = {
          type: String(o.type ?? 'filter'),
          hook: o.hook as Hook,
          priority: Number.isFinite(prio) ? prio : 0,
          policy: o.policy === 'drop' ? 'drop' : 'accept',
          ...(o.dev ? { devices: Array.isArray(o.dev) ? o.dev.map(String) : [String(o.dev)] } : {}),
        };
      }
    } else if (kind === 'rule') {
      const t = tableOf(o);
      if (!t) continue;
      const c = chainOf(t, String(o.chain));
      const built = buildRule(Array.isArray(o.expr) ? o.expr : [], t);
      const comment = typeof o.comment === 'string' ? o.comment : undefined;
      const text = built.text.join(' ') + (comment ? ` comment "${comment}"` : '');
      const base: Omit<Rule, 'verdict'> = {
        index: c.rules.length,
        text,
        matches: built.matches,
        ...(typeof o.handle === 'number' ? { handle: o.handle } : {}),
        ...(comment ? { comment } : {}),
        ...(built.counter ? { counter: built.counter } : {}),
      };
      if (built.vmap) {
        // expanded below, once every set of the table is known
        const placeholder = { ...base, verdict: { kind: 'none' as const } };
        c.rules.push(placeholder);
        pendingVmaps.push({ t, chain: c.name, built, base });
      } else c.rules.push({ ...base, verdict: built.verdict });
    }
  }
  for (const p of pendingVmaps) {
    const c = p.t.chains.get(p.chain)!;
    const at = c.rules.findIndex((r) => r.index === p.base.index);
    const rules = expandVmap(p.base, p.built.vmap!.key, p.built.vmap!.ref, p.t);
    c.rules.splice(at, 1, ...rules);
  }
  return { tables: [...tables.values()] };
}
