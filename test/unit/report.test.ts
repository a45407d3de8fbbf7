import test from 'ava';
import { summarize, exitCode } from '../../src/report/summary.js';
import { renderJunit } from '../../src/report/junit.js';
import { probeCell, renderHuman } from '../../src/report/human.js';
import { evaluateNode, selectChecks } from '../../src/checks/registry.js';
import { CLUSTER } from './model.js';
import { jsonChunks, renderJson, writeJson } from '../../src/report/json.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../e2e/helpers.js';
import type { CheckResult, HostReport, ProbeResult, Report } from '../../src/types.js';

const up = (name: string): HostReport => ({ name, address: `198.18.0.${name.length}`, inspected: true, error: null });
const down = (name: string): HostReport => ({
  name,
  address: '198.18.0.99',
  inspected: false,
  error: 'unreachable: connect ECONNREFUSED 198.18.0.99:22',
});
const r = (host: string, status: CheckResult['status'], check = 'x.y'): CheckResult => ({
  check,
  host,
  status,
  summary: `${check} ${status}`,
  evidence: { lines: ['a <b> & "c"'] },
});

test('exit 0 when everything passed, warnings allowed', (t) => {
  t.is(exitCode([up('n1')], [r('n1', 'pass'), r('n1', 'warn')], false), 0);
});
test('--strict turns warnings into exit 1', (t) => {
  t.is(exitCode([up('n1')], [r('n1', 'pass'), r('n1', 'warn')], true), 1);
});
test('a failed check on an inspected node is exit 1, even with another node down', (t) => {
  t.is(exitCode([up('n1'), down('n2')], [r('n1', 'fail'), r('n2', 'error')], false), 1);
});
test('an unreachable node with no failure elsewhere is exit 3', (t) => {
  t.is(exitCode([up('n1'), down('n2')], [r('n1', 'pass'), r('n2', 'error', 'ssh.reachable')], false), 3);
});
test('a check that could not run on a reached node is exit 3, not 0', (t) => {
  t.is(exitCode([up('n1')], [r('n1', 'pass'), r('n1', 'error')], false), 3);
});
test('summary counts every status', (t) => {
  const s = summarize(
    [up('n1')],
    [r('n1', 'pass'), r('n1', 'pass'), r('n1', 'warn'), r('n1', 'skip'), r('n1', 'fail')],
    false,
  );
  t.deepEqual(s, { pass: 2, warn: 1, fail: 1, error: 0, skip: 1, exitCode: 1 });
});

function report(): Report {
  const hosts = [up('node1'), down('node2')];
  const results = [
    r('node1', 'pass', 'nodelocaldns.iptables'),
    r('node1', 'fail', 'dns.coredns-service.tcp'),
    r('node1', 'warn', 'overlay.checksum-offload'),
    r('node2', 'error', 'ssh.reachable'),
    r('node1', 'skip', 'overlay.mtu'),
  ];
  return {
    schemaVersion: 1,
    tool: { name: 'kubespray-validate', version: '0.1.0' },
    startedAt: new Date(0).toISOString(),
    durationMs: 1234,
    cluster: {
      dnsDomain: 'cluster.local',
      nodelocaldnsIp: '169.254.25.10',
      corednsIp: '198.18.128.3',
      networkPlugin: 'calico',
      calicoBackend: 'vxlan',
      kubeProxyMode: 'ipvs',
    },
    hosts,
    results,
    probes: [
      {
        host: 'node1',
        server: '169.254.25.10',
        role: 'nodelocaldns',
        transport: 'udp',
        name: 'kubernetes.default.svc.cluster.local',
        type: 'A',
        sent: 5,
        answered: 5,
        rcodes: { NOERROR: 5 },
        ok: 5,
        latencyMs: { p50: 1, max: 2 },
      },
      {
        host: 'node1',
        server: '198.18.128.3',
        role: 'coredns-service',
        transport: 'tcp',
        name: 'kubernetes.default.svc.cluster.local',
        type: 'A',
        sent: 5,
        answered: 2,
        rcodes: { NOERROR: 2 },
        ok: 2,
        latencyMs: { p50: 1, max: 2 },
      },
    ],
    diagnoses: [
      {
        id: 'checksum-offload',
        severity: 'fail',
        hosts: ['node1'],
        summary: 'TCP DNS across the overlay fails',
        evidence: ['tx-checksumming: on'],
        fix: ['ethtool --offload vxlan.calico rx off tx off'],
        remediations: [
          {
            text: 'ethtool --offload vxlan.calico rx off tx off',
            argv: ['ethtool', '--offload', 'vxlan.calico', 'rx', 'off', 'tx', 'off'],
            hosts: ['node1'],
            safe: true,
          },
        ],
      },
    ],
    summary: summarize(hosts, results, false),
  };
}

