// The lab itself: every node reachable over SSH with the lab key; DNS answers over UDP and TCP via
// NodeLocalDNS and via the service IP from every node; pods in containerd-named namespaces behind
// proxy ARP; each fault shows its symptom (dig, kernel counters, iptables counters, conntrack, ip) and
// lifts back to a healthy lab, also through the lab CLI. What the validator makes of each fault is
// faults.test.ts's.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { FAULTS, FAULT_DEFS, faultOps, faultTargets, listSaved, useLab, type Lab } from '../lab/lab.js';
import { both, conntrack, digFrom, digStatus, nftTable, ruleCounter, snmp, withFault } from '../lab/probe.js';
import { until } from '../lab/sys.js';
import { ROOT, failing, tempKnownHosts, validateJson } from './helpers.js';
import { gonePodIp } from '../lab/faults.js';

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

const ns = (l: Lab, node: string) => l.nodes.find((n) => n.name === node)!.ns;
const kubectl = (l: Lab, node: string, args: string[]) =>
  spawnSync(
    'ip',
    [
      'netns',
      'exec',
      ns(l, node),
      join(l.dir, 'bin', 'kubectl'),
      '--kubeconfig',
      '/etc/kubernetes/admin.conf',
      '-n',
      'kube-system',
      ...args,
    ],
    { encoding: 'utf8' },
  );

/** Every path (node -> server) answers over UDP and TCP; `after` names what was just lifted. */
function healthy(t: ExecutionContext, l: Lab, after = ''): void {
  for (const n of l.nodes)
    for (const s of [l.nodelocaldnsIp, l.corednsIp, ...l.endpoints.map((e) => e.ip)])
      t.is(both(l, n.name, s), 'NOERROR/NOERROR', `${after ? `after ${after}: ` : ''}${n.name} -> ${s}`);
}

test.serial(
  'pods live in containerd-named namespaces (cni-<uuid>) behind cali… veths the node sees with link_netnsid',
  async (t) => {
    const l = lab();
    const present = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const ep of l.endpoints) {
      t.regex(ep.podNs, /^cni-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      t.true(present.includes(ep.podNs), `${ep.podNs} registered under /var/run/netns`);
      // the CoreDNS pod's server really runs there, on the pod's address
      t.regex(
        spawnSync('ip', ['netns', 'exec', ep.podNs, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'], {
          encoding: 'utf8',
        }).stdout,
        new RegExp(` ${ep.ip.replace(/\./g, '\\.')}/32 `),
      );
      t.is(digStatus(ep.podNs, ep.ip), 'NOERROR');
      const links = JSON.parse(await l.exec(ep.node, 'ip -j link show')) as { ifname: string; link_netnsid?: number }[];
      const cali = links.find((x) => x.ifname === ep.hostIf);
      t.regex(ep.hostIf ?? '', /^cali[0-9a-f]{11}$/);
      t.is(typeof cali?.link_netnsid, 'number', JSON.stringify(cali));
    }
    // teardown finds them from the saved state alone
    const saved = listSaved().find((s) => s.prefix === l.prefix)!;
    for (const ep of l.endpoints) t.true(saved.namespaces.includes(ep.podNs));
  },
);

test.serial(
  'a pod resolves its gateway 169.254.1.1 by ARP, answered by proxy ARP on the node (no pinned neighbour)',
  async (t) => {
    const l = lab();
    const ep = l.endpoints[0]!;
    t.is(digStatus(ep.podNs, l.nodelocaldnsIp), 'NOERROR', 'the pod reaches NodeLocalDNS through its gateway');
    const neigh = spawnSync('ip', ['netns', 'exec', ep.podNs, 'ip', 'neigh', 'show', '169.254.1.1'], {
      encoding: 'utf8',
    }).stdout;
    t.regex(neigh, /lladdr ee:ee:ee:ee:ee:ee/);
    t.notRegex(neigh, /PERMANENT/);
    const conf = await l.exec(
      ep.node,
      `sysctl -n net.ipv4.conf.${ep.hostIf}.proxy_arp net.ipv4.neigh.${ep.hostIf}.proxy_delay net.ipv4.conf.${ep.hostIf}.forwarding`,
    );
    t.deepEqual(conf.trim().split('\n'), ['1', '0', '1']);
  },
);

