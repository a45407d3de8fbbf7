// The comparison (src/compare/) on reports captured from real lab runs (test/fixtures/reports/,
// see its README): each situation yields exactly its regressions on exactly its hosts; variants
// (another version, changed endpoints, other thresholds, broken files) are built from them here.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareReports, withComparison, DEFAULT_THRESHOLDS } from '../../src/compare/index.js';
import { parseReport, readReport, ReportFileError } from '../../src/compare/load.js';
import { renderHuman } from '../../src/report/human.js';
import { renderJunit } from '../../src/report/junit.js';
import { renderComparison } from '../../src/compare/render.js';
import type { Change, Comparison } from '../../src/compare/types.js';
import type { Report } from '../../src/types.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'reports');
const load = (name: string): Report => readReport(join(DIR, `${name}.json`));
const copy = (r: Report): Report => JSON.parse(JSON.stringify(r)) as Report;

/** "kind host id" of each change, sorted: what a test names exactly. */
const keys = (list: Change[], kind?: Change['kind']) =>
  [...new Set(list.filter((c) => !kind || c.kind === kind).map((c) => `${c.kind} ${c.host ?? '-'} ${c.id}`))].sort();
const hostsOf = (list: Change[]) => [...new Set(list.map((c) => c.host ?? '-'))].sort();

test('every committed report loads as a schemaVersion 1 report', (t) => {
  for (const f of [
    'healthy',
    'healthy-again',
    'rules-missing-node2',
    'checksum-node3',
    'fixed-node3',
    'reboot-node3',
    'slow-coredns-pod2',
    'sshd-down-node3',
    'limit-node1-node2',
    'other-cluster',
    'interrupted-node3',
  ]) {
    const r = load(f);
    t.is(r.schemaVersion, 1, f);
    t.true(r.hosts.length > 0, f);
  }
});

test('two healthy runs: nothing changed, everything compared', (t) => {
  const c = compareReports(load('healthy'), load('healthy-again'));
  t.deepEqual(c.regressions, []);
  t.deepEqual(c.resolved, []);
  t.deepEqual(c.hosts, { added: [], removed: [] });
  t.is(c.compared.hosts, 3);
  t.is(c.compared.paths, 48);
  t.true(c.compared.checks >= 30);
  t.deepEqual(c.notes, []);
  t.deepEqual(c.baseline, { startedAt: load('healthy').startedAt, version: load('healthy').tool.version });
  t.deepEqual(c.thresholds, DEFAULT_THRESHOLDS);
});

test('a fault after a healthy run: exactly the checks that broke, on exactly that host, with the diagnosis', (t) => {
  const c = compareReports(load('healthy'), load('rules-missing-node2'));
  t.deepEqual(keys(c.regressions, 'check'), [
    'check node2 dns.nodelocaldns.tcp',
    'check node2 dns.nodelocaldns.udp',
    'check node2 nodelocaldns.iptables',
  ]);
  t.deepEqual(keys(c.regressions, 'diagnosis'), ['diagnosis node2 nodelocaldns-rules-missing']);
  t.deepEqual(hostsOf(c.regressions), ['node2']);
  t.deepEqual(keys(c.regressions, 'host'), []);
  t.deepEqual(keys(c.regressions, 'latency'), []);
  const iptables = c.regressions.find((x) => x.id === 'nodelocaldns.iptables')!;
  t.is(iptables.before, 'pass');
  t.is(iptables.after, 'fail');
  t.regex(iptables.summary, /^node2: nodelocaldns\.iptables pass → fail: /);
  const d = c.regressions.find((x) => x.kind === 'diagnosis')!;
  t.is(d.before, null);
  t.is(d.after, 'fail');
  // every NodeLocalDNS path of node2 fell from all good answers to none
  const probes = c.regressions.filter((x) => x.kind === 'probe');
  t.is(probes.length, 6);
  t.true(
    probes.every(
      (p) =>
        p.path?.role === 'nodelocaldns' &&
        p.before === 1 &&
        p.after === 0 &&
        p.id === `dns.nodelocaldns.${p.path.transport}`,
    ),
  );
  t.deepEqual(c.resolved, []);
});

