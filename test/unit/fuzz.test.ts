// Never crash on input: inventories (random and mutated INI/YAML, binary, deep nesting, huge
// files, cycles, duplicates, unicode) either load or fail with one UsageError line; command-output
// parsers return a value or a ParseError. Seeded, so a failure can be replayed.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { inventoryListing } from '../../src/inventory/listing.js';
import { clusterModel, effectiveHostVars } from '../../src/inventory/kubespray.js';
import { buildTargets } from '../../src/inventory/targets.js';
import { UsageError } from '../../src/errors.js';
import { parseIptablesSave } from '../../src/collect/iptables.js';
import { parseLinks } from '../../src/collect/iproute.js';
import { parseEthtoolK } from '../../src/collect/ethtool.js';
import { parseCounters } from '../../src/collect/counters.js';
import { parseGather } from '../../src/collect/gather.js';
import { parseEndpoints } from '../../src/kubectl/endpoints.js';
import { judgeReply } from '../../src/probe/dns-wire.js';
import { ROOT } from '../e2e/helpers.js';

/** mulberry32: small, seeded */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  '[',
  ']',
  ':',
  ':children',
  ':vars',
  '=',
  '"',
  "'",
  '#',
  '\n',
  ' ',
  '{{',
  '}}',
  '{%',
  '- ',
  ': ',
  '{',
  '}',
  '|',
  '>',
  '&a',
  '*a',
  '!!python/object',
  '\t',
  '\\',
  '\u0000',
  'é',
  '🙂',
  'node[1:3]',
  'node[a:',
  'all',
  'k8s_cluster',
  'kube_control_plane',
  'ansible_host=',
  '198.51.100.1',
  'children:',
  'hosts:',
  'vars:',
  '---',
  '...',
  '%',
];

function mutate(src: string, r: () => number): string {
  let s = src;
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (s.length + 1));
    const k = r();
    if (k < 0.3) s = s.slice(0, at) + TOKENS[Math.floor(r() * TOKENS.length)] + s.slice(at);
    else if (k < 0.5) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 20));
    else if (k < 0.65) s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 0x3000)) + s.slice(at);
    else if (k < 0.8) {
      const lines = s.split('\n');
      const j = Math.floor(r() * lines.length);
      lines.splice(j, 0, lines[Math.floor(r() * lines.length)] ?? '');
      s = lines.join('\n');
    } else s = s.slice(0, at);
  }
  return s;
}

function seeds(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (!/\.(json|md|ts)$/.test(f)) out.push({ name: f, text: readFileSync(p, 'utf8') });
    }
  };
  walk(join(ROOT, 'test', 'fixtures', 'inventory'));
  walk(join(ROOT, 'inventory-examples'));
  return out;
}

/** SSH targets for every host, connection variables templated as plan() does it. */
function targetsOf(inv: ReturnType<typeof loadInventory>): void {
  const hosts = Object.keys(inv.hostvars);
  buildTargets(Object.fromEntries(hosts.map((h) => [h, effectiveHostVars(inv, h)])), hosts, {}, null);
}

function loadOrUsage(t: { fail: (m: string) => void }, file: string, label: string): 'ok' | 'usage' {
  try {
    const inv = loadInventory([file], {});
    inventoryListing(inv, { showSecrets: false });
    for (const step of [() => clusterModel(inv), () => targetsOf(inv)]) {
      try {
        step();
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        if (e.message.includes('\n')) t.fail(`${label}: multi-line message ${JSON.stringify(e.message)}`);
      }
    }
    return 'ok';
  } catch (e) {
    if (!(e instanceof UsageError)) {
      t.fail(`${label}: ${(e as Error).name}: ${(e as Error).message} (not a UsageError)`);
      return 'usage';
    }
    if (e.message.split('\n').length > 1) t.fail(`${label}: multi-line message ${JSON.stringify(e.message)}`);
    return 'usage';
  }
}

export const FUZZ_INVENTORIES = 1500;