test.serial(
  'overlay-blocked: VXLAN to node1 dropped — every path through its overlay fails on both transports, same-node paths work',
  async (t) => {
    const l = lab();
    const [ep0, ep1] = l.endpoints.map((e) => e.ip) as [string, string];
    await withFault(l, 'overlay-blocked', ['node1'], async () => {
      const rule = (await l.exec('node1', 'iptables-save -t filter'))
        .split('\n')
        .filter((x) => x.startsWith('-A INPUT'))[0];
      t.is(rule, '-A INPUT -i eth0 -p udp -m udp --dport 4789 -j DROP', 'first in INPUT');
      t.is(both(l, 'node1', ep0), 'NOERROR/NOERROR', 'node1 -> its own pod: no overlay');
      t.is(both(l, 'node2', ep1), 'NOERROR/NOERROR', 'node2 -> its own pod');
      t.is(both(l, 'node3', ep1), 'NOERROR/NOERROR', 'node3 -> node2: does not cross node1');
      t.is(both(l, 'node2', ep0), 'TIMEOUT/TIMEOUT', 'node2 -> node1');
      t.is(both(l, 'node3', ep0), 'TIMEOUT/TIMEOUT', 'node3 -> node1');
      t.is(both(l, 'node1', ep1), 'TIMEOUT/TIMEOUT', 'node1 -> node2: the replies are dropped');
      t.true(
        ruleCounter(ns(l, 'node1'), 'nft', 'filter', '--dport 4789 -j DROP') > 0,
        'the DROP counted the encapsulated packets',
      );
    });
    t.false(FAULT_DEFS['overlay-blocked'].ready(saved(l), l.nodes[0]!));
    healthy(t, l);
  },
);

test.serial(
  'ip-forward: ip_forward=0 on node1 turns its cali forwarding off, proxy ARP goes silent, its pod is unreachable even from node1',
  async (t) => {
    const l = lab();
    const ep = l.endpoints[0]!;
    await withFault(l, 'ip-forward', ['node1'], async () => {
      const conf = await l.exec(
        'node1',
        `sysctl -n net.ipv4.ip_forward net.ipv4.conf.${ep.hostIf}.forwarding net.ipv4.conf.${ep.hostIf}.proxy_arp`,
      );
      t.deepEqual(conf.trim().split('\n'), ['0', '0', '1'], 'proxy_arp still set, forwarding reset');
      t.is(both(l, 'node1', ep.ip), 'TIMEOUT/TIMEOUT', 'from its own node');
      t.is(both(l, 'node2', ep.ip), 'TIMEOUT/TIMEOUT', 'from another node');
      t.is(
        both(l, 'node1', l.endpoints[1]!.ip),
        'NOERROR/NOERROR',
        "node1's own traffic to other pods is not forwarded: unaffected",
      );
      const neigh = spawnSync('ip', ['netns', 'exec', ep.podNs, 'ip', 'neigh', 'show', '169.254.1.1'], {
        encoding: 'utf8',
      }).stdout;
      t.regex(neigh, /INCOMPLETE|FAILED/, `the pod's ARP for its gateway goes unanswered: ${neigh.trim()}`);
    });
    const conf = await l.exec('node1', `sysctl -n net.ipv4.ip_forward net.ipv4.conf.${ep.hostIf}.forwarding`);
    t.deepEqual(conf.trim().split('\n'), ['1', '1']);
    healthy(t, l);
  },
);

