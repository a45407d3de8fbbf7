// The pod side of the probe program as data: its lines on the program's stdin and stream (marked P,
// its own ids), its section of the round trip decoded into probes `from: "pod"` with the namespace
// and the pod's address, the pod namespace's counters filed with the node's, and what the checks
// and the human table make of a node without a pod namespace.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { probeScript } from '../../src/probe/program.js';
import { basePaths, endpointPaths } from '../../src/probe/paths.js';
import { MARK, POD_MARK, parseRoundTrip } from '../../src/run/roundtrip.js';
import { podKey } from '../../src/collect/counters.js';
import { evaluateNode, selectChecks } from '../../src/checks/registry.js';
import { probeTable } from '../../src/report/human.js';
import type { Endpoint, ProbeResult, Report, Target } from '../../src/types.js';
import { CLUSTER } from './model.js';
import { ROOT } from '../e2e/helpers.js';

const SNMP = readFileSync(join(ROOT, 'test', 'fixtures', 'collect', 'proc-net-snmp.txt'), 'utf8').trimEnd();
const EPS: Endpoint[] = [{ ip: '10.233.65.1', port: 53, nodeName: 'node2', podName: 'coredns-b', ready: true }];
const TARGET: Target = {
  name: 'node2',
  address: '192.0.2.11',
  port: 22,
  user: 'root',
  privateKeyFile: null,
  password: null,
  become: false,
  becomeMethod: 'sudo',
  becomeUser: 'root',
  becomePassword: null,
  jump: null,
  groups: [],
};
const opts = (pod = true) => ({
  count: 2,
  timeoutMs: 1000,
  markers: { before: MARK.before, probes: MARK.probes, after: MARK.after },
  idSeed: 100,
  lateWaitMs: 5000,
  podSubnets: ['10.233.64.0/18'],
  ...(pod ? { pod: { idSeed: 100 + 0x8000, markers: POD_MARK, prefer: ['10.233.66.9'] } } : {}),
});

/** What a program prints for its probe lines: every query answered with the address asked for. */
function answers(lines: string[]): string[] {
  return lines.map((l) => {
    const [p, k, , , , hex] = l.split(' ');
    const q = dnsPacket.decode(Buffer.from(hex!, 'hex'));
    const qq = q.questions![0]!;
    const r = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: q.questions,
      answers: [
        qq.type === 'PTR'
          ? { type: 'PTR', name: qq.name, data: 'kubernetes.default.svc.cluster.local' }
          : { type: 'A', name: qq.name, data: '10.233.0.1' },
      ],
    });
    return `R ${p} ${k} 0.500 ${r.toString('hex')}`;
  });
}

const linesOf = (script: string) =>
  script.split('\n').filter((l) => /^(P )?\d+ \d+ \S+ 53 (udp|tcp) [0-9a-f]+$/.test(l));

test("the pod side: its lines marked P on stdin and in the stream (before the node's and END), its own ids", (t) => {
  const prog = probeScript(basePaths(CLUSTER, { externalName: null }), opts());
  const lines = linesOf(prog.script);
  const own = lines.filter((l) => !l.startsWith('P '));
  const pod = lines.filter((l) => l.startsWith('P ')).map((l) => l.slice(2));
  t.is(own.length, pod.length);
  t.deepEqual(
    pod.map((l) => l.split(' ').slice(0, 5).join(' ')),
    own.map((l) => l.split(' ').slice(0, 5).join(' ')),
    'the same paths',
  );
  const id = (l: string) => dnsPacket.decode(Buffer.from(l.split(' ')[5]!, 'hex')).id;
  const ids = new Set(own.map(id));
  t.true(
    pod.every((l) => !ids.has(id(l))),
    'no id in common',
  );
  t.regex(prog.script, /'#KSV-POD\|#KSV-POD-BEFORE\|#KSV-POD-PROBES\|#KSV-POD-AFTER\|10\.233\.66\.9'/);
  const more = prog
    .extend(endpointPaths(CLUSTER, EPS, { externalName: null }))
    .trimEnd()
    .split('\n');
  t.is(more.at(-1), 'END');
  const firstOwn = more.findIndex((l) => !l.startsWith('P '));
  t.true(
    firstOwn > 0 &&
      more.slice(0, firstOwn).every((l) => l.startsWith('P ')) &&
      more.slice(firstOwn, -1).every((l) => !l.startsWith('P ')),
  );
  // without the option nothing is marked, and the program is told so
  const plain = probeScript(basePaths(CLUSTER, { externalName: null }), opts(false));
  t.false(linesOf(plain.script).some((l) => l.startsWith('P ')));
  t.false(plain.script.includes('#KSV-POD'));
});