test('the same pair the other way round: the same changes, resolved', (t) => {
  const forth = compareReports(load('healthy'), load('rules-missing-node2'));
  const back = compareReports(load('rules-missing-node2'), load('healthy'));
  t.deepEqual(back.regressions, []);
  t.deepEqual(keys(back.resolved), keys(forth.regressions));
  t.is(back.resolved.find((x) => x.kind === 'diagnosis')!.after, null);
});

test("the checksum fault back after --fix and a reboot: node3's offload is on again, a regression of node3 only", (t) => {
  const c = compareReports(load('fixed-node3'), load('reboot-node3'));
  const off = c.regressions.find((x) => x.id === 'overlay.offload');
  t.truthy(off, JSON.stringify(c.regressions.map((x) => x.summary)));
  t.like(off, { kind: 'check', host: 'node3', before: 'off', after: 'on' });
  t.regex(off!.summary, /vxlan\.calico was off, is on again \(tx on, rx on\)/);
  t.deepEqual(keys(c.regressions, 'diagnosis'), ['diagnosis node3 checksum-offload']);
  t.deepEqual(hostsOf(c.regressions), ['node3']);
  t.true(c.notes.some((n) => /--fix/.test(n)));
});

test('overlay.offload is decided by its evidence, not by the status offload-on is given', (t) => {
  const base = load('fixed-node3');
  const now = copy(load('reboot-node3'));
  // the lead may give offload-on another status: the comparison must not care
  for (const r of now.results) if (r.check === 'overlay.offload') r.status = 'pass';
  const c = compareReports(base, now);
  t.like(
    c.regressions.find((x) => x.id === 'overlay.offload'),
    { host: 'node3', before: 'off', after: 'on' },
  );
  // and a status change with the same offload state is no change at all
  const same = copy(base);
  for (const r of same.results) if (r.check === 'overlay.offload') r.status = r.status === 'pass' ? 'warn' : 'pass';
  const c2 = compareReports(base, same);
  t.deepEqual(
    c2.regressions.filter((x) => x.id === 'overlay.offload'),
    [],
  );
  t.deepEqual(
    c2.resolved.filter((x) => x.id === 'overlay.offload'),
    [],
  );
  // without the evidence, the status decides
  const bare = copy(same);
  for (const r of [...bare.results]) if (r.check === 'overlay.offload') r.evidence = {};
  const c3 = compareReports(base, bare);
  t.true(c3.regressions.some((x) => x.id === 'overlay.offload' && x.before === 'pass' && x.after === 'warn'));
});

test('--fix turning offload off shows as resolved on that node', (t) => {
  const c = compareReports(load('healthy'), load('fixed-node3'));
  t.like(
    c.resolved.find((x) => x.id === 'overlay.offload'),
    { host: 'node3', before: 'on', after: 'off' },
  );
  t.deepEqual(c.regressions, []);
});