test.serial(
  "rules-shadowed: an ACCEPT ahead of node-cache's NOTRACK rules; all 12 rules present, DNS answers, the pods' queries are conntracked",
  async (t) => {
    const l = lab();
    const ep = l.endpoints[0]!;
    const node = ns(l, 'node1');
    const notrack = () => ruleCounter(node, 'nft', 'raw', '-A PREROUTING -d 169.254.25.10/32 -p udp');
    const tracked = (port: number) =>
      conntrack(node).some((c) => c.includes(`src=${ep.ip} dst=${l.nodelocaldnsIp} sport=${port} dport=53 `));
    const fromPod = (port: number) => digStatus(ep.podNs, l.nodelocaldnsIp, ['-b', `${ep.ip}#${port}`]);
    // healthy: a pod's query hits NOTRACK and leaves no conntrack entry
    let before = notrack();
    t.is(fromPod(40101), 'NOERROR');
    t.is(notrack(), before + 1);
    t.false(tracked(40101));
    await withFault(l, 'rules-shadowed', ['node1'], async () => {
      const raw = (await l.exec('node1', 'iptables-save -t raw')).split('\n');
      const shadow = raw.indexOf('-A PREROUTING ! -p 253 -j ACCEPT');
      const firstNotrack = raw.findIndex((x) => x.startsWith('-A PREROUTING') && x.includes('NOTRACK'));
      t.true(shadow >= 0 && shadow < firstNotrack, raw.join('\n'));
      t.is(
        (await l.exec('node1', 'iptables-save')).split('\n').filter((x) => x.includes('NodeLocal DNS Cache')).length,
        12,
        'every rule still there',
      );
      before = notrack();
      t.is(fromPod(40102), 'NOERROR');
      t.is(both(l, 'node1', l.nodelocaldnsIp), 'NOERROR/NOERROR');
      t.is(notrack(), before, 'NOTRACK never reached');
      t.true(tracked(40102), 'the query is in the conntrack table');
    });
    before = notrack();
    t.is(fromPod(40103), 'NOERROR');
    t.is(notrack(), before + 1, 'lifted: NOTRACK applies again');
    t.false(tracked(40103));
  },
);

test.serial(
  'rules-shadowed-legacy: the same on a node whose ruleset lives in iptables-legacy; lifting puts the nft ruleset back as it was',
  async (t) => {
    if (spawnSync('sh', ['-c', 'command -v iptables-legacy-save']).status !== 0) {
      t.log('iptables-legacy is not installed here: the legacy variant cannot be shown');
      t.pass();
      return;
    }
    const l = lab();
    const ep = l.endpoints[0]!;
    const node = ns(l, 'node1');
    const rules = async () =>
      (await l.exec('node1', 'iptables-nft-save')).split('\n').filter((x) => x.startsWith('-') || x.startsWith('*'));
    const original = await rules();
    await withFault(l, 'rules-shadowed-legacy', ['node1'], async () => {
      const raw = (await l.exec('node1', 'iptables-legacy-save -t raw')).split('\n');
      const shadow = raw.indexOf('-A PREROUTING ! -p 253 -j ACCEPT');
      const firstNotrack = raw.findIndex((x) => x.startsWith('-A PREROUTING') && x.includes('NOTRACK'));
      t.true(shadow >= 0 && shadow < firstNotrack, raw.join('\n'));
      t.is(
        (await l.exec('node1', 'iptables-legacy-save')).split('\n').filter((x) => x.includes('NodeLocal DNS Cache'))
          .length,
        12,
      );
      t.false((await l.exec('node1', 'iptables-nft-save 2>/dev/null')).includes('-A '), 'nothing left in iptables-nft');
      const before = ruleCounter(node, 'legacy', 'raw', '-A PREROUTING -d 169.254.25.10/32 -p udp');
      t.is(digStatus(ep.podNs, l.nodelocaldnsIp, ['-b', `${ep.ip}#40201`]), 'NOERROR');
      t.is(
        ruleCounter(node, 'legacy', 'raw', '-A PREROUTING -d 169.254.25.10/32 -p udp'),
        before,
        'NOTRACK never reached',
      );
      t.true(conntrack(node).some((c) => c.includes(`src=${ep.ip} dst=${l.nodelocaldnsIp} sport=40201 dport=53 `)));
      t.is(both(l, 'node1', l.corednsIp), 'NOERROR/NOERROR', "kube-proxy's DNAT moved along");
    });
    t.deepEqual(await rules(), original);
    t.false((await l.exec('node1', 'iptables-legacy-save')).includes('-A '), 'the legacy backend is empty again');
    healthy(t, l);
  },
);

test.serial(
  'checksum-udp: UDP leaving vxlan.calico corrupted while tx offload is on — UDP DNS across the overlay times out, TCP works, the pod counts Udp InCsumErrors; offload off lifts it',
  async (t) => {
    const l = lab();
    const ep = l.endpoints[0]!;
    await withFault(l, 'checksum-udp', ['node3'], async () => {
      const errs = snmp(ep.podNs, 'Udp', 'InCsumErrors');
      t.is(dig(l, 'node3', ep.ip), 'TIMEOUT');
      t.is(dig(l, 'node3', ep.ip, ['+tcp']), 'NOERROR');
      t.true(snmp(ep.podNs, 'Udp', 'InCsumErrors') > errs, 'counted where received');
      t.is(both(l, 'node3', l.nodelocaldnsIp), 'NOERROR/NOERROR', 'NodeLocalDNS forwards over TCP');
      t.is(dig(l, 'node2', ep.ip), 'NOERROR', 'other nodes unaffected');
      await l.exec('node3', 'ethtool --offload vxlan.calico rx off tx off');
      t.true(await until(() => !nftTable(ns(l, 'node3'), 'inet', 'ksvlab-udp')), 'the watcher removed the corruption');
      const after = snmp(ep.podNs, 'Udp', 'InCsumErrors');
      t.is(dig(l, 'node3', ep.ip), 'NOERROR', 'the fix lifts it');
      t.is(snmp(ep.podNs, 'Udp', 'InCsumErrors'), after);
    });
    healthy(t, l);
  },
);

