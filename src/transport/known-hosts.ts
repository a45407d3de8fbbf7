// OpenSSH known_hosts: plain and hashed (|1|salt|hmac) host patterns, [host]:port, wildcards,
// negation, @revoked. Pure functions over the file's text, plus append for accept-new.
import { createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface KnownKey {
  line: number;
  keyType: string;
  key: Buffer;
  revoked: boolean;
}

/** The name OpenSSH looks up: "host" on port 22, "[host]:port" otherwise. */
export function hostEntryName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(name);
}

function hostsFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    try {
      const h = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
      return h === hash;
    } catch {
      return false;
    }
  }
  let matched = false;
  for (const p of field.split(',')) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

/** Keys recorded for `name` ("host" or "[host]:port"). */
export function lookupKnownHosts(text: string, name: string): KnownKey[] {
  const out: KnownKey[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    let fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      if (fields[0] === '@revoked') revoked = true;
      else return; // @cert-authority: host certificates are not used here
      fields = fields.slice(1);
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64) return;
    if (!hostsFieldMatches(hosts, name)) return;
    const key = Buffer.from(b64, 'base64');
    if (!key.length) return;
    out.push({ line: i + 1, keyType, key, revoked });
  });
  return out;
}

/** The algorithm name at the start of an SSH public key blob. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1') || 'unknown';
}

export type HostKeyVerdict = { ok: true; added: boolean } | { ok: false; reason: string };

/** Decide on a presented host key. accept-new records unknown keys; a changed key is refused. */
export function verifyHostKey(
  file: string,
  host: string,
  port: number,
  key: Buffer,
  mode: 'strict' | 'accept-new' | 'off',
): HostKeyVerdict {
  if (mode === 'off') return { ok: true, added: false };
  const name = hostEntryName(host, port);
  let text = '';
  try {
    text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  } catch (err) {
    return { ok: false, reason: `cannot read known_hosts ${file}: ${(err as Error).message}` };
  }
  const known = lookupKnownHosts(text, name);
  if (known.some((k) => k.revoked && k.key.equals(key)))
    return { ok: false, reason: `host key for ${name} is marked @revoked in ${file}` };
  if (known.some((k) => !k.revoked && k.key.equals(key))) return { ok: true, added: false };
  const type = keyTypeOf(key);
  const sameType = known.filter((k) => !k.revoked && k.keyType === type);
  if (sameType.length) {
    return {
      ok: false,
      reason: `host key for ${name} has CHANGED (known_hosts ${file}:${sameType[0]!.line}); if the node was rebuilt, remove the old key: ssh-keygen -R '${name}' -f ${file}`,
    };
  }
  if (mode === 'strict')
    return { ok: false, reason: `no host key for ${name} in ${file} (--host-key-checking strict)` };
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    appendFileSync(file, `${text && !text.endsWith('\n') ? '\n' : ''}${name} ${type} ${key.toString('base64')}\n`, {
      mode: 0o600,
    });
  } catch (err) {
    return { ok: false, reason: `cannot record the host key of ${name} in ${file}: ${(err as Error).message}` };
  }
  return { ok: true, added: true };
}
