// The validator end to end against the namespace lab: a healthy lab exits 0 with no failing diagnosis,
// every role probed from every node over both transports; a failing kubectl on one control-plane node
// and a node with iptables-legacy rules. Each lab fault's diagnosis is faults.test.ts's.
import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useLab } from '../lab/lab.js';
import { failing, tempKnownHosts, validateJson } from './helpers.js';

const lab = useLab(test, { nodes: 3 });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

test.serial('healthy lab: exit 0, every node inspected, no failing diagnosis', async (t) => {
  const l = lab();
  await l.clear();
  const { run, report } = await validateJson(l.inventoryDir, kh.file);
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