test('JUnit: one suite per host, failures and errors counted, XML escaped', (t) => {
  const x = renderJunit(report(), false);
  t.regex(x, /^<\?xml version="1.0"/);
  t.regex(x, /<testsuites name="kubespray-validate" tests="6" failures="2" errors="1" skipped="1"/);
  t.regex(x, /<testsuite name="node1" tests="4" failures="1" errors="0" skipped="1">/);
  t.regex(x, /<testcase classname="diagnosis" name="checksum-offload">/);
  t.true(x.includes('a &lt;b&gt; &amp; \\&quot;c\\&quot;'));
  t.false(/<b>/.test(x));
});

test('JUnit --strict makes warnings failures', (t) => {
  t.regex(renderJunit(report(), true), /<testsuite name="node1" tests="4" failures="2"/);
});

test('JUnit drops control characters XML cannot carry', (t) => {
  const rep = report();
  rep.results[1]!.summary = 'bad\u0001byte';
  t.true(renderJunit(rep, false).includes('badbyte'));
});

test('human: the diagnosis with its fix first, failing checks by id, one probe row per distinct result, verdict', (t) => {
  const text = renderHuman(report(), { color: false, strict: false });
  // node1's probes: one row, the node it covers at its end
  t.regex(text, /^node {2}5\/5 +- +- +2\/5 +- +- +node1$/m);
  t.regex(text, /^ {2}FAIL {2}dns\.coredns-service\.tcp {2}on node1 — dns\.coredns-service\.tcp fail$/m);
  t.regex(text, /node2 \(198\.18\.0\.99\): unreachable/);
  t.regex(text, /\$ ethtool --offload vxlan\.calico rx off tx off/);
  t.regex(text, /FAILED: .* exit 1/);
  t.false(text.includes('\u001b['));
  // the answer before the details
  t.true(text.indexOf('✖ checksum-offload  on node1') < text.indexOf('Failing checks'));
  t.true(text.indexOf('Failing checks') < text.indexOf('DNS probes'));
  // the evidence that decided a check, and a row per node, only with -v
  t.false(text.includes('a <b> & "c"'));
  const verbose = renderHuman(report(), { color: false, strict: false, verbose: true });
  t.regex(verbose, /^ {8}node1: dns\.coredns-service\.tcp fail\n {10}lines:\n {12}a <b> & "c"$/m);
  t.regex(verbose, /^node1 +5\/5/m);
});

const probe = (name: string, rcodes: Record<string, number>, ok: number, internal = true): ProbeResult => ({
  host: 'node1',
  server: '169.254.25.10',
  role: 'nodelocaldns',
  transport: 'udp',
  name,
  type: 'A',
  sent: 5,
  answered: Object.values(rcodes).reduce((a, b) => a + b, 0),
  rcodes,
  ok,
  internal,
  latencyMs: { p50: 1, max: 2 },
});