test.serial('felix-tx-off: tx checksum offload off, rx on, on vxlan.calico of node2 — healthy', async (t) => {
  const l = lab();
  await withFault(l, 'felix-tx-off', ['node2'], async () => {
    const k = await l.exec('node2', 'ethtool -k vxlan.calico');
    t.regex(k, /^tx-checksumming: off/m);
    t.regex(k, /^rx-checksumming: on/m);
    healthy(t, l);
  });
  t.regex(await l.exec('node2', 'ethtool -k vxlan.calico'), /^tx-checksumming: on/m);
});

test.serial(
  'kubectl: EndpointSlices as kubectl prints them; get endpoints warns of its deprecation; endpoints-gone fails it as a server without the resource',
  async (t) => {
    const l = lab();
    const eps = kubectl(l, 'node1', ['get', 'endpoints', 'coredns', '-o', 'json']);
    t.is(eps.status, 0);
    t.is(eps.stderr, 'Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\n');
    t.is(JSON.parse(eps.stdout).kind, 'Endpoints');
    const get = () =>
      kubectl(l, 'node1', ['get', 'endpointslices', '-l', 'kubernetes.io/service-name=coredns', '-o', 'json']);
    const r = get();
    t.is(r.status, 0, r.stderr);
    const list = JSON.parse(r.stdout);
    t.is(list.kind, 'List');
    t.is(list.apiVersion, 'v1');
    const slice = list.items[0];
    t.is(slice.apiVersion, 'discovery.k8s.io/v1');
    t.is(slice.kind, 'EndpointSlice');
    t.is(slice.addressType, 'IPv4');
    t.is(slice.metadata.labels['kubernetes.io/service-name'], 'coredns');
    t.deepEqual(
      slice.ports
        .map((p: { name: string; protocol: string; port: number }) => `${p.name} ${p.protocol}/${p.port}`)
        .sort(),
      ['dns UDP/53', 'dns-tcp TCP/53', 'metrics TCP/9153'],
    );
    t.deepEqual(
      slice.endpoints.map(
        (e: {
          addresses: string[];
          conditions: object;
          nodeName: string;
          targetRef: { kind: string; name: string };
        }) => [e.addresses, e.conditions, e.nodeName, e.targetRef.kind, e.targetRef.name],
      ),
      l.endpoints.map((e) => [[e.ip], { ready: true, serving: true, terminating: false }, e.node, 'Pod', e.pod]),
    );
    const raw = kubectl(l, 'node1', [
      'get',
      '--raw',
      '/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dcoredns',
    ]);
    t.is(JSON.parse(raw.stdout).kind, 'EndpointSliceList');
    await withFault(l, 'endpoints-gone', undefined, () => {
      const gone = kubectl(l, 'node1', ['get', 'endpoints', 'coredns', '-o', 'json']);
      t.is(gone.status, 1);
      t.is(gone.stdout, '');
      t.is(gone.stderr, 'error: the server doesn\'t have a resource type "endpoints"\n');
      t.deepEqual(JSON.parse(get().stdout), list, 'slices still answer');
    });
    t.is(kubectl(l, 'node1', ['get', 'endpoints', 'coredns', '-o', 'json']).status, 0);
  },
);