function roundTrip(podSection: string, node: string[] = []): { stdout: string; prog: ReturnType<typeof probeScript> } {
  const prog = probeScript(basePaths(CLUSTER, { externalName: null }), opts());
  const lines = linesOf(prog.script);
  const own = lines.filter((l) => !l.startsWith('P '));
  const stdout =
    [
      MARK.uid,
      '0',
      MARK.gather,
      MARK.before,
      '@@snmp',
      SNMP,
      '@@rc 0',
      MARK.probes,
      ...answers(own),
      ...node,
      'DONE',
      MARK.after,
      '@@snmp',
      SNMP,
      '@@rc 0',
      podSection,
    ].join('\n') + '\n';
  return { stdout, prog };
}

/** The pod side's section of a round trip: node2's CoreDNS pod entered (and how, when given), its
 *  counters before and after (`after`: SNMP unless given), and answers to its probe lines. */
function podSection(pod: string[], o: { how?: string; after?: string } = {}): string {
  return [
    POD_MARK.section,
    'ns cni-0c4ca1b2-0000-4000-8000-000000000002 4242 10.233.65.1 cali2222222222b',
    'exit 0',
    ...(o.how ? [`how ${o.how}`] : []),
    POD_MARK.before,
    '@@snmp',
    SNMP,
    '@@rc 0',
    POD_MARK.probes,
    ...answers(pod),
    'DONE',
    POD_MARK.after,
    '@@snmp',
    o.after ?? SNMP,
    '@@rc 0',
  ].join('\n');
}

test("a pod section decodes into probes from the pod, with its namespace and address; its counters go with the node's", (t) => {
  const prog0 = probeScript(basePaths(CLUSTER, { externalName: null }), opts());
  const pod = linesOf(prog0.script)
    .filter((l) => l.startsWith('P '))
    .map((l) => l.slice(2));
  const csum = SNMP.replace(/^(Udp: \d+ \d+ \d+ \d+ \d+ \d+ )(\d+)/m, (_m, a: string) => `${a}7`);
  const { stdout, prog } = roundTrip(podSection(pod, { after: csum }));
  const out = parseRoundTrip(TARGET, { code: 0, stdout, stderr: '' }, [], { cluster: CLUSTER }, prog);
  t.false(out instanceof Error);
  if (out instanceof Error) return;
  const mine = out.probes.filter((p) => p.from === 'pod');
  const host = out.probes.filter((p) => p.from === 'host');
  t.is(mine.length, host.length);
  t.true(
    mine.every(
      (p) => p.ok === 2 && p.netns === 'cni-0c4ca1b2-0000-4000-8000-000000000002' && p.podIp === '10.233.65.1',
    ),
    JSON.stringify(mine[0]),
  );
  t.true(host.every((p) => p.ok === 2 && p.netns === undefined));
  t.deepEqual(out.facts.podProbe, {
    netns: {
      name: 'cni-0c4ca1b2-0000-4000-8000-000000000002',
      pid: 4242,
      addresses: ['10.233.65.1'],
      hostIf: 'cali2222222222b',
    },
    skipped: null,
    error: null,
  });
  const k = podKey('10.233.65.1', 'Udp.InCsumErrors');
  t.true(k in out.before! && k in out.after!, "filed under the pod's address");
  t.is(out.after![k]! - out.before![k]!, 7 - Number(/^Udp: \d+ \d+ \d+ \d+ \d+ \d+ (\d+)/m.exec(SNMP)![1]));
});

test("how the pod's namespace was entered is kept: setns in the program's own process, or nsenter and why", (t) => {
  const prog0 = probeScript(basePaths(CLUSTER, { externalName: null }), opts());
  const pod = linesOf(prog0.script)
    .filter((l) => l.startsWith('P '))
    .map((l) => l.slice(2));
  for (const how of ['setns', 'nsenter (setns: Operation not permitted)']) {
    const { stdout, prog } = roundTrip(podSection(pod, { how }));
    const out = parseRoundTrip(TARGET, { code: 0, stdout, stderr: '' }, [], { cluster: CLUSTER }, prog);
    if (out instanceof Error) return t.fail(out.message);
    t.is(out.facts.podProbe?.netns?.entered, how);
    t.is(out.facts.podProbe?.error, null, how);
    t.true(out.probes.some((p) => p.from === 'pod' && p.ok === 2));
  }
});

