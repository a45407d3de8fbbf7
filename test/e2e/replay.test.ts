// Capture and replay against the lab: a run recorded with --record replays, connecting to nothing
// (in a network namespace with no interface up), to the same report and exit code — healthy, the
// checksum fault, the checksum fault with --fix, --limit, --check, and a run cut short by SIGINT; a
// bundle never holds a secret.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useLab, type Lab } from '../lab/lab.js';
import { CLI, runCli, tempKnownHosts, type CliRun } from './helpers.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3, users: true });
const kh = tempKnownHosts();
const work = mkdtempSync(join(tmpdir(), 'ksv-replay-'));
const emptyNs = `ksvempty${process.pid}`;
test.before(() => {
  spawnSync('ip', ['netns', 'add', emptyNs]);
});
test.after.always(() => {
  spawnSync('ip', ['netns', 'del', emptyNs]);
  kh.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const BASE = [
  '--known-hosts',
  kh.file,
  '--progress',
  'none',
  '--probe-count',
  '3',
  '--probe-timeout',
  '1500',
  '--timeout',
  '10',
];
let n = 0;
const dir = () => join(work, `b${n++}`);

/** `replay DIR -o json` in a namespace with no interface up (only a down lo): nothing to connect to. */
function replayIsolated(bundle: string, extra: string[] = []): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      'ip',
      ['netns', 'exec', emptyNs, process.execPath, CLI, 'replay', bundle, '-o', 'json', ...extra],
      { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}

async function recordAndReplay(
  t: import('ava').ExecutionContext,
  args: string[],
  expectCode: number,
): Promise<{ live: Report; replayed: Report }> {
  const l = lab();
  const d = dir();
  const run = await runCli(['-i', l.inventoryDir, ...BASE, '-o', 'json', '--record', d, ...args]);
  t.is(run.code, expectCode, run.stderr.slice(0, 2000));
  const live = JSON.parse(run.stdout) as Report;
  const r = await replayIsolated(d);
  t.is(r.code, run.code, r.stderr.slice(0, 2000));
  const replayed = JSON.parse(r.stdout) as Report;
  t.deepEqual(replayed, live, 'the replayed report is the recorded one');
  t.deepEqual(JSON.parse(readFileSync(join(d, 'report.json'), 'utf8')), live, 'the bundle holds the report it printed');
  return { live, replayed };
}

test.serial('the empty namespace really has no network', (t) => {
  const r = spawnSync('ip', ['netns', 'exec', emptyNs, 'ip', '-o', 'addr', 'show', 'up'], { encoding: 'utf8' });
  t.is(r.stdout.trim(), '');
});

test.serial('healthy: replay gives the same report and exit 0', async (t) => {
  await recordAndReplay(t, [], 0);
});

test.serial(
  'the checksum fault on node2: replay gives checksum-offload on node2 and exit 1, connecting to nothing',
  async (t) => {
    const l = lab();
    await l.fault('checksum', { nodes: ['node2'] });
    try {
      const { replayed } = await recordAndReplay(t, [], 1);
      const d = replayed.diagnoses.find((x) => x.id === 'checksum-offload');
      t.deepEqual(d?.hosts, ['node2']);
      t.true(d!.remediations.some((r) => r.safe && r.argv?.[0] === 'ethtool'));
    } finally {
      await l.clear();
    }
  },
);

test.serial('--fix: both passes and the applied fix replay; exit 0', async (t) => {
  const l = lab();
  await l.fault('checksum', { nodes: ['node3'] });
  try {
    const { replayed } = await recordAndReplay(t, ['--fix'], 0);
    t.deepEqual(
      replayed.fix?.applied.map((a) => [a.host, a.ok]),
      [['node3', true]],
    );
    t.deepEqual(
      replayed.fix?.before.diagnoses.map((x) => x.id),
      ['checksum-offload'],
    );
  } finally {
    await l.clear();
  }
});

test.serial('--limit and --check replay as recorded', async (t) => {
  const { replayed } = await recordAndReplay(
    t,
    ['--limit', 'node2,node3', '--check', 'nodelocaldns.*', '--check', 'coredns.endpoints'],
    0,
  );
  t.deepEqual(
    replayed.hosts.map((h) => h.name),
    ['node2', 'node3'],
  );
  t.deepEqual([...new Set(replayed.results.map((r) => r.check))].sort(), [
    'coredns.endpoints',
    'nodelocaldns.interface',
    'nodelocaldns.iptables',
  ]);
  t.deepEqual(replayed.probes, [], 'no probes ran: no selected check needs them');
});

test.serial('a run cut short by SIGINT replays to the same partial report, exit 130', async (t) => {
  const l = lab();
  await l.fault('checksum', { nodes: ['node2'] });
  try {
    const d = dir();
    const child = spawn(
      process.execPath,
      [
        CLI,
        '-i',
        l.inventoryDir,
        ...BASE,
        '--probe-count',
        '3',
        '--probe-timeout',
        '4000',
        '-o',
        'json',
        '--record',
        d,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (x) => (out += x));
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    t.is(code, 130);
    const live = JSON.parse(out) as Report;
    t.is(live.interrupted, 'SIGINT');
    const r = await replayIsolated(d);
    t.is(r.code, 130, r.stderr);
    t.deepEqual(JSON.parse(r.stdout), live);
  } finally {
    await l.clear();
  }
});

test.serial('a bundle holds no secret: sudo password, key contents', async (t) => {
  const l = lab();
  const inv = mkdtempSync(join(work, 'inv-'));
  cpSync(l.inventoryDir, inv, { recursive: true });
  mkdirSync(join(inv, 'host_vars'), { recursive: true });
  writeFileSync(
    join(inv, 'host_vars', 'node1.json'),
    JSON.stringify({ ansible_user: l.users!.passwd, ansible_become_password: l.users!.password }),
  );
  const d = dir();
  const run = await runCli(['-i', inv, ...BASE, '-o', 'json', '--record', d]);
  t.is(run.code, 0, run.stderr);
  const text = readFileSync(join(d, 'bundle.json'), 'utf8') + readFileSync(join(d, 'report.json'), 'utf8');
  t.false(text.includes(l.users!.password), 'the sudo password is not in the bundle');
  const key = readFileSync(l.keyFile, 'utf8')
    .split('\n')
    .filter((x) => x && !x.startsWith('-----'))[0]!;
  t.false(text.includes(key), 'the private key is not in the bundle');
  t.false(text.includes(l.keyFile), 'nor its path');
  const bundle = JSON.parse(readFileSync(join(d, 'bundle.json'), 'utf8')) as {
    targets: { user: string; become: boolean }[];
  };
  t.true(bundle.targets.some((x) => x.user === l.users!.passwd && x.become));
});

test.serial('replay of something that is not a bundle: one line, exit 2', async (t) => {
  const bad = join(work, 'not-a-bundle');
  mkdirSync(bad, { recursive: true });
  writeFileSync(join(bad, 'bundle.json'), '{"hello": 1}');
  for (const target of [bad, join(work, 'missing')]) {
    const r = await runCli(['replay', target]);
    t.is(r.code, 2);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, /replay: /);
  }
});

export type { Lab };
