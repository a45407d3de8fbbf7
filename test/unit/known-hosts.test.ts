// known_hosts: plain and hashed entries, [host]:port, wildcards and negation, @revoked, and the
// three policies (strict, accept-new, off) on a real file.
import test from 'ava';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostEntryName, keyTypeOf, lookupKnownHosts, verifyHostKey } from '../../src/transport/known-hosts.js';

function blob(type: string, body = randomBytes(32)): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, body]);
}
const hashed = (name: string) => {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
};

test('entry names: port 22 plain, other ports bracketed', (t) => {
  t.is(hostEntryName('198.51.100.1', 22), '198.51.100.1');
  t.is(hostEntryName('198.51.100.1', 2222), '[198.51.100.1]:2222');
});

test('lookup: plain, comma lists, hashed, [host]:port, wildcards, negation, @revoked, comments', (t) => {
  const k1 = blob('ssh-ed25519');
  const k2 = blob('ecdsa-sha2-nistp256');
  const k3 = blob('ssh-rsa');
  const text = [
    '# comment',
    `node1,198.51.100.1 ssh-ed25519 ${k1.toString('base64')}`,
    `${hashed('[198.51.100.2]:2222')} ecdsa-sha2-nistp256 ${k2.toString('base64')}`,
    `*.example.com,!bad.example.com ssh-rsa ${k3.toString('base64')}`,
    `@revoked 198.51.100.9 ssh-ed25519 ${k1.toString('base64')}`,
    `@cert-authority *.example.com ssh-ed25519 ${k1.toString('base64')}`,
    'garbage line',
  ].join('\n');
  t.is(lookupKnownHosts(text, '198.51.100.1')[0]!.keyType, 'ssh-ed25519');
  t.true(lookupKnownHosts(text, '[198.51.100.2]:2222')[0]!.key.equals(k2));
  t.deepEqual(lookupKnownHosts(text, '198.51.100.2'), []);
  t.is(lookupKnownHosts(text, 'a.example.com').length, 1);
  t.is(lookupKnownHosts(text, 'bad.example.com').length, 0);
  t.true(lookupKnownHosts(text, '198.51.100.9')[0]!.revoked);
  t.is(keyTypeOf(k2), 'ecdsa-sha2-nistp256');
  t.is(keyTypeOf(Buffer.alloc(2)), 'unknown');
});

test('policies on a real file: accept-new records, a changed key is refused, strict refuses unknown, off accepts', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-kh-'));
  try {
    const file = join(dir, 'sub', 'known_hosts');
    const k = blob('ssh-ed25519');
    t.false(verifyHostKey(file, '198.51.100.5', 22, k, 'strict').ok);
    t.deepEqual(verifyHostKey(file, '198.51.100.5', 2222, k, 'accept-new'), { ok: true, added: true });
    t.regex(readFileSync(file, 'utf8'), /^\[198\.51\.100\.5\]:2222 ssh-ed25519 /);
    t.deepEqual(verifyHostKey(file, '198.51.100.5', 2222, k, 'strict'), { ok: true, added: false });
    const changed = verifyHostKey(file, '198.51.100.5', 2222, blob('ssh-ed25519'), 'accept-new');
    t.false(changed.ok);
    t.regex((changed as { reason: string }).reason, /CHANGED.*ssh-keygen -R/);
    // another key type for the same host is new, not changed (OpenSSH's behaviour)
    t.true(verifyHostKey(file, '198.51.100.5', 2222, blob('ecdsa-sha2-nistp256'), 'accept-new').ok);
    t.true(verifyHostKey(file, '198.51.100.5', 2222, blob('ssh-ed25519'), 'off').ok);
    // a hashed entry written by ssh-keygen -H is honoured
    const hk = blob('ssh-ed25519');
    writeFileSync(file, `${hashed('198.51.100.6')} ssh-ed25519 ${hk.toString('base64')}\n`);
    t.deepEqual(verifyHostKey(file, '198.51.100.6', 22, hk, 'strict'), { ok: true, added: false });
    t.false(verifyHostKey(file, '198.51.100.6', 22, blob('ssh-ed25519'), 'accept-new').ok);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
