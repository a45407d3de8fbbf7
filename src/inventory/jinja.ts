// A very small Jinja: the subset Kubespray inventories use in the variables the validator reads
// (variables, default(), bool, int, string, lower, upper, trim and lookup('env', …)).
import { InventoryError } from '../errors.js';
import { isSecretKey } from './listing.js';
import type { Vars } from '../types.js';

/** Jinja the resolver cannot evaluate: `variable` holds the text, `expr` is the part at fault
 *  (as written, `{{ … }}` included); `undefinedName` is set when the cause is an undefined
 *  variable (Ansible: "'x' is undefined") rather than Jinja outside the subset. */
export class Unresolvable extends Error {
  constructor(
    readonly variable: string,
    readonly expr: string,
    readonly undefinedName: string | null = null,
  ) {
    super(expr);
  }
}

const LITERAL = /^(?:'([^']*)'|"([^"]*)"|(-?\d+(?:\.\d+)?)|(true|false|True|False)|(none|None))$/;
const IDENT = /^[A-Za-z_]\w*$/;
const FILTERS = new Set(['default', 'd', 'bool', 'int', 'string', 'lower', 'upper', 'trim']);

function literal(s: string): { ok: true; value: unknown } | { ok: false } {
  const m = LITERAL.exec(s.trim());
  if (!m) return { ok: false };
  if (m[1] !== undefined) return { ok: true, value: m[1] };
  if (m[2] !== undefined) return { ok: true, value: m[2] };
  if (m[3] !== undefined) return { ok: true, value: Number(m[3]) };
  if (m[4] !== undefined) return { ok: true, value: /^t/i.test(m[4]) };
  return { ok: true, value: null };
}

/** Split at `sep` outside quotes and parentheses. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const c of s) {
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === sep && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur.trim());
  return out;
}

/** Python's truth value, which `default(x, true)` tests. */
function pyFalsy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 0;
  if (v && typeof v === 'object') return Object.keys(v).length === 0;
  return !v;
}

/** The expression as one short line, for messages. */
export function showExpr(expr: string): string {
  const one = expr.replace(/\s+/g, ' ').trim();
  return one.length > 120 ? `${one.slice(0, 117)}...` : one;
}

/** Resolves what Kubespray inventories put in variables: `{{ var }}` (also inside text), literals,
 *  `lookup('env', 'NAME')`, the filters `default(x[, true])`/`d`, `bool`, `int`, `string`,
 *  `lower`, `upper`, `trim`. Undefined variables and anything else throw Unresolvable. */
export class VarResolver {
  private readonly stack: string[] = [];
  constructor(
    private readonly vars: Vars,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  has(name: string): boolean {
    return name in this.vars;
  }

  get(name: string): unknown {
    if (this.stack.includes(name))
      throw new InventoryError(`variable ${name} refers to itself (${[...this.stack, name].join(' -> ')})`);
    if (!(name in this.vars)) return undefined;
    this.stack.push(name);
    try {
      return this.render(this.vars[name], name);
    } finally {
      this.stack.pop();
    }
  }

  private render(v: unknown, name: string): unknown {
    if (typeof v !== 'string' || (!v.includes('{{') && !v.includes('{%'))) return v;
    if (v.includes('{%')) throw new Unresolvable(name, v);
    const whole = /^\s*\{\{(.*?)\}\}\s*$/s.exec(v);
    if (whole && !whole[1]!.includes('}}')) return this.expr(whole[1]!, name);
    return v.replace(/\{\{(.*?)\}\}/gs, (_m, e: string) => {
      const r = this.expr(e, name);
      return r === null || r === undefined ? '' : typeof r === 'object' ? JSON.stringify(r) : String(r);
    });
  }

  /** A filter's argument or the head of an expression: a literal, a variable or an env lookup. */
  private operand(s: string, name: string, whole: string): unknown {
    const lit = literal(s);
    if (lit.ok) return lit.value;
    if (IDENT.test(s)) {
      if (!(s in this.vars)) throw new Unresolvable(name, whole, s);
      return this.get(s);
    }
    const lookup = /^lookup\s*\((.*)\)$/s.exec(s);
    if (lookup) {
      const [plugin, ...terms] = splitTop(lookup[1]!, ',');
      const p = literal(plugin ?? '');
      if (p.ok && p.value === 'env' && terms.length && terms.every((x) => literal(x).ok || IDENT.test(x))) {
        // ansible.builtin.env: an unset variable is '' (its `default`), several terms are joined with ','
        return terms.map((x) => this.env[String(this.operand(x, name, whole))] ?? '').join(',');
      }
    }
    throw new Unresolvable(name, whole);
  }

  private expr(e: string, name: string): unknown {
    const whole = `{{${e}}}`;
    const [head, ...filters] = splitTop(e, '|');
    const parsed = filters.map((f) => {
      const m = /^([A-Za-z_]\w*)\s*(?:\((.*)\))?$/s.exec(f);
      if (!m || !FILTERS.has(m[1]!) || (m[2] !== undefined && !/^(default|d)$/.test(m[1]!)))
        throw new Unresolvable(name, whole);
      return { name: m[1]!, args: m[2] === undefined || !m[2].trim() ? [] : splitTop(m[2], ',') };
    });
    if (!head) throw new Unresolvable(name, whole);
    // An undefined variable, here or in what it refers to, is undefined to default() as in Ansible.
    const st: { value: unknown; undef: Unresolvable | null } = { value: undefined, undef: null };
    const attempt = (s: string) => {
      try {
        st.value = this.operand(s, name, whole);
        st.undef = null;
      } catch (x) {
        if (!(x instanceof Unresolvable) || x.undefinedName === null) throw x;
        st.undef = x;
      }
    };
    attempt(head);
    for (const f of parsed) {
      if (f.name === 'default' || f.name === 'd') {
        const boolean =
          f.args[1] !== undefined && literal(f.args[1]).ok && (literal(f.args[1]) as { value: unknown }).value === true;
        if (st.undef || (boolean && pyFalsy(st.value))) attempt(f.args[0] ?? "''");
        continue;
      }
      if (st.undef) throw st.undef;
      const v = st.value;
      if (f.name === 'bool')
        st.value = typeof v === 'string' ? /^(true|yes|on|1|y|t)$/i.test(v.trim()) : v === 1 || v === true;
      else if (f.name === 'int') st.value = Number.parseInt(String(v), 10) || 0;
      else if (f.name === 'string') st.value = v === undefined || v === null ? '' : String(v);
      else if (f.name === 'lower') st.value = String(v).toLowerCase();
      else if (f.name === 'upper') st.value = String(v).toUpperCase();
      else if (f.name === 'trim') st.value = String(v).trim();
    }
    if (st.undef) throw st.undef;
    return st.value;
  }
}

/** One line saying why `top` cannot be evaluated; a secret's expression is not shown. */
export function explainUnresolvable(e: Unresolvable, top: string): string {
  const where = e.variable !== top ? ` (in ${e.variable})` : '';
  const secret = isSecretKey(top) || isSecretKey(e.variable);
  if (e.undefinedName !== null)
    return `${top}: ${e.undefinedName} is undefined${secret ? '' : ` in "${showExpr(e.expr)}"`}${where}`;
  if (secret) return `${top}: its value is Jinja this tool does not evaluate${where} (not shown: a secret)`;
  return `${top}: "${showExpr(e.expr)}"${where} is Jinja this tool does not evaluate (it evaluates variables, default(), bool, int, string, lower, upper, trim and lookup('env', …))`;
}
