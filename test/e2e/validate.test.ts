// The validator end to end against the namespace lab: every lab fault yields exactly its
// diagnosis on exactly its hosts and the right exit code; the seed's fault yields
// checksum-offload and --fix then passes; a healthy lab exits 0 with no failing diagnosis.
import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useLab } from '../lab/lab.js';
import { failing, tempKnownHosts, validateJson } from './helpers.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3 });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

const diag = (report: Report, id: string) => report.diagnoses.find((d) => d.id === id);

async function check(fault: Parameters<ReturnType<typeof lab>['fault']>[0] | null, nodes?: string[]) {
  const l = lab();
  await l.clear();
  if (fault) await l.fault(fault, nodes ? { nodes } : undefined);
  try {
    return await validateJson(l.inventoryDir, kh.file);
  } finally {
    if (fault) await l.clear();
  }
}

test.serial('healthy lab: exit 0, every node inspected, no failing diagnosis', async (t) => {
  const { run, report } = await check(null);
  t.is(run.code, 0, run.stdout.slice(0, 3000));
  t.is(report.summary.exitCode, 0);
  t.true(report.hosts.every((h) => h.inspected));
  t.deepEqual(failing(report), []);
  t.is(report.summary.fail, 0);
  // every role was probed from every node, over both transports
  for (const h of ['node1', 'node2', 'node3'])
    for (const role of ['nodelocaldns', 'coredns-service', 'coredns-endpoint'])
      for (const tr of ['udp', 'tcp'])
        t.true(
          report.probes.some(
            (p) => p.host === h && p.role === role && p.transport === tr && p.answered === p.sent && p.sent > 0,
          ),
          `${h} ${role} ${tr}`,
        );
});

test.serial(
  "the seed's fault (checksum offload on every node): checksum-offload, exit 1, and --fix passes",
  async (t) => {
    const l = lab();
    await l.clear();
    await l.fault('checksum');
    try {
      const { run, report } = await validateJson(l.inventoryDir, kh.file);
      t.is(run.code, 1, JSON.stringify(report.diagnoses).slice(0, 3000));
      const d = diag(report, 'checksum-offload');
      t.truthy(d, JSON.stringify(report.diagnoses));
      t.is(d!.severity, 'fail');
      t.true(d!.fix.some((f) => f.includes('ethtool --offload vxlan.calico rx off tx off')));
      t.falsy(diag(report, 'coredns-unreachable'));
      t.falsy(diag(report, 'udp-blocked'));
      t.falsy(diag(report, 'nodelocaldns-rules-missing'));
      const fixed = await validateJson(l.inventoryDir, kh.file, ['--fix']);
      t.is(
        fixed.run.code,
        0,
        JSON.stringify({
          fix: fixed.report.fix?.applied,
          diagnoses: fixed.report.diagnoses,
          bad: fixed.report.results.filter((r) => r.status !== 'pass' && r.status !== 'warn'),
        }).slice(0, 4000),
      );
      t.truthy(fixed.report.fix);
      t.true(fixed.report.fix!.applied.length > 0 && fixed.report.fix!.applied.every((a) => a.ok));
      t.truthy(fixed.report.fix!.before.diagnoses.find((x) => x.id === 'checksum-offload'));
      t.deepEqual(failing(fixed.report), []);
    } finally {
      await l.clear();
    }
  },
);

test.serial('checksum fault on one node names that node only', async (t) => {
  const { run, report } = await check('checksum', ['node3']);
  t.is(run.code, 1);
  const bad = report.results.filter((r) => r.status === 'fail' || r.status === 'error');
  t.deepEqual([...new Set(bad.map((r) => r.host))], ['node3'], 'only node3 has failing checks');
  t.deepEqual([...new Set(bad.map((r) => r.check))].sort(), [
    'dns.coredns-endpoint.tcp',
    'dns.coredns-service.tcp',
    'dns.nodelocaldns.tcp',
    'dns.nodelocaldns.udp',
  ]);
  const d = diag(report, 'checksum-offload');
  t.truthy(d, JSON.stringify(report.diagnoses));
  t.true(d!.hosts.includes('node3'));
  t.false(d!.hosts.includes('node1'));
});