test('mutated inventories load or exit 2 with one line, never anything else', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-fuzz-'));
  try {
    const base = seeds();
    const r = rng(20261124);
    const tally = { ok: 0, usage: 0 };
    for (let i = 0; i < FUZZ_INVENTORIES; i++) {
      const seed = base[i % base.length]!;
      const text = mutate(seed.text, r);
      const ext = /\.ya?ml$/.test(seed.name) ? '.yml' : r() < 0.5 ? '.ini' : '';
      const file = join(dir, `inv${i}${ext}`);
      writeFileSync(file, text);
      const t0 = Date.now();
      tally[loadOrUsage(t, file, `case ${i} from ${seed.name}`)]++;
      if (Date.now() - t0 > 2000) t.fail(`case ${i} took ${Date.now() - t0} ms`);
    }
    t.log(`${FUZZ_INVENTORIES} mutated inventories: ${tally.ok} loaded, ${tally.usage} refused with one line`);
    t.true(tally.ok > 0 && tally.usage > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pathological inventories: binary, deep nesting, huge, cycles, duplicates, unicode, empty', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-fuzz-'));
  try {
    const cases: [string, string][] = [
      ['binary.ini', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1')],
      ['nest.yml', `all:\n  vars:\n    x: ${'['.repeat(5000)}${']'.repeat(5000)}\n`],
      [
        'deepgroups.yml',
        `all:\n  children:\n${Array.from({ length: 300 }, (_, i) => `${'  '.repeat(i + 2)}g${i}:\n${'  '.repeat(i + 3)}children:`).join('\n')}\n`,
      ],
      [
        'huge.ini',
        `[kube_node]\n${Array.from({ length: 50_000 }, (_, i) => `n${i} ansible_host=198.18.${(i >> 8) & 255}.${i & 255}`).join('\n')}\n`,
      ],
      ['cycle.yml', 'all:\n  children:\n    a:\n      children:\n        b:\n    b:\n      children:\n        a:\n'],
      ['dupes.ini', '[kube_node]\nn1 ansible_host=198.51.100.1\nn1 ansible_host=198.51.100.2\n[kube_node]\nn1\n'],
      ['unicode.ini', '[kube_node]\nnœud-1 ansible_host=198.51.100.1 label=日本語\n[kube_control_plane]\nnœud-1\n'],
      ['empty.ini', ''],
      ['anchors.yml', 'all:\n  vars: &a\n    x: *a\n'],
      [
        'bomb.yml',
        `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n`,
      ],
      ['python.yml', 'all:\n  vars:\n    x: !!python/object/apply:os.system ["touch /tmp/ksv-fuzz-pwned"]\n'],
    ];
    for (const [name, text] of cases) {
      const file = join(dir, name);
      writeFileSync(file, text);
      // how long a huge inventory takes is the benchmark's business (npm run bench), not a test's
      loadOrUsage(t, file, name);
    }
    t.false(require_exists('/tmp/ksv-fuzz-pwned'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function require_exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

export const FUZZ_OUTPUTS = 4000;

test('command-output parsers: truncated, empty, garbage and other-version output never throw', (t) => {
  const fx = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'collect', f), 'utf8');
  const samples = [
    'iptables-nft-save.txt',
    'iptables-legacy-save-shadowed.txt',
    'ip-link.json',
    'ip-addr.json',
    'ethtool-k-vxlan.calico.txt',
    'proc-net-snmp.txt',
    'proc-net-netstat.txt',
  ].map(fx);
  const r = rng(7);
  for (let i = 0; i < FUZZ_OUTPUTS; i++) {
    const text = mutate(samples[i % samples.length]!, r);
    t.notThrows(() => {
      parseIptablesSave(text, 'nft');
      parseLinks(text, text, null);
      parseEthtoolK(text);
      parseCounters(`@@snmp\n${text}\n@@rc 0\n`);
      parseGather('n', `@@link\n${text}\n@@rc 0\n@@iptables nft\n${text}\n@@rc 0\n@@ethtool x\n${text}\n@@rc 0\n`);
      parseEndpoints(text);
    }, `case ${i}`);
  }
  t.log(`${FUZZ_OUTPUTS} mutated command outputs parsed without an exception`);
});

export const FUZZ_REPLIES = 3000;

test('DNS replies: random bytes, truncations and bit flips of a real reply are judged, never thrown', (t) => {
  const real = Buffer.from(
    '9e93818000010001000000000a6b756265726e657465730764656661756c740373766307636c7573746572056c6f63616c0000010001c00c00010001000000000004c6128001',
    'hex',
  );
  const name = 'kubernetes.default.svc.cluster.local';
  t.deepEqual(judgeReply(real, 0x9e93, name, 'A'), { answered: true, rcode: 'NOERROR', good: true });
  t.is(judgeReply(real, 0x1234, name, 'A').error, 'bad-id');
  t.is(judgeReply(real, 0x9e93, 'other.name', 'A').error, 'bad-question');
  const tc = Buffer.from(real);
  tc[2] = tc[2]! | 0x02;
  t.is(judgeReply(tc, 0x9e93, name, 'A').error, 'truncated');
  const r = rng(99);
  for (let i = 0; i < FUZZ_REPLIES; i++) {
    const b = Buffer.from(real);
    const kind = i % 3;
    let x: Buffer;
    if (kind === 0) x = b.subarray(0, Math.floor(r() * b.length));
    else if (kind === 1) {
      for (let j = 0; j < 3; j++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      x = b;
    } else x = Buffer.from(Array.from({ length: Math.floor(r() * 600) }, () => Math.floor(r() * 256)));
    t.notThrows(() => judgeReply(x, 0x9e93, name, 'A'), `case ${i}`);
  }
  t.log(`${FUZZ_REPLIES} hostile DNS replies judged without an exception`);
});
