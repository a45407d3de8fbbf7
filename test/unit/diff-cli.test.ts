// `kubespray-validate diff OLD.json NEW.json` through the built CLI, on the committed reports
// (test/fixtures/reports/): exit 1 with regressions, 0 without, 2 when a file is not a report.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../e2e/helpers.js';
import { compareReports } from '../../src/compare/index.js';
import { readReport } from '../../src/compare/load.js';
import type { Comparison } from '../../src/compare/types.js';

const F = (name: string) => join(ROOT, 'test', 'fixtures', 'reports', `${name}.json`);

function diff(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'diff', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('regressions: exit 1, the human comparison on stdout', (t) => {
  const r = diff(F('fixed-node3'), F('reboot-node3'));
  t.is(r.code, 1, r.stderr);
  t.regex(r.stdout, /^Changes since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(baseline: kubespray-validate [^)]+\)\n/);
  t.regex(r.stdout, /✖ node3: overlay\.offload: checksum offload on vxlan\.calico was off, is on again/);
  t.regex(r.stdout, /✖ node3: checksum-offload named \(fail\)/);
  t.regex(
    r.stdout,
    /reboot-node3\.json \(.*\) against .*fixed-node3\.json: \d+ regression\(s\), 0 resolved — exit 1\n$/,
  );
  t.is(r.stderr, '');
});

test('no regressions: exit 0 (also when things were resolved)', (t) => {
  t.is(diff(F('healthy'), F('healthy-again')).code, 0);
  const r = diff(F('checksum-node3'), F('fixed-node3'));
  t.is(r.code, 0);
  t.regex(r.stdout, /no regressions, \d+ resolved/);
  t.regex(r.stdout, /✔ node3: overlay\.offload: checksum offload on vxlan\.calico was on \(tx on, rx on\), is off now/);
});

test('-o json prints the comparison object, the same as the library computes', (t) => {
  const r = diff(F('healthy'), F('slow-coredns-pod2'), '-o', 'json');
  t.is(r.code, 1);
  const c = JSON.parse(r.stdout) as Comparison;
  t.deepEqual(
    c,
    JSON.parse(JSON.stringify(compareReports(readReport(F('healthy')), readReport(F('slow-coredns-pod2'))))),
  );
  t.true(c.regressions.some((x) => x.kind === 'latency'));
});

test('latency thresholds are options; bad values are usage errors', (t) => {
  const r = diff(F('healthy'), F('slow-coredns-pod2'), '-o', 'json', '--latency-factor', '1000');
  t.is(r.code, 0, 'a 1000x factor: no latency regression, nothing else regressed');
  t.deepEqual((JSON.parse(r.stdout) as Comparison).thresholds, { latencyFactor: 1000, latencyIncreaseMs: 5 });
  for (const bad of [
    ['--latency-factor', '0.5'],
    ['--latency-factor', 'x'],
    ['--latency-increase-ms', '-1'],
  ]) {
    const b = diff(F('healthy'), F('healthy-again'), ...bad);
    t.is(b.code, 2, bad.join(' '));
    t.regex(b.stderr, new RegExp(`^kubespray-validate: error: ${bad[0]} must be a number >= `));
  }
});

test('a file that is not a schemaVersion 1 report: exit 2, one line naming it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-diff-'));
  try {
    writeFileSync(join(dir, 'v2.json'), JSON.stringify({ ...readReport(F('healthy')), schemaVersion: 2 }));
    writeFileSync(join(dir, 'junit.xml'), '<?xml version="1.0"?><testsuites/>');
    const cases: [string[], RegExp][] = [
      [
        [join(dir, 'v2.json'), F('healthy')],
        /^kubespray-validate: error: .*v2\.json: schemaVersion 2 is not supported \(this version reads schemaVersion 1\)\n$/,
      ],
      [[F('healthy'), join(dir, 'junit.xml')], /^kubespray-validate: error: .*junit\.xml: not a JSON report \(.*\)\n$/],
      [
        [F('healthy'), join(dir, 'missing.json')],
        /^kubespray-validate: error: .*missing\.json: cannot read the report: no such file\n$/,
      ],
      [[F('healthy')], /^kubespray-validate: error: Not enough non-option arguments/],
    ];
    for (const [args, re] of cases) {
      const r = diff(...args);
      t.is(r.code, 2, args.join(' '));
      t.regex(r.stderr, re);
      t.is(r.stdout, '');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