test.serial(
  'ipvs-*: the lab has no IPVS; each fault does to the service what its IPVS state does, and a run in IPVS mode says so',
  async (t) => {
    const l = lab();
    const svc = l.corednsIp;
    // a gone CoreDNS pod among the service's backends on node2: some queries there go nowhere
    await withFault(l, 'ipvs-stale', ['node2'], () => {
      const got = Array.from({ length: 16 }, () => digFrom(l, 'node2', svc));
      t.true(got.includes('TIMEOUT'), got.join(' '));
      t.true(got.includes('NOERROR'), got.join(' '));
      // the UDP branch to the gone pod took the queries that timed out
      const saved = spawnSync('ip', ['netns', 'exec', ns(l, 'node2'), 'iptables-save', '-c', '-t', 'nat'], {
        encoding: 'utf8',
      }).stdout.split('\n');
      const branch = saved.find(
        (x) => x.includes('-p udp') && x.includes(`--to-destination ${gonePodIp(l.endpoints)}:53`),
      );
      t.true(Number(/^\[(\d+):/.exec(branch ?? '')?.[1] ?? 0) > 0, branch);
      t.is(both(l, 'node1', svc), 'NOERROR/NOERROR');
    });
    // no real server anywhere: the service refuses, its pods answer directly
    await withFault(l, 'ipvs-no-real-server', undefined, async () => {
      for (const n of l.nodes) t.not(digFrom(l, n.name, svc), 'NOERROR', n.name);
      t.is(both(l, 'node1', l.endpoints[0]!.ip), 'NOERROR/NOERROR');
      // kube_proxy_mode ipvs on a kernel without IPVS: the check skips saying so, coredns-service-unrouted
      // looks at IPVS and says where it is missing
      const kh = tempKnownHosts();
      try {
        const { report } = await validateJson(l.inventoryDir, kh.file, ['-e', 'kube_proxy_mode=ipvs']);
        t.deepEqual(
          failing(report),
          ['coredns-service-unrouted'],
          JSON.stringify([
            report.diagnoses.map((x) => [x.id, x.hosts, x.evidence]),
            report.results
              .filter((r) => r.status !== 'pass' || /iptables/.test(r.check))
              .map((r) => [r.check, r.host, r.status, r.summary, r.evidence]),
          ]),
        );
        const d = report.diagnoses.find((x) => x.id === 'coredns-service-unrouted')!;
        t.true(
          d.evidence.some((e) => /IPVS is not in the kernel on node1, node2, node3/.test(e)),
          d.evidence.join('\n'),
        );
        t.regex(d.fix.join(' '), /\/proc\/net\/ip_vs .*kube-ipvs0/);
        const ipvs = report.results.filter((r) => r.check === 'kube-proxy.ipvs');
        t.is(ipvs.length, 3);
        t.true(ipvs.every((r) => r.status === 'skip' && /IPVS is not in the kernel/.test(r.summary)));
      } finally {
        kh.cleanup();
      }
    });
    // node3 does not send its service traffic through kube-proxy's path: only node3 loses the service
    await withFault(l, 'ipvs-no-address', ['node3'], () => {
      t.is(both(l, 'node3', svc), 'TIMEOUT/TIMEOUT');
      t.is(both(l, 'node1', svc), 'NOERROR/NOERROR');
    });
    healthy(t, l);
  },
);

/** the lab's fault description, as `npm run lab -- fault` reads it back from the saved state */
function saved(l: Lab) {
  return listSaved().find((s) => s.prefix === l.prefix)!.desc!;
}

test.serial(
  'npm run lab -- fault / clear: every fault takes hold through the CLI and lifts back to a healthy lab',
  async (t) => {
    const l = lab();
    const d = saved(l);
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'lab', 'cli.ts'), ...args], {
        encoding: 'utf8',
        cwd: ROOT,
        timeout: 60_000,
      });
    const ops = faultOps(d);
    for (const f of FAULTS) {
      if (f === 'rules-shadowed-legacy' && spawnSync('sh', ['-c', 'command -v iptables-legacy-save']).status !== 0)
        continue;
      const targets = faultTargets(f, d.nodes, [d.nodes[1]!]);
      const on = cli('fault', l.prefix, f, 'node2');
      t.is(on.status, 0, `${f}: ${on.stderr}`);
      for (const n of targets) t.true(ops.ready(f, n), `${f} holds on ${n.name}`);
      const off = cli('clear', l.prefix, f, 'node2');
      t.is(off.status, 0, `${f}: ${off.stderr}`);
      for (const n of targets) t.false(ops.ready(f, n), `${f} lifted on ${n.name}`);
      await l.clear(); // the lab's own readiness wait, and its defaults
      healthy(t, l, f);
    }
    t.is(cli('fault', l.prefix, 'no-such-fault').status, 2);
  },
);

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