test('a slow CoreDNS pod (its UDP shaped): latency regressions on the paths to it from every node, none to the other pod', (t) => {
  const base = load('healthy');
  const slow = load('slow-coredns-pod2');
  const server = (host: string) =>
    slow.probes.find((p) => p.role === 'coredns-endpoint' && p.endpointHost === host)!.server;
  const c = compareReports(base, slow);
  const lat = c.regressions.filter((x) => x.kind === 'latency');
  for (const h of ['node1', 'node2', 'node3'])
    t.true(
      lat.some((x) => x.host === h && x.path?.server === server('node2') && x.path.transport === 'udp'),
      `${h} to the slow pod`,
    );
  t.false(
    c.regressions.some((x) => x.path?.server === server('node1')),
    'the healthy pod is not named',
  );
  t.true(
    lat.every((x) => x.path?.transport === 'udp'),
    'only its UDP was slowed',
  );
  for (const x of lat) {
    t.true((x.after as number) > 3 * (x.before as number) && (x.after as number) - (x.before as number) > 5);
    t.regex(x.summary, /p50 [\d.]+ ms → [\d.]+ ms \(\d/);
  }
  t.deepEqual(keys(c.regressions, 'check'), []);
  t.deepEqual(keys(c.regressions, 'diagnosis'), []);
  // thresholds are the caller's: 1000x catches none
  t.deepEqual(
    compareReports(base, slow, { latencyFactor: 1000, latencyIncreaseMs: 5 }).regressions.filter(
      (x) => x.kind === 'latency',
    ),
    [],
  );
  t.deepEqual(
    compareReports(base, slow, { latencyFactor: 3, latencyIncreaseMs: 10_000 }).regressions.filter(
      (x) => x.kind === 'latency',
    ),
    [],
  );
});

test('latency thresholds: both the factor and the increase must be passed', (t) => {
  const base = copy(load('healthy'));
  const p = base.probes[0]!;
  p.latencyMs.p50 = 1;
  const at = (p50: number, th = DEFAULT_THRESHOLDS) => {
    const now = copy(base);
    now.probes[0]!.latencyMs.p50 = p50;
    return compareReports(base, now, th).regressions.filter((x) => x.kind === 'latency');
  };
  t.is(at(3.9).length, 0, '3.9x but only +2.9 ms');
  t.is(at(6).length, 0, '6x but exactly +5 ms is not past it');
  t.is(at(6.5).length, 1, '6.5x and +5.5 ms');
  t.like(at(6.5)[0], { host: p.host, before: 1, after: 6.5, id: `dns.${p.role}.${p.transport}` });
  t.is(at(2.5, { latencyFactor: 2, latencyIncreaseMs: 1 }).length, 1);
  base.probes[0]!.latencyMs.p50 = 40;
  t.is(at(100).length, 0, '+60 ms but only 2.5x');
  // a path that now fails: its p50 is how long the errors took, not a latency regression
  base.probes[0]!.latencyMs.p50 = 1;
  const failing = copy(base);
  Object.assign(failing.probes[0]!, {
    ok: 0,
    rcodes: { SERVFAIL: failing.probes[0]!.sent },
    latencyMs: { p50: 997, max: 1000 },
  });
  const c = compareReports(base, failing);
  t.deepEqual(
    c.regressions.map((x) => x.kind),
    ['probe'],
  );
});

test('a path probed 3 times then 5 times with all answers good is no change', (t) => {
  const base = copy(load('healthy'));
  for (const p of base.probes) {
    p.sent = 3;
    p.answered = 3;
    p.ok = 3;
    p.rcodes = { NOERROR: 3 };
  }
  t.deepEqual(compareReports(base, load('healthy-again')).regressions, []);
});

test('a node that could not be inspected: one host regression, its checks not compared', (t) => {
  const c = compareReports(load('healthy'), load('sshd-down-node3'));
  t.is(c.regressions.length, 1, JSON.stringify(c.regressions));
  t.like(c.regressions[0], {
    kind: 'host',
    host: 'node3',
    id: 'ssh.reachable',
    before: 'inspected',
    after: 'not inspected',
  });
  t.regex(c.regressions[0]!.summary, /^node3: was inspected, now is not: .*refused/);
  t.is(c.compared.hosts, 2);
  t.true(c.notes.some((n) => /node3: not inspected in this run/.test(n)));
  const back = compareReports(load('sshd-down-node3'), load('healthy'));
  t.deepEqual(back.regressions, []);
  t.deepEqual(keys(back.resolved), ['host node3 ssh.reachable']);
});

test('hosts added or removed are reported, not regressions', (t) => {
  const c = compareReports(load('healthy'), load('limit-node1-node2'));
  t.deepEqual(c.regressions, []);
  t.deepEqual(c.hosts, { added: [], removed: ['node3'] });
  const back = compareReports(load('limit-node1-node2'), load('healthy'));
  t.deepEqual(back.regressions, []);
  t.deepEqual(back.hosts, { added: ['node3'], removed: [] });
});

test('a baseline from another cluster: nothing compared, and it says so', (t) => {
  const c = compareReports(load('healthy'), load('other-cluster'));
  t.deepEqual(c.regressions, []);
  t.deepEqual(c.resolved, []);
  t.deepEqual(c.compared, { hosts: 0, checks: 0, paths: 0, diagnoses: 0 });
  t.deepEqual(c.hosts, { added: ['worker-a', 'worker-b', 'worker-c'], removed: ['node1', 'node2', 'node3'] });
  t.true(c.notes.some((n) => /no host in common with the baseline/.test(n)));
});

test('an interrupted run on either side: the unfinished node is not compared, never a regression or resolved', (t) => {
  const c = compareReports(load('healthy'), load('interrupted-node3'));
  t.deepEqual(c.regressions, []);
  t.is(c.compared.hosts, 2);
  t.true(c.notes.some((n) => /this run was interrupted \(SIGINT\) before it finished node3/.test(n)));
  const back = compareReports(load('interrupted-node3'), load('healthy'));
  t.deepEqual(back.regressions, []);
  t.deepEqual(back.resolved, []);
  t.true(back.notes.some((n) => /the baseline run was interrupted \(SIGINT\) before it finished node3/.test(n)));
});

test('a baseline of another tool version: compared where both have the check, the rest said', (t) => {
  const base = copy(load('rules-missing-node2'));
  base.tool.version = '0.0.9';
  for (const r of base.results) if (r.check === 'kernel.counters') r.check = 'kernel.snmp';
  const c = compareReports(base, load('healthy'));
  t.deepEqual(c.baseline.version, '0.0.9');
  t.true(c.notes.some((n) => /written by kubespray-validate 0\.0\.9, this is /.test(n)));
  t.true(c.notes.some((n) => /checks only in the baseline: kernel\.snmp/.test(n)));
  t.true(c.notes.some((n) => /checks only in this run: kernel\.counters/.test(n)));
  t.deepEqual(keys(c.resolved, 'check'), [
    'check node2 dns.nodelocaldns.tcp',
    'check node2 dns.nodelocaldns.udp',
    'check node2 nodelocaldns.iptables',
  ]);
});

test('CoreDNS pods with new IPs (an upgrade recreates them): endpoint paths compared per node, together', (t) => {
  const base = load('healthy');
  const slow = copy(load('slow-coredns-pod2'));
  const old = slow.probes.find((p) => p.role === 'coredns-endpoint' && p.endpointHost === 'node2')!.server;
  const moved = old.replace(/\.\d+$/, '.9');
  for (const p of slow.probes) if (p.server === old) p.server = moved;
  const c = compareReports(base, slow);
  t.true(c.notes.some((n) => n.includes('CoreDNS endpoints changed') && n.includes(moved)));
  const lat = c.regressions.filter((x) => x.kind === 'latency' && x.path?.role === 'coredns-endpoint');
  t.true(lat.length >= 3, JSON.stringify(lat));
  t.true(lat.every((x) => x.path!.server === '*'));
  t.false(
    c.notes.some((n) => /DNS paths on compared hosts/.test(n)),
    'no endpoint path left uncompared',
  );
});

test('the cluster settings differ: said, and the hosts still compared', (t) => {
  const now = copy(load('healthy-again'));
  now.cluster.corednsIp = '198.18.250.3';
  const c = compareReports(load('healthy'), now);
  t.true(c.notes.some((n) => /cluster settings differ \(corednsIp "[\d.]+" → "198\.18\.250\.3"\)/.test(n)));
  t.is(c.compared.hosts, 3);
});

test('a diagnosis named more severely, or on more hosts, is a regression', (t) => {
  const base = copy(load('rules-missing-node2'));
  const now = copy(base);
  const d = now.diagnoses.find((x) => x.id === 'nodelocaldns-rules-missing')!;
  base.diagnoses.find((x) => x.id === 'nodelocaldns-rules-missing')!.severity = 'warn';
  d.hosts = ['node2', 'node1'];
  const c = compareReports(base, now);
  t.deepEqual(keys(c.regressions), [
    'diagnosis node1 nodelocaldns-rules-missing',
    'diagnosis node2 nodelocaldns-rules-missing',
  ]);
  t.like(
    c.regressions.find((x) => x.host === 'node2'),
    { before: 'warn', after: 'fail' },
  );
  t.like(
    c.regressions.find((x) => x.host === 'node1'),
    { before: null, after: 'fail' },
  );
});

test('withComparison: exit codes keep their meaning; --strict makes a regression fail the run', (t) => {
  const base = load('healthy');
  const slow = load('slow-coredns-pod2');
  const c = compareReports(base, slow);
  t.true(c.regressions.length > 0);
  t.is(slow.summary.exitCode, 0);
  t.is(withComparison(slow, c, false).summary.exitCode, 0);
  t.is(withComparison(slow, c, true).summary.exitCode, 1);
  t.is(withComparison(slow, c, true).comparison, c);
  const down = load('sshd-down-node3');
  const cd = compareReports(base, down);
  t.is(withComparison(down, cd, false).summary.exitCode, 3);
  t.is(withComparison(down, cd, true).summary.exitCode, 1);
  const none = compareReports(base, load('healthy-again'));
  t.is(withComparison(load('healthy-again'), none, true).summary.exitCode, 0);
  t.is(withComparison(load('rules-missing-node2'), none, false).summary.exitCode, 1);
});

test('human output: the diagnoses, then what changed since the baseline date; the same change on many hosts is one line', (t) => {
  const base = load('healthy');
  const now = copy(load('rules-missing-node2'));
  // the same check broken on two more hosts, to see the grouping
  for (const r of now.results) if (r.check === 'nodelocaldns.iptables' && r.host !== 'node2') r.status = 'fail';
  const report = withComparison(now, compareReports(base, now), false);
  const out = renderHuman(report, { color: false, strict: false });
  const lines = out.split('\n');
  const date = new Date(base.startedAt).toISOString().slice(0, 10);
  // the header, the answer (the diagnosis and its fix), then the changes
  t.true(out.startsWith('kubespray-validate '), out.slice(0, 200));
  const diagnosis = lines.findIndex((l) => l.startsWith('✖ nodelocaldns-rules-missing'));
  const changes = lines.findIndex((l) => l.startsWith(`Changes since ${date} `));
  t.true(diagnosis > 0 && changes > diagnosis, out.slice(0, 2000));
  t.regex(lines[changes + 1]!, /^ {2}\d+ regressions, 0 resolved; compared 3 node\(s\)/);
  t.regex(out, /✖ nodelocaldns\.iptables: pass → fail — on node1, node2, node3\n/);
  t.regex(out, /✖ node2: nodelocaldns-rules-missing named \(fail\)/);
  t.regex(out, /\d+ regression\(s\) since the baseline in [\d.]+s — exit 1\n$/);
  t.false(renderHuman(now, { color: false, strict: false }).includes('Changes since'));
});

test('human output: hosts added/removed and notes', (t) => {
  const c = compareReports(load('healthy'), load('other-cluster'));
  const out = renderHuman(withComparison(load('other-cluster'), c, false), { color: false, strict: false });
  t.regex(out, /no regressions, 0 resolved; compared 0 node\(s\)/);
  t.regex(out, /Hosts added \(not in the baseline\): worker-a, worker-b, worker-c/);
  t.regex(out, /Hosts removed \(in the baseline, not in this run\): node1, node2, node3/);
  t.regex(out, /Notes\n {4}- no host in common/);
});

test('JUnit: a regressions suite, failures only under --strict', (t) => {
  const now = load('slow-coredns-pod2');
  const report = withComparison(now, compareReports(load('healthy'), now), false);
  const n = report.comparison!.regressions.length;
  const lax = renderJunit(report, false);
  t.regex(lax, new RegExp(`<testsuite name="regressions since [^"]+" tests="${n}" failures="0"`));
  t.regex(lax, /<testcase classname="node1" name="latency dns\.coredns-endpoint\.(udp|tcp)">/);
  t.regex(lax, /REGRESSION: node1: DNS over/);
  const strict = renderJunit(withComparison(now, report.comparison!, true), true);
  t.regex(strict, new RegExp(`<testsuite name="regressions since [^"]+" tests="${n}" failures="${n}"`));
  t.regex(strict, /<failure message="node1: DNS over [^"]+" type="regression">/);
  t.false(renderJunit(now, false).includes('regressions since'));
});

// ---------------------------------------------------------------- reading report files

function err(text: string, label = 'old.json'): string {
  try {
    parseReport(text, label);
  } catch (e) {
    if (!(e instanceof ReportFileError)) throw e;
    return e.message;
  }
  return '(no error)';
}

test('a file that is not a schemaVersion 1 report: one line naming the file', (t) => {
  const good = load('healthy');
  const variant = (f: (r: Record<string, unknown>) => void) => {
    const r = copy(good) as unknown as Record<string, unknown>;
    f(r);
    return JSON.stringify(r);
  };
  const cases: [string, RegExp][] = [
    ['{"schemaVersion": 1,', /^old\.json: not a JSON report \(/],
    ['', /^old\.json: not a JSON report/],
    ['[1,2]', /^old\.json: not a kubespray-validate report \(the JSON is a list/],
    ['null', /^old\.json: not a kubespray-validate report \(the JSON is a null/],
    ['"text"', /^old\.json: not a kubespray-validate report \(the JSON is a string/],
    ['{"hosts": []}', /^old\.json: not a kubespray-validate report \(no schemaVersion\)$/],
    [
      variant((r) => (r.schemaVersion = 2)),
      /^old\.json: schemaVersion 2 is not supported \(this version reads schemaVersion 1\)$/,
    ],
    [variant((r) => (r.schemaVersion = '1')), /^old\.json: schemaVersion "1" is not supported/],
    [variant((r) => delete r.results), /^old\.json: not a schemaVersion 1 report: "results" is not a list$/],
    [variant((r) => delete r.tool), /tool\.version is missing/],
    [variant((r) => delete r.startedAt), /startedAt is missing/],
    [
      variant((r) => ((r.results as Record<string, unknown>[])[3]!.status = 'ok')),
      /^old\.json: not a schemaVersion 1 report: results\[3\] has status "ok", not one of pass, warn, fail, error, skip$/,
    ],
    [variant((r) => ((r.results as unknown[])[0] = 7)), /results\[0\] is not an object/],
    [
      variant((r) => ((r.probes as Record<string, unknown>[])[1]!.sent = 'five')),
      /probes\[1\] lacks the numbers sent and answered/,
    ],
    [variant((r) => ((r.probes as Record<string, unknown>[])[0]!.role = 'pod')), /probes\[0\] has role "pod"/],
    [variant((r) => ((r.probes as Record<string, unknown>[])[0]!.latencyMs = {})), /probes\[0\] has no latencyMs\.p50/],
    [
      variant((r) => ((r.hosts as Record<string, unknown>[])[0]!.inspected = 'yes')),
      /hosts\[0\] has no "inspected" flag/,
    ],
    [
      variant((r) => (r.diagnoses = [{ id: 'x', hosts: 'node1', severity: 'fail' }])),
      /diagnoses\[0\] has no list of hosts/,
    ],
  ];
  for (const [text, re] of cases) {
    const m = err(text);
    t.regex(m, re, text.slice(0, 80));
    t.false(m.includes('\n'), 'one line');
  }
  t.is(err(variant(() => {})), '(no error)');
  t.is(err(`\uFEFF${variant(() => {})}`), '(no error)', 'a byte order mark is fine');
  t.regex(err('x', 'evil\nname.json'), /^evil\?name\.json: /, 'control characters in the name do not break the line');
});

test('readReport: a missing file or a directory is one line naming it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-compare-'));
  try {
    const missing = join(dir, 'nope.json');
    t.throws(() => readReport(missing), {
      instanceOf: ReportFileError,
      message: `${missing}: cannot read the report: no such file`,
    });
    t.throws(() => readReport(dir, `--baseline ${dir}`), {
      message: `--baseline ${dir}: cannot read the report: is a directory`,
    });
    writeFileSync(join(dir, 'v2.json'), '{"schemaVersion": 2}');
    t.throws(() => readReport(join(dir, 'v2.json')), { message: /v2\.json: schemaVersion 2 is not supported/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the comparison object has the contract shape', (t) => {
  const c: Comparison = compareReports(load('healthy'), load('rules-missing-node2'));
  t.deepEqual(Object.keys(c.baseline).sort(), ['startedAt', 'version']);
  for (const x of [...c.regressions, ...c.resolved]) {
    t.true(['check', 'diagnosis', 'host', 'latency', 'probe'].includes(x.kind));
    t.is(typeof x.id, 'string');
    t.is(typeof x.summary, 'string');
    t.false(x.summary.includes('\n'));
    t.true('before' in x && 'after' in x);
  }
});

// ---------------------------------------------------------------- never crash on a report file

/** mulberry32: small, seeded (as in fuzz.test.ts), so a failure can be replayed */
function rng(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD: unknown[] = [
  null,
  0,
  -1,
  1e308,
  '',
  'x',
  'two\nlines',
  '__proto__',
  true,
  [],
  {},
  [null],
  { p50: 'x' },
  'NaN',
];

/** Replace, delete or retype a few values anywhere in the document. */
function mutateDoc(doc: unknown, r: () => number): unknown {
  const copyDoc = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    // walk down to a random container
    let node: Record<string, unknown> | unknown[] = copyDoc;
    for (let depth = 0; depth < 6; depth++) {
      const ks = Object.keys(node);
      if (!ks.length) break;
      const k = ks[Math.floor(r() * ks.length)]!;
      const next = (node as Record<string, unknown>)[k];
      if (next === null || typeof next !== 'object' || r() < 0.25) {
        const what = r();
        if (what < 0.3) delete (node as Record<string, unknown>)[k];
        else (node as Record<string, unknown>)[k] = ODD[Math.floor(r() * ODD.length)];
        break;
      }
      node = next as Record<string, unknown>;
    }
  }
  return copyDoc;
}

test('2,000 mutated reports: either one ReportFileError line, or a comparison that renders (diff, and --baseline with this run as the other side)', (t) => {
  const pairs = [
    ['healthy', 'rules-missing-node2'],
    ['fixed-node3', 'reboot-node3'],
    ['healthy', 'slow-coredns-pod2'],
    ['interrupted-node3', 'sshd-down-node3'],
  ] as const;
  const r = rng(14);
  let loaded = 0;
  for (let i = 0; i < 2000; i++) {
    const [a, b] = pairs[i % pairs.length]!;
    const docs = [load(a), load(b)].map((d, j) => ((i + j) % 2 === 0 ? mutateDoc(d, r) : d));
    try {
      const [x, y] = docs.map((d, j) => parseReport(JSON.stringify(d), j ? 'new.json' : 'old.json'));
      loaded++;
      const c = compareReports(x!, y!);
      for (const x of [...c.regressions.map((e) => e.summary), ...c.resolved.map((e) => e.summary), ...c.notes])
        if (x.includes('\n')) t.fail(`case ${i}: ${x}`);
      const lines = renderComparison(c, false);
      if (!lines[0]!.startsWith('Changes since')) t.fail(`case ${i}: ${lines[0]}`);
      // --baseline: a (mutated) file as the baseline, this run's own report as the current one
      if (i % 2 === 0) {
        renderHuman(withComparison(y!, c, i % 3 === 0), { color: false, strict: false });
        renderJunit(withComparison(y!, c, true), true);
      }
    } catch (e) {
      if (!(e instanceof ReportFileError)) {
        t.fail(`case ${i} (${a}, ${b}): ${(e as Error).stack}`);
        return;
      }
      if (e.message.includes('\n')) t.fail(`case ${i}: more than one line: ${e.message}`);
    }
  }
  t.log(`${loaded} of 2000 mutated pairs were still reports and compared`);
  t.true(loaded > 200 && loaded < 2000);
});

test("Felix's own fix (TX off, RX on) is off: after the ethtool fix it is no regression; TX on again is", (t) => {
  const base = load('fixed-node3');
  const felix = copy(base);
  for (const r of felix.results)
    if (r.check === 'overlay.offload' && r.host === 'node3')
      r.evidence = { ...r.evidence, 'tx-checksumming': false, 'rx-checksumming': true };
  t.deepEqual(
    compareReports(base, felix).regressions.filter((x) => x.id === 'overlay.offload'),
    [],
  );
  const txBack = copy(felix);
  for (const r of txBack.results)
    if (r.check === 'overlay.offload' && r.host === 'node3')
      r.evidence = { ...r.evidence, 'tx-checksumming': true, 'rx-checksumming': true };
  t.like(
    compareReports(felix, txBack).regressions.find((x) => x.id === 'overlay.offload'),
    { host: 'node3', before: 'off', after: 'on' },
  );
});
