// The whole pipeline — checks, diagnoses, fix planning, report, exit code — run without root and
// without a network on capture bundles recorded in the lab (npm run lab:bundles): the replay
// gives back the report each run printed.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replay } from '../../src/validate.js';
import { safeFixes } from '../../src/fix/index.js';
import type { Bundle } from '../../src/record/bundle.js';
import type { Report } from '../../src/types.js';
import { CLI, ROOT, runCli } from '../e2e/helpers.js';

const DIR = join(ROOT, 'test', 'fixtures', 'bundles');
const recorded = (name: string) => JSON.parse(readFileSync(join(DIR, name, 'report.json'), 'utf8')) as Report;
const work = mkdtempSync(join(tmpdir(), 'ksv-replay-unit-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

const EXPECT: Record<string, { exit: number; failing: string[] }> = {
  healthy: { exit: 0, failing: [] },
  'checksum-node2': { exit: 1, failing: ['checksum-offload'] },
  'checksum-node2-fix': { exit: 0, failing: [] },
  interrupted: { exit: 3, failing: ['host-unreachable'] },
  'limit-no-control-plane': { exit: 0, failing: [] },
  'endpoint-down': { exit: 1, failing: ['coredns-endpoint-down'] },
  'sshd-down-node3': { exit: 3, failing: ['host-unreachable'] },
  'pod-to-host-node2': { exit: 1, failing: ['pod-to-host-blocked'] },
  'pod-create-node3': { exit: 1, failing: ['pod-to-host-blocked'] },
  'resolv-loop-node2': { exit: 1, failing: ['resolver-loop'] },
  'upstream-down': { exit: 1, failing: ['upstream-dns-unreachable'] },
  // kube_proxy_mode ipvs: the lab's recording with IPVS tables from public captures (README.md there)
  'ipvs-healthy': { exit: 0, failing: [] },
  'ipvs-stale-node2': { exit: 1, failing: ['ipvs-stale-backend'] },
  'ipvs-no-real-server': { exit: 1, failing: ['ipvs-stale-backend'] },
  'ipvs-no-address-node3': { exit: 1, failing: ['ipvs-stale-backend'] },
};

test('every committed bundle has an expectation here', (t) => {
  t.deepEqual(
    readdirSync(DIR)
      .filter((f) => !f.endsWith('.md'))
      .sort(),
    Object.keys(EXPECT).sort(),
  );
});

for (const [name, want] of Object.entries(EXPECT)) {
  test(`replay ${name}: the recorded report, exit ${want.exit}, ${want.failing.join(', ') || 'no failing diagnosis'}`, async (t) => {
    const { report } = await replay(join(DIR, name), { progress: 'none' });
    t.deepEqual(report, recorded(name));
    t.is(report.summary.exitCode, want.exit);
    t.deepEqual(
      report.diagnoses.filter((d) => d.severity === 'fail').map((d) => d.id),
      want.failing,
    );
  });
}

test('the checksum fault on node2: --fix would run exactly the ethtool fix on node2', async (t) => {
  const { report } = await replay(join(DIR, 'checksum-node2'), { progress: 'none' });
  t.deepEqual(
    safeFixes(report.diagnoses, report).map((a) => [a.host, a.command]),
    [['node2', 'ethtool --offload vxlan.calico rx off tx off']],
  );
  const fixed = recorded('checksum-node2-fix');
  t.deepEqual(
    fixed.fix?.applied.map((a) => [a.host, a.command, a.ok]),
    [['node2', 'ethtool --offload vxlan.calico rx off tx off', true]],
  );
  t.deepEqual(
    fixed.fix?.before.diagnoses.filter((d) => d.severity === 'fail').map((d) => d.id),
    ['checksum-offload'],
  );
});

test('interrupted: the unfinished nodes are marked, the report says so, the CLI exits 130', async (t) => {
  const { report } = await replay(join(DIR, 'interrupted'), { progress: 'none' });
  t.is(report.interrupted, 'SIGINT');
  t.true(report.hosts.every((h) => !h.inspected && /interrupted/.test(h.error ?? '')));
  const run = await runCli(['replay', join(DIR, 'interrupted'), '-o', 'json']);
  t.is(run.code, 130);
});

test('--limit without the control plane: a failing coredns.endpoints (filed under node1) still fails the run', async (t) => {
  // the recorded lookup, with the coredns EndpointSlices emptied (as kubectl prints them then)
  const d = join(work, 'no-endpoints');
  cpSync(join(DIR, 'limit-no-control-plane'), d, { recursive: true });
  const b = JSON.parse(readFileSync(join(d, 'bundle.json'), 'utf8')) as Bundle;
  const lookup = b.nodes.node1!.execs.find((e) => e.label === 'endpoints')!;
  t.true(lookup.result.ok);
  if (lookup.result.ok) {
    const body = lookup.result.stdout;
    const i = body.indexOf('@@slices\n');
    t.true(i >= 0);
    const j = body.indexOf('\n@@rc', i);
    const list = JSON.parse(body.slice(i + 9, j)) as { items: { endpoints: unknown[] }[] };
    for (const s of list.items) s.endpoints = [];
    lookup.result.stdout = body.slice(0, i + 9) + JSON.stringify(list) + body.slice(j);
  }
  writeFileSync(join(d, 'bundle.json'), JSON.stringify(b));
  const { report } = await replay(d, { progress: 'none' });
  const ep = report.results.find((r) => r.check === 'coredns.endpoints')!;
  t.is(ep.host, 'node1');
  t.false(
    report.hosts.some((h) => h.name === 'node1'),
    'node1 is outside --limit',
  );
  t.is(ep.status, 'fail');
  t.is(report.summary.exitCode, 1);
});

test('replay --strict overrides the recorded setting: a healthy lab (offload on above kernel 5.7) has no warning; on a kernel Felix deems broken it warns, and warnings fail', async (t) => {
  const green = await replay(join(DIR, 'healthy'), { progress: 'none', strict: true });
  t.is(green.report.summary.warn, 0);
  t.is(green.report.summary.exitCode, 0);
  // the same run as a node with kernel 5.4 would have printed it
  const d = join(work, 'old-kernel');
  cpSync(join(DIR, 'healthy'), d, { recursive: true });
  const b = JSON.parse(readFileSync(join(d, 'bundle.json'), 'utf8')) as Bundle;
  for (const node of Object.values(b.nodes)) {
    for (const e of node!.execs)
      if (e.label === 'roundtrip' && e.result.ok)
        e.result.stdout = e.result.stdout.replace(/^@@kernel\n[^\n]*\n/m, '@@kernel\n5.4.0-150-generic\n');
  }
  writeFileSync(join(d, 'bundle.json'), JSON.stringify(b));
  const lax = await replay(d, { progress: 'none', strict: false });
  t.true(
    lax.report.results
      .filter((r) => r.check === 'overlay.offload')
      .every(
        (r) => r.status === 'warn' && /5\.4\.0-150-generic, in the range Felix itself treats as broken/.test(r.summary),
      ),
  );
  t.is(lax.report.summary.exitCode, 0);
  const strict = await replay(d, { progress: 'none', strict: true });
  t.true(strict.report.summary.warn > 0);
  t.is(strict.report.summary.exitCode, 1);
});

test('a bundle recorded by an earlier version: readers whose script text changed are read from the sections it holds', async (t) => {
  // the checksum fault as an earlier version recorded it: its round trips ran the iptables, nft and
  // link reads in another form (their stderr merged into the output), so no script of today's is in them
  const d = join(work, 'earlier');
  cpSync(join(DIR, 'checksum-node2'), d, { recursive: true });
  const b = JSON.parse(readFileSync(join(d, 'bundle.json'), 'utf8')) as Bundle;
  let rewritten = 0;
  for (const n of Object.values(b.nodes))
    for (const e of n.execs)
      if (e.label === 'roundtrip' && e.command.includes('ksv_run ')) {
        e.command = e.command.replace(/ksv_run /g, 'earlier_run ');
        rewritten++;
      }
  t.is(rewritten, 3);
  writeFileSync(join(d, 'bundle.json'), JSON.stringify(b));
  const { report } = await replay(d, { progress: 'none' });
  const want = recorded('checksum-node2');
  t.deepEqual(report.summary, want.summary);
  t.deepEqual(
    report.diagnoses.map((x) => [x.id, x.hosts]),
    want.diagnoses.map((x) => [x.id, x.hosts]),
  );
  t.false(report.results.some((r) => /not in this recording/.test(r.summary)));
});

test('the JSON report to a pipe its reader closes early (`| head`): the exit code of the run, no stack trace', (t) => {
  for (const [name, exit] of [
    ['checksum-node2', 1],
    ['healthy', 0],
  ] as const) {
    const r = spawnSync(
      'bash',
      [
        '-c',
        'node "$0" replay "$1" -o json | head -c 200 >/dev/null; echo "${PIPESTATUS[0]}" >&2',
        CLI,
        join(DIR, name),
      ],
      { encoding: 'utf8' },
    );
    t.is(r.stderr, `${exit}\n`, name);
  }
  // a full disk: one line, exit 2
  const full = spawnSync(process.execPath, [CLI, 'replay', join(DIR, 'healthy'), '-o', 'json'], {
    encoding: 'utf8',
    stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'],
  });
  t.is(full.status, 2);
  t.regex(full.stderr, /^kubespray-validate: cannot write the output: ENOSPC[^\n]*\n$/);
});