test('human probe table counts what the checks count: NOERROR with records, not NXDOMAIN or empty answers', (t) => {
  const svc = 'kubernetes.default.svc.cluster.local';
  const cases: [string, ProbeResult[], string, 'ok' | 'warn' | 'fail'][] = [
    ['all NOERROR with records', [probe(svc, { NOERROR: 5 }, 5)], '5/5', 'ok'],
    ['NXDOMAIN for a cluster name', [probe(svc, { NXDOMAIN: 5 }, 0)], '0/5', 'fail'],
    ['NOERROR without records (NODATA)', [probe(svc, { NOERROR: 5 }, 3)], '3/5', 'fail'],
    ['NXDOMAIN and SERVFAIL mixed in', [probe(svc, { NOERROR: 2, NXDOMAIN: 2, SERVFAIL: 1 }, 2)], '2/5', 'fail'],
    [
      'only the external name fails',
      [probe(svc, { NOERROR: 5 }, 5), probe('kubernetes.io', { NXDOMAIN: 5 }, 0, false)],
      '5/10',
      'warn',
    ],
  ];
  const status = { ok: 'pass', warn: 'warn', fail: 'fail' } as const;
  for (const [name, probes, text, state] of cases) {
    t.deepEqual(probeCell(probes), { text, state }, name);
    // the same verdict as the check computed from the same probes
    const dns = evaluateNode(
      {
        host: 'node1',
        cluster: CLUSTER,
        connection: { ok: true, error: null, address: 'node1', port: 22, user: 'root', become: false },
        facts: null,
        probes,
        counterDelta: null,
      },
      selectChecks(['dns.*']),
    );
    t.is(dns[0]!.status, status[state], name);
  }
  const rep = report();
  rep.probes = [probe(svc, { NXDOMAIN: 5 }, 0)];
  t.regex(renderHuman(rep, { color: false, strict: false }), /^node {2}0\/5 .* node1$/m);
});

test('JSON report written in pieces: the same text as one JSON.stringify, in pieces of bounded size', (t) => {
  const dir = join(ROOT, 'test', 'fixtures', 'bundles');
  const reports = readdirSync(dir)
    .filter((b) => b !== 'README.md')
    .map((b) => JSON.parse(readFileSync(join(dir, b, 'report.json'), 'utf8')) as Report);
  t.true(reports.length >= 10);
  const odd = {
    ...report(),
    cluster: {
      empty: {},
      none: [],
      gone: undefined,
      fn: () => 1,
      when: new Date(0),
      text: 'two\nlines "quoted" \u2026 \u0000',
      deep: [[[{ a: [] }]], { b: { c: [1, null, undefined] } }],
    },
    results: [undefined, { x: undefined }, [], {}],
  } as unknown as Report;
  for (const r of [...reports, report(), odd]) {
    t.is([...jsonChunks(r, 512)].join(''), renderJson(r));
    let written = '';
    writeJson(r, (s) => (written += s));
    t.is(written, renderJson(r));
  }
  // pieces stay near the asked size: a report is never one string
  const big = { ...reports[0]!, results: Array.from({ length: 2000 }, () => reports[0]!.results[0]!) };
  const pieces = [...jsonChunks(big, 4096)];
  t.true(pieces.length > 50);
  t.true(
    pieces.every((p) => p.length < 4096 * 2),
    String(Math.max(...pieces.map((p) => p.length))),
  );
});

test('JSON report round-trips and carries the contract fields', (t) => {
  const parsed = JSON.parse(renderJson(report()));
  t.is(parsed.schemaVersion, 1);
  t.deepEqual(Object.keys(parsed).sort(), [
    'cluster',
    'diagnoses',
    'durationMs',
    'hosts',
    'probes',
    'results',
    'schemaVersion',
    'startedAt',
    'summary',
    'tool',
  ]);
  t.is(parsed.summary.exitCode, 1);
});

test('human: offload left on without a fault is one note for the cluster, not a warning per node', (t) => {
  const r = report();
  const rs = ['node1', 'node2', 'node3'].map((host) => ({
    check: 'overlay.offload',
    host,
    status: 'pass' as const,
    summary: 'TX checksum offload is on for vxlan.calico',
    evidence: { device: 'vxlan.calico', 'tx-checksumming': true, 'rx-checksumming': true },
  }));
  const out = renderHuman({ ...r, results: [...r.results, ...rs] }, { color: false, strict: false });
  t.is(out.match(/TX checksum offload is on for vxlan\.calico on node1, node2, node3 — /g)?.length, 1);
  t.notRegex(out, /WARN .*overlay\.offload/);
  const off = rs.map((x) => ({ ...x, evidence: { ...x.evidence, 'tx-checksumming': false } }));
  t.notRegex(
    renderHuman({ ...r, results: [...r.results, ...off] }, { color: false, strict: false }),
    /checksum offload is on/,
  );
});
