// `kubespray-validate inventory --list`: the same JSON `ansible-inventory --list` prints
// (groups with hosts/children, empty ones left out, `_meta.hostvars`), secrets redacted.
import type { Inventory, Vars } from '../types.js';

export const REDACTED = '<redacted>';

/** Variable names whose values are secrets: passwords, passphrases, tokens, private keys. */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase();
  if (k.includes('password') || k.includes('passwd') || k.includes('secret') || k.includes('passphrase')) return true;
  if (k.endsWith('_pass') || k.endsWith('_token')) return true;
  // key contents (ansible_ssh_private_key), but not the path to a key file
  if (k.includes('private_key') && !k.endsWith('_file')) return true;
  return false;
}

/** Redact secrets at any depth: a secret key's whole value goes, and so does anything that looks like key material. */
export function redact(v: unknown, key = ''): unknown {
  if (key && isSecretKey(key)) return REDACTED;
  if (typeof v === 'string' && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)) return REDACTED;
  if (Array.isArray(v)) return v.map((x) => redact(x));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = redact(x, k);
    return out;
  }
  return v;
}

export function inventoryListing(inv: Inventory, opts: { showSecrets: boolean }): object {
  const out: Record<string, unknown> = {};
  const hostvars: Record<string, Vars> = {};
  const seen = new Set<string>();
  const format = (name: string) => {
    const g = inv.groups[name]!;
    const entry: { hosts?: string[]; children?: string[] } = {};
    if (name !== 'all' && g.hosts.length) entry.hosts = [...g.hosts];
    const children: string[] = [];
    for (const c of g.children) {
      children.push(c);
      if (!seen.has(c)) {
        seen.add(c);
        format(c);
      }
    }
    if (children.length) entry.children = children;
    if (Object.keys(entry).length) out[name] = entry;
  };
  seen.add('all');
  format('all');
  for (const [h, v] of Object.entries(inv.hostvars)) {
    if (!Object.keys(v).length) continue;
    hostvars[h] = (opts.showSecrets ? v : redact(v)) as Vars;
  }
  return { _meta: { hostvars }, ...out };
}