test('a node without a pod namespace, without python3, or whose nsenter failed: skip or error, said in its words', (t) => {
  const sel = selectChecks(['dns.pod.*']);
  const judge = (section: string | null) => {
    const { stdout, prog } = roundTrip(section ?? '');
    const out = parseRoundTrip(
      TARGET,
      { code: 0, stdout: section === null ? stdout.replace(/\n$/, '') : stdout, stderr: '' },
      [],
      { cluster: CLUSTER },
      prog,
    );
    if (out instanceof Error) throw out;
    return evaluateNode(
      {
        host: 'node2',
        cluster: CLUSTER,
        connection: { ok: true, error: null, address: 'x', port: 22, user: 'root', become: false },
        facts: out.facts,
        probes: out.probes,
        counterDelta: null,
      },
      sel,
    );
  };
  const none = judge([POD_MARK.section, 'none no pod network namespace on this node (no process …)'].join('\n'));
  t.is(none.length, 6);
  t.true(
    none.every(
      (r) => r.status === 'skip' && /^no pod network namespace on node2 .*--pod-probes create/.test(r.summary),
    ),
    none[0]!.summary,
  );
  const py = judge(
    [
      POD_MARK.section,
      "none no python3 on the node: the probes from a pod's network namespace need the python prober",
    ].join('\n'),
  );
  t.true(py.every((r) => r.status === 'skip' && /no python3/.test(r.summary)));
  const failed = judge(
    [
      POD_MARK.section,
      'ns - 4242 10.233.65.1 -',
      'exit 1',
      "nsenter: reassociate to namespace 'ns/net' failed: Operation not permitted",
    ].join('\n'),
  );
  t.true(
    failed.every((r) => r.status === 'fail' || r.status === 'error'),
    JSON.stringify(failed.map((r) => r.status)),
  );
  t.true(
    failed.some((r) => JSON.stringify(r).includes('exited 1: nsenter: reassociate')),
    JSON.stringify(failed[0]),
  );
  const old = judge(null);
  t.true(
    old.every((r) => r.status === 'skip' && /not in this recording/.test(r.summary)),
    'a recording from before the pod side',
  );
});

test('the human table: a row under each node for its pod, or why there is none', (t) => {
  const p = (host: string, from: 'host' | 'pod', ok: number): ProbeResult => ({
    host,
    from,
    server: '169.254.25.10',
    role: 'nodelocaldns',
    transport: 'udp',
    name: 'kubernetes.default.svc.cluster.local',
    type: 'A',
    sent: 3,
    answered: ok,
    ok,
    internal: true,
    rcodes: {},
    latencyMs: { p50: null, max: null },
    ...(from === 'pod' ? { podIp: '10.233.65.1', netns: 'cni-x' } : {}),
  });
  const report = {
    probes: [p('node2', 'host', 3), p('node2', 'pod', 0), p('node3', 'host', 3)],
    results: [
      {
        check: 'dns.pod.nodelocaldns.udp',
        host: 'node3',
        status: 'skip',
        summary: 'no pod network namespace on node3 (no process in a namespace …) (--pod-probes create …)',
        evidence: {},
      },
    ],
  } as unknown as Report;
  // one row per distinct result, the nodes it covers at its end
  const rows = probeTable(report, false);
  t.truthy(rows.find((l) => /^node {2}3\/3 .* node2, node3$/.test(l)));
  t.truthy(rows.find((l) => /^pod {3}0\/3 .* node2$/.test(l)));
  // -v: a row per node, its pod's row under it
  const lines = probeTable(report, false, true);
  const at = (s: string) => lines.findIndex((l) => l.startsWith(s));
  t.true(at('node2') >= 0 && lines[at('node2') + 1]!.startsWith('  pod 10.233.65.1'));
  t.regex(lines[at('node2') + 1]!, /^ {2}pod 10\.233\.65\.1\s+0\/3/);
  t.regex(lines[at('node2')]!, /^node2\s+3\/3/);
  t.is(
    lines[lines.length - 1],
    'no pod to probe from on node3 (dns.pod.* skipped; --pod-probes create makes one)',
    'nodes without a pod: one line for all',
  );
  // a hundred of them is still one line, naming them as a --limit pattern
  const many = {
    ...report,
    probes: [...report.probes, ...Array.from({ length: 100 }, (_, i) => p(`w${i}`, 'host', 3))],
    results: [
      ...report.results,
      ...Array.from({ length: 100 }, (_, i) => ({
        check: 'dns.pod.nodelocaldns.udp',
        host: `w${i}`,
        status: 'skip',
        summary: `no pod network namespace on w${i} (…)`,
        evidence: {},
      })),
    ],
  } as unknown as Report;
  const ml = probeTable(many, false);
  t.is(ml.filter((l) => l.startsWith('no pod to probe from')).length, 1);
  t.is(
    ml[ml.length - 1]!,
    'no pod to probe from on all:!node2 (101 of 102 nodes) (dns.pod.* skipped; --pod-probes create makes one)',
  );
  t.is(ml.filter((l) => l.startsWith('node ')).length, 1, 'the 101 nodes that answered alike: one row');
  // a pod side that failed is said on its node
  const err = {
    ...report,
    results: [
      {
        check: 'dns.pod.nodelocaldns.udp',
        host: 'node3',
        status: 'error',
        summary: "the probe program in cni-y exited 1: nsenter: reassociate to namespace 'ns/net' failed",
        evidence: {},
      },
    ],
  } as unknown as Report;
  const el = probeTable(err, false, true);
  t.regex(el[el.findIndex((l) => l.startsWith('node3')) + 1]!, /^ {2}pod\s+error: the probe program in cni-y exited 1/);
  t.truthy(
    probeTable(err, false).find(
      (l) =>
        l ===
        "pod on node3: error: the probe program in cni-y exited 1: nsenter: reassociate to namespace 'ns/net' failed",
    ),
  );
});
