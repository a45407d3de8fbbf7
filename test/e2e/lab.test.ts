// The lab itself: every node reachable over SSH with the lab key; DNS answers over UDP and TCP via
// NodeLocalDNS and via the service IP from every node; each fault shows its symptom with dig.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { useLab, type Lab } from '../lab/lab.js';
import { digFrom, nftTable, until, withFault } from '../lab/probe.js';

const lab = useLab(test, { nodes: 3 });

const dig = digFrom;

function sshOk(l: Lab, node: string): boolean {
  const n = l.nodes.find((x) => x.name === node)!;
  const r = spawnSync(
    'ssh',
    [
      '-i',
      l.keyFile,
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'ConnectTimeout=3',
      '-o',
      'LogLevel=ERROR',
      `root@${n.address}`,
      'cat /proc/sys/net/ipv4/ip_forward',
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  return r.status === 0 && r.stdout.trim() === '1';
}

test.serial('every node: OpenSSH with the lab key, ip_forward on', (t) => {
  const l = lab();
  for (const n of l.nodes) t.true(sshOk(l, n.name), n.name);
});

test.serial('every node: DNS over UDP and TCP via NodeLocalDNS, the service and each endpoint', (t) => {
  const l = lab();
  for (const n of l.nodes) {
    for (const server of [l.nodelocaldnsIp, l.corednsIp, ...l.endpoints.map((e) => e.ip)]) {
      t.is(dig(l, n.name, server), 'NOERROR', `${n.name} udp ${server}`);
      t.is(dig(l, n.name, server, ['+tcp']), 'NOERROR', `${n.name} tcp ${server}`);
    }
    t.is(dig(l, n.name, l.nodelocaldnsIp, ['-x'], l.serviceCidr.replace(/0\/\d+$/, '1')), 'NOERROR', 'reverse');
    t.is(dig(l, n.name, l.nodelocaldnsIp, [], l.externalName), 'NOERROR', 'external name');
  }
});

test.serial('checksum: TCP across vxlan.calico fails from the node, UDP works; offload off lifts it', async (t) => {
  const l = lab();
  await withFault(l, 'checksum', ['node3'], async () => {
    const ep = l.endpoints[0]!.ip;
    t.is(dig(l, 'node3', ep, ['+tcp']), 'TIMEOUT');
    t.is(dig(l, 'node3', ep), 'NOERROR');
    t.is(dig(l, 'node2', ep, ['+tcp']), 'NOERROR', 'other nodes unaffected');
    await l.exec('node3', 'ethtool --offload vxlan.calico rx off tx off');
    t.true(await until(() => !nftTable(l.nodes[2]!.ns, 'inet', 'ksvlab')), 'the watcher removed the corruption');
    t.is(dig(l, 'node3', ep, ['+tcp']), 'NOERROR', 'the fix lifts it');
  });
});

test.serial('rules-missing: NodeLocalDNS refused on that node only', async (t) => {
  const l = lab();
  await withFault(l, 'rules-missing', ['node2'], async () => {
    t.not(dig(l, 'node2', l.nodelocaldnsIp), 'NOERROR');
    t.is(dig(l, 'node1', l.nodelocaldnsIp), 'NOERROR');
    t.false((await l.exec('node2', 'iptables-save')).includes('NodeLocal DNS Cache'));
  });
  t.is(dig(l, 'node2', l.nodelocaldnsIp), 'NOERROR', 'clear restores the rules');
});

test.serial('nodelocaldns-down: nothing listens on 169.254.25.10 on that node', async (t) => {
  const l = lab();
  await withFault(l, 'nodelocaldns-down', ['node2'], async () => {
    t.not(dig(l, 'node2', l.nodelocaldnsIp), 'NOERROR');
    t.is(dig(l, 'node2', l.corednsIp), 'NOERROR');
  });
});

test.serial('coredns-down: the service and every endpoint fail from every node', async (t) => {
  const l = lab();
  await withFault(l, 'coredns-down', undefined, async () => {
    for (const n of l.nodes) {
      t.not(dig(l, n.name, l.corednsIp), 'NOERROR');
      t.not(dig(l, n.name, l.corednsIp, ['+tcp']), 'NOERROR');
    }
  });
});

test.serial('endpoint-down: one CoreDNS pod fails, the other answers', async (t) => {
  const l = lab();
  await withFault(l, 'endpoint-down', undefined, async () => {
    t.not(dig(l, 'node3', l.endpoints[0]!.ip), 'NOERROR');
    t.is(dig(l, 'node3', l.endpoints[1]!.ip), 'NOERROR');
  });
});

test.serial('udp-blocked: UDP DNS fails from that node, TCP works', async (t) => {
  const l = lab();
  await withFault(l, 'udp-blocked', ['node1'], async () => {
    t.is(dig(l, 'node1', l.corednsIp), 'TIMEOUT');
    t.is(dig(l, 'node1', l.corednsIp, ['+tcp']), 'NOERROR');
    t.is(dig(l, 'node2', l.corednsIp), 'NOERROR');
  });
});

test.serial('sshd-down: no SSH on that node', async (t) => {
  const l = lab();
  await withFault(l, 'sshd-down', ['node3'], async () => {
    t.false(sshOk(l, 'node3'));
    t.true(sshOk(l, 'node1'));
  });
  t.true(sshOk(l, 'node3'));
});

test.serial('mtu: the overlay MTU equals its parent MTU (no room for the 50-byte VXLAN header)', async (t) => {
  const l = lab();
  await withFault(l, 'mtu', ['node2'], async () => {
    const links = JSON.parse(await l.exec('node2', 'ip -j link show')) as { ifname: string; mtu: number }[];
    const mtu = (n: string) => links.find((x) => x.ifname === n)!.mtu;
    t.is(mtu('vxlan.calico'), mtu('eth0'));
  });
});

test.serial('two labs coexist (prefix) and tear down without leftovers', async (t) => {
  const { startLab } = await import('../lab/lab.js');
  const other = await startLab({ nodes: 1, prefix: 'ksv-coexist' });
  try {
    t.not(other.index, lab().index);
    t.is(dig(other, 'node1', other.corednsIp), 'NOERROR');
    t.is(dig(lab(), 'node1', lab().corednsIp), 'NOERROR');
  } finally {
    await other.down();
  }
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  t.false(ns.includes(`ksv${other.index}-`));
  for (const ep of other.endpoints) t.false(ns.includes(ep.podNs), `pod namespace ${ep.podNs} removed`);
});
