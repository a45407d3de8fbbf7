// Python's ast.literal_eval for the values of INI inventories, as Ansible's ini plugin uses it:
// numbers, strings, True/False/None, lists, tuples, dicts. Anything that is not a valid literal
// stays the original string (Ansible catches the SyntaxError/ValueError and keeps the text).

class NotLiteral extends Error {}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  ws(): void {
    while (this.i < this.s.length && /[ \t]/.test(this.s[this.i]!)) this.i++;
  }

  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) throw new NotLiteral();
    if (c === '[') return this.seq('[', ']');
    if (c === '(') return this.seq('(', ')');
    if (c === '{') return this.dict();
    if (c === "'" || c === '"') return this.strings();
    if (c === '-' || c === '+') {
      this.i++;
      this.ws();
      const v = this.number();
      return c === '-' ? -v : v;
    }
    if (/[0-9.]/.test(c)) return this.number();
    const m = /^[A-Za-z_]\w*/.exec(this.s.slice(this.i));
    if (m) {
      this.i += m[0].length;
      if (m[0] === 'True') return true;
      if (m[0] === 'False') return false;
      if (m[0] === 'None') return null;
    }
    throw new NotLiteral();
  }

  number(): number {
    const rest = this.s.slice(this.i);
    const m =
      /^0[xX](?:_?[0-9a-fA-F])+/.exec(rest) ??
      /^0[oO](?:_?[0-7])+/.exec(rest) ??
      /^0[bB](?:_?[01])+/.exec(rest) ??
      /^(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?/.exec(rest) ??
      /^\d(?:_?\d)*\.(?:[eE][+-]?\d(?:_?\d)*)?/.exec(rest) ??
      /^\d(?:_?\d)*[eE][+-]?\d(?:_?\d)*/.exec(rest) ??
      /^\d(?:_?\d)*/.exec(rest);
    if (!m) throw new NotLiteral();
    const t = m[0].replace(/_/g, '');
    this.i += m[0].length;
    if (/^[0-9]/.test(rest.slice(m[0].length))) throw new NotLiteral();
    if (/^0[xX]/.test(t)) return parseInt(t.slice(2), 16);
    if (/^0[oO]/.test(t)) return parseInt(t.slice(2), 8);
    if (/^0[bB]/.test(t)) return parseInt(t.slice(2), 2);
    // Python 3 rejects decimal integers with leading zeros ("0123"), but "0" and "00" are fine.
    if (/^0\d+$/.test(t) && !/^0+$/.test(t)) throw new NotLiteral();
    return Number(t);
  }

  /** One or more adjacent string literals, concatenated as Python does. */
  strings(): string {
    let out = '';
    let any = false;
    for (;;) {
      this.ws();
      const m = /^[rRuUbB]{0,2}(?=['"])/.exec(this.s.slice(this.i));
      const c = this.s[this.i + (m ? m[0].length : 0)];
      if (!any && c !== "'" && c !== '"') throw new NotLiteral();
      if (c !== "'" && c !== '"') break;
      const raw = m ? /r/i.test(m[0]) : false;
      this.i += m ? m[0].length : 0;
      out += this.string(raw);
      any = true;
    }
    return out;
  }

  string(raw: boolean): string {
    const q = this.s[this.i]!;
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const end = triple ? q.repeat(3) : q;
    this.i += end.length;
    let out = '';
    while (this.i < this.s.length) {
      if (this.s.startsWith(end, this.i)) {
        this.i += end.length;
        return out;
      }
      const c = this.s[this.i]!;
      if (c === '\\' && this.i + 1 < this.s.length) {
        const n = this.s[this.i + 1]!;
        if (raw) {
          out += c + n;
          this.i += 2;
          continue;
        }
        const simple: Record<string, string> = {
          n: '\n',
          t: '\t',
          r: '\r',
          '\\': '\\',
          "'": "'",
          '"': '"',
          a: '\x07',
          b: '\b',
          f: '\f',
          v: '\v',
          '0': '\0',
          '\n': '',
        };
        if (n in simple) {
          out += simple[n];
          this.i += 2;
        } else if (n === 'x' && /^[0-9a-fA-F]{2}/.test(this.s.slice(this.i + 2))) {
          out += String.fromCharCode(parseInt(this.s.slice(this.i + 2, this.i + 4), 16));
          this.i += 4;
        } else if (n === 'u' && /^[0-9a-fA-F]{4}/.test(this.s.slice(this.i + 2))) {
          out += String.fromCharCode(parseInt(this.s.slice(this.i + 2, this.i + 6), 16));
          this.i += 6;
        } else {
          out += c + n; // unknown escapes are kept, as in Python
          this.i += 2;
        }
        continue;
      }
      if (!triple && c === '\n') throw new NotLiteral();
      out += c;
      this.i++;
    }
    throw new NotLiteral();
  }

  seq(open: string, close: string): unknown[] {
    this.i++;
    const out: unknown[] = [];
    let sawComma = false;
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        // "(1)" is just 1 in Python; "(1,)" is a tuple.
        if (open === '(' && out.length === 1 && !sawComma) return out[0] as unknown[];
        return out;
      }
      out.push(this.value());
      this.ws();
      if (this.s[this.i] === ',') {
        this.i++;
        sawComma = true;
      } else if (this.s[this.i] !== close) throw new NotLiteral();
    }
  }

  dict(): Record<string, unknown> | unknown[] {
    this.i++;
    const out: Record<string, unknown> = {};
    const set: unknown[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return set.length ? set : out;
      }
      const k = this.value();
      this.ws();
      if (this.s[this.i] === ':') {
        if (set.length) throw new NotLiteral();
        this.i++;
        out[String(k)] = this.value();
      } else {
        if (Object.keys(out).length) throw new NotLiteral();
        set.push(k);
      }
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') throw new NotLiteral();
    }
  }
}

export function literalEval(text: string): unknown {
  const p = new Parser(text);
  try {
    const v = p.value();
    p.ws();
    if (p.i !== text.length) return text;
    if (typeof v === 'number' && !Number.isFinite(v)) return text;
    return v;
  } catch {
    return text;
  }
}
