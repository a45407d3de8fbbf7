// Ansible's YAML inventory format (ansible/plugins/inventory/yaml.py), and YAML/JSON vars files.
// Ansible reads YAML with PyYAML, i.e. YAML 1.1: yes/no/on/off are booleans, 0755 is octal.
import { load, YAML11_SCHEMA } from 'js-yaml';
import { InventoryError } from '../errors.js';
import { expandHostPattern, PatternError } from './hostpattern.js';
import type { RawInventory } from './raw.js';

/** Dates become the text PyYAML's date would print as JSON; nothing else changes. */
function normalize(v: unknown): unknown {
  if (v instanceof Date) {
    const iso = v.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.replace('.000Z', '').replace('T', ' ');
  }
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = normalize(x);
    return out;
  }
  return v;
}

/** Parse YAML text; a syntax error becomes one line naming file:line. */
export function parseYaml(text: string, file: string): unknown {
  try {
    return normalize(load(text, { schema: YAML11_SCHEMA, filename: file }));
  } catch (e) {
    const err = e as { mark?: { line?: number; column?: number }; reason?: string; message?: string };
    const line = err.mark?.line !== undefined ? `:${err.mark.line + 1}` : '';
    const reason = err.reason ?? (err.message ?? 'invalid YAML').split('\n')[0];
    throw new InventoryError(`${file}${line}: YAML syntax error: ${reason}`);
  }
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function looksLikeYamlInventory(data: unknown): data is Record<string, unknown> {
  return isMap(data) && !('plugin' in data);
}

export function parseYamlInventory(data: Record<string, unknown>, file: string, inv: RawInventory): void {
  const group = (name: string, body: unknown, depth: number): string => {
    if (depth > 64) throw new InventoryError(`${file}: groups nested more than 64 levels deep at "${name}"`);
    if (body !== null && body !== undefined && !isMap(body)) return name; // Ansible warns and skips
    inv.addGroup(name);
    if (!body) return name;
    for (const section of ['vars', 'children', 'hosts'] as const) {
      let v = body[section];
      if (typeof v === 'string') v = { [v]: null };
      if (v !== undefined && v !== null && !isMap(v))
        throw new InventoryError(`${file}: invalid "${section}" entry for group "${name}": expected a mapping`);
      body[section] = v;
    }
    for (const [key, v] of Object.entries(body)) {
      if (!isMap(v)) continue;
      if (key === 'vars') for (const [k, x] of Object.entries(v)) inv.setGroupVar(name, k, x);
      else if (key === 'children') {
        for (const [child, cbody] of Object.entries(v)) inv.addChild(name, group(child, cbody, depth + 1));
      } else if (key === 'hosts') {
        for (const [pattern, hvars] of Object.entries(v)) {
          let exp: { hosts: string[]; port: number | null };
          try {
            exp = expandHostPattern(pattern);
          } catch (e) {
            throw new InventoryError(`${file}: ${(e as PatternError).message}`);
          }
          if (hvars !== null && hvars !== undefined && !isMap(hvars))
            throw new InventoryError(`${file}: vars of host "${pattern}" must be a mapping`);
          for (const h of exp.hosts) {
            const target = inv.addHost(h, name);
            Object.assign(target, hvars ?? {});
            if (exp.port !== null) target.ansible_port = exp.port;
          }
        }
      }
    }
    return name;
  };
  for (const [name, body] of Object.entries(data)) group(name, body, 0);
}
