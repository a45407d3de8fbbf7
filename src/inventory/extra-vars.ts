// -e / --extra-vars as ansible-playbook reads them: `k=v k2=v2` (values are strings),
// a JSON or YAML mapping `{"k": 1}`, or `@file.yml` (YAML or JSON). Later ones win.
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { Vars } from '../types.js';
import { shlexSplit } from './ini.js';
import { parseYaml } from './yaml.js';

export function parseExtraVars(args: string[]): Vars {
  let out: Vars = {};
  for (const arg of args) {
    const a = arg.trim();
    if (!a) continue;
    if (a.startsWith('@')) {
      const file = a.slice(1);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new UsageError(`-e @${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      const data = parseYaml(text, file);
      if (data === null || typeof data !== 'object' || Array.isArray(data))
        throw new UsageError(`-e @${file}: must hold a mapping of variables`);
      out = { ...out, ...(data as Vars) };
    } else if (a.startsWith('{') || a.startsWith('[')) {
      const data = parseYaml(a, '-e');
      if (data === null || typeof data !== 'object' || Array.isArray(data))
        throw new UsageError(`-e ${a.slice(0, 40)}: must be a mapping of variables`);
      out = { ...out, ...(data as Vars) };
    } else {
      let tokens: string[];
      try {
        tokens = shlexSplit(a);
      } catch (e) {
        throw new UsageError(`-e: ${(e as Error).message}`);
      }
      for (const t of tokens) {
        const eq = t.indexOf('=');
        if (eq <= 0) throw new UsageError(`-e: expected key=value, got "${t.length > 60 ? t.slice(0, 60) + '…' : t}"`);
        out[t.slice(0, eq)] = t.slice(eq + 1);
      }
    }
  }
  return out;
}