// fault, nodes, diagnosis, its hosts, exit code, and the checks that must flip (fail/error) — only
// on the touched nodes — for node-scoped faults
const cases: [
  Parameters<ReturnType<typeof lab>['fault']>[0],
  string[] | undefined,
  string,
  string[] | null,
  number,
  string[] | null,
][] = [
  // node2's pod loses NodeLocalDNS as node2 does
  [
    'rules-missing',
    ['node2'],
    'nodelocaldns-rules-missing',
    ['node2'],
    1,
    [
      'dns.nodelocaldns.tcp',
      'dns.nodelocaldns.udp',
      'dns.pod.nodelocaldns.tcp',
      'dns.pod.nodelocaldns.udp',
      'nodelocaldns.iptables',
    ],
  ],
  [
    'nodelocaldns-down',
    ['node2'],
    'nodelocaldns-down',
    ['node2'],
    1,
    ['dns.nodelocaldns.tcp', 'dns.nodelocaldns.udp', 'dns.pod.nodelocaldns.tcp', 'dns.pod.nodelocaldns.udp'],
  ],
  ['coredns-down', undefined, 'coredns-unreachable', null, 1, null],
  ['endpoint-down', undefined, 'coredns-endpoint-down', null, 1, null],
  ['mtu', ['node2'], 'overlay-mtu', ['node2'], 1, ['overlay.mtu']],
  ['udp-blocked', undefined, 'udp-blocked', null, 1, null],
  [
    'udp-blocked',
    ['node1'],
    'udp-blocked',
    ['node1'],
    1,
    ['dns.coredns-endpoint.udp', 'dns.coredns-service.udp', 'dns.nodelocaldns.udp'],
  ],
  ['sshd-down', ['node3'], 'host-unreachable', ['node3'], 3, ['ssh.reachable']],
];

for (const [fault, nodes, id, hosts, code, flips] of cases) {
  test.serial(
    `${fault}${nodes ? ' on ' + nodes.join(',') : ''} -> ${id}, exit ${code}, never checksum-offload`,
    async (t) => {
      const { run, report } = await check(fault, nodes);
      t.is(run.code, code, `${JSON.stringify(report.diagnoses)}`);
      const d = diag(report, id);
      t.truthy(d, `diagnoses: ${report.diagnoses.map((x) => x.id).join(', ')}`);
      if (hosts) t.deepEqual([...d!.hosts].sort(), hosts);
      t.falsy(diag(report, 'checksum-offload'));
      t.deepEqual(
        failing(report).filter((x) => x !== id),
        [],
        'no other failing diagnosis',
      );
      t.true(d!.evidence.length > 0);
      if (flips && nodes) {
        const bad = report.results.filter((r) => r.status === 'fail' || r.status === 'error');
        t.deepEqual(
          [...new Set(bad.map((r) => r.host))].sort(),
          [...nodes].sort(),
          'only the touched nodes have failing checks',
        );
        t.deepEqual([...new Set(bad.map((r) => r.check))].sort(), flips, 'exactly these checks flip');
      }
    },
  );
}

test.serial(
  '--forks 1, two control-plane nodes, kubectl failing on the first: the second answers, no deadlock',
  async (t) => {
    const l = lab();
    await l.clear();
    const dir = mkdtempSync(join(tmpdir(), 'ksv-cp-'));
    const marker = join(l.dir, `kubectl-fail-${l.nodes[0]!.address}`);
    try {
      cpSync(l.inventoryDir, dir, { recursive: true });
      const hosts = readFileSync(join(dir, 'hosts.yaml'), 'utf8').replace(
        '    kube_control_plane:\n      hosts:\n        node1:\n',
        '    kube_control_plane:\n      hosts:\n        node1:\n        node2:\n',
      );
      writeFileSync(join(dir, 'hosts.yaml'), hosts);
      writeFileSync(marker, '');
      const { run, report } = await validateJson(dir, kh.file, ['--forks', '1']);
      t.is(run.code, 0, JSON.stringify(report.results.filter((r) => r.status !== 'pass')));
      const ep = report.results.find((r) => r.check === 'coredns.endpoints')!;
      t.is(ep.host, 'node2');
      t.is(ep.status, 'pass');
    } finally {
      rmSync(marker, { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test.serial(
  'a node with rules in iptables-legacy too: the legacy backend is read there (only there) and iptables.backend warns',
  async (t) => {
    const l = lab();
    await l.clear();
    // a harmless rule (a destination nothing uses) creates legacy tables in node2's namespace only
    await l.exec('node2', 'iptables-legacy -t nat -A OUTPUT -d 198.18.255.254/32 -p udp --dport 53 -j ACCEPT');
    try {
      const { report } = await validateJson(l.inventoryDir, kh.file);
      const backend = (h: string) => report.results.find((r) => r.check === 'iptables.backend' && r.host === h);
      t.is(backend('node2')?.status, 'warn', JSON.stringify(backend('node2')));
      t.true(Number((backend('node2')?.evidence as { legacy?: number }).legacy) >= 1);
      t.is(backend('node1')?.status, 'pass', JSON.stringify(backend('node1')));
    } finally {
      await l.exec('node2', 'iptables-legacy -t nat -F OUTPUT');
    }
  },
);
