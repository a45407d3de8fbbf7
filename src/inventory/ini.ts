// Ansible's INI inventory format (ansible/plugins/inventory/ini.py), rule for rule:
// - `[group]`, `[group:children]`, `[group:vars]`; lines before any section are hosts of `ungrouped`
// - host lines are split like shlex (quotes, `#` comments); their values go through Python's
//   literal_eval, so `x=5` is an int and `x="5"` is one too (the quotes are gone before eval)
// - `:vars` lines are split on the first `=` only, NOT shlex: quotes stay for literal_eval, and
//   a trailing `# text` is part of the value
import { InventoryError } from '../errors.js';
import { expandHostPattern, PatternError } from './hostpattern.js';
import { literalEval } from './literal.js';
import type { RawInventory } from './raw.js';

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;

/** shlex.split(s, comments=True) in POSIX mode. */
export function shlexSplit(s: string): string[] {
  const out: string[] = [];
  let tok = '';
  let inTok = false;
  let i = 0;
  while (i < s.length) {
    const ch = s[i]!;
    if (/\s/.test(ch)) {
      if (inTok) out.push(tok);
      tok = '';
      inTok = false;
      i++;
    } else if (ch === '#') {
      break; // comment to end of line, also in the middle of a word (shlex checks commenters first)
    } else if (ch === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) throw new Error('No closing quotation');
      tok += s.slice(i + 1, j);
      inTok = true;
      i = j + 1;
    } else if (ch === '"') {
      let j = i + 1;
      let closed = false;
      while (j < s.length) {
        const c = s[j]!;
        if (c === '\\' && j + 1 < s.length && '\\"$`\n'.includes(s[j + 1]!)) {
          tok += s[j + 1];
          j += 2;
        } else if (c === '"') {
          closed = true;
          j++;
          break;
        } else {
          tok += c;
          j++;
        }
      }
      if (!closed) throw new Error('No closing quotation');
      inTok = true;
      i = j;
    } else if (ch === '\\') {
      if (i + 1 >= s.length) throw new Error('No escaped character');
      tok += s[i + 1];
      inTok = true;
      i += 2;
    } else {
      tok += ch;
      inTok = true;
      i++;
    }
  }
  if (inTok) out.push(tok);
  return out;
}

export function parseIni(text: string, file: string, inv: RawInventory): void {
  let group = 'ungrouped';
  let state: 'hosts' | 'children' | 'vars' = 'hosts';
  // Groups named in [x:vars] must be defined somewhere in the file (Ansible checks at the end).
  const pendingVars = new Map<string, number>();
  const pendingChildren = new Map<string, { line: number; parent: string }>();
  const defined = new Set<string>(['all', 'ungrouped']);
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, idx) => {
    const lineNo = idx + 1;
    const where = `${file}:${lineNo}`;
    const line = rawLine.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    if (line.startsWith('[')) {
      const m = SECTION.exec(line);
      if (!m) throw new InventoryError(`${where}: invalid section header "${line}"`);
      group = m[1]!;
      const kind = m[2] ?? 'hosts';
      if (kind !== 'hosts' && kind !== 'children' && kind !== 'vars')
        throw new InventoryError(
          `${where}: section [${line.slice(1, -1)}] has bad type "${kind}" (expected hosts, children or vars)`,
        );
      state = kind;
      // Ansible adds the group at its first header, even a [g:vars] one, but a [g:vars] group
      // must still be defined (as [g], [g:children] or a child) somewhere in the file.
      if (state === 'vars') {
        if (!inv.groups.has(group)) pendingVars.set(group, lineNo);
      } else {
        defined.add(group);
        pendingVars.delete(group);
        pendingChildren.delete(group);
      }
      inv.addGroup(group);
      return;
    }
    if (state === 'hosts') {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (e) {
        throw new InventoryError(`${where}: ${(e as Error).message} in host line`);
      }
      if (!tokens.length) return;
      let expanded: { hosts: string[]; port: number | null };
      try {
        expanded = expandHostPattern(tokens[0]!);
      } catch (e) {
        throw new InventoryError(`${where}: ${(e as PatternError).message}`);
      }
      const vars: Record<string, unknown> = {};
      for (const t of tokens.slice(1)) {
        const eq = t.indexOf('=');
        if (eq < 0) throw new InventoryError(`${where}: expected key=value host variable assignment, got: ${t}`);
        vars[t.slice(0, eq)] = literalEval(t.slice(eq + 1));
      }
      if (expanded.port !== null) vars.ansible_port = expanded.port;
      for (const h of expanded.hosts) Object.assign(inv.addHost(h, group), vars);
    } else if (state === 'children') {
      let tokens: string[];
      try {
        tokens = shlexSplit(line);
      } catch (e) {
        throw new InventoryError(`${where}: ${(e as Error).message}`);
      }
      if (!tokens.length) return;
      if (tokens.length > 1)
        throw new InventoryError(`${where}: expected a single group name in [${group}:children], got "${line}"`);
      // A child must be defined as a section somewhere in the file (Ansible checks at the end).
      if (!defined.has(tokens[0]!) && !pendingChildren.has(tokens[0]!))
        pendingChildren.set(tokens[0]!, { line: lineNo, parent: group });
      inv.addChild(group, tokens[0]!);
    } else {
      const eq = line.indexOf('=');
      if (eq < 0) throw new InventoryError(`${where}: expected key=value in [${group}:vars], got: ${line}`);
      inv.setGroupVar(group, line.slice(0, eq).trim(), literalEval(line.slice(eq + 1).trim()));
    }
  });
  for (const [g, { line, parent }] of pendingChildren) {
    if (!defined.has(g))
      throw new InventoryError(`${file}:${line}: section [${parent}:children] includes undefined group "${g}"`);
  }
  for (const [g, lineNo] of pendingVars) {
    if (!defined.has(g))
      throw new InventoryError(`${file}:${lineNo}: section [${g}:vars] is for an undefined group "${g}"`);
  }
}
