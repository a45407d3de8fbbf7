// The lab in flannel mode: flannel.1 (VNI 1, port 8472) with flannel's per-node block, VTEP address,
// neighbour + fdb + onlink route per remote node, pods on the cni0 bridge behind veth…; DNS as in
// Calico mode; the overlay faults apply to flannel.1 and its port.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { useLab, type Lab } from '../lab/lab.js';
import { both, digFrom, nftTable, snmp, withFault } from '../lab/probe.js';
import { until } from '../lab/sys.js';

const lab = useLab(test, { nodes: 3, plugin: 'flannel' });

const ns = (l: Lab, node: string) => l.nodes.find((n) => n.name === node)!.ns;
const dig = digFrom;
const json = async <T>(l: Lab, node: string, cmd: string) => JSON.parse(await l.exec(node, cmd)) as T;

interface Link {
  ifname: string;
  mtu: number;
  master?: string;
  link_netnsid?: number;
  linkinfo?: {
    info_kind: string;
    info_data?: { id?: number; port?: number; local?: string; link?: string; learning?: boolean };
  };
}
interface Addr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}

test.serial(
  "flannel.1 as flannel builds it: VNI 1, port 8472, local underlay address, VTEP = the block's network address; per remote node neighbour, fdb and onlink route",
  async (t) => {
    const l = lab();
    t.is(l.plugin, 'flannel');
    t.is(l.overlayDevice, 'flannel.1');
    for (const node of l.nodes) {
      const links = await json<Link[]>(l, node.name, 'ip -d -j link show');
      const fl = links.find((x) => x.ifname === 'flannel.1')!;
      t.is(fl.linkinfo?.info_kind, 'vxlan');
      t.like(fl.linkinfo?.info_data, { id: 1, port: 8472, local: node.address, learning: false });
      t.is(fl.mtu, 1450);
      t.false(links.some((x) => x.ifname === 'vxlan.calico'));
      const addrs = await json<Addr[]>(l, node.name, 'ip -j addr show dev flannel.1');
      const block = node.podCidr.split('/')[0]!;
      t.deepEqual(
        addrs[0]!.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
        [`${block}/32`],
      );
      const neigh = await l.exec(node.name, 'ip neigh show dev flannel.1');
      const fdb = await l.exec(node.name, 'bridge fdb show dev flannel.1');
      const routes = await l.exec(node.name, 'ip route show dev flannel.1');
      for (const other of l.nodes.filter((x) => x !== node)) {
        const vtep = other.podCidr.split('/')[0]!;
        t.regex(neigh, new RegExp(`^${vtep} lladdr ([0-9a-f:]+) PERMANENT`, 'm'));
        const mac = new RegExp(`^${vtep} lladdr ([0-9a-f:]+)`, 'm').exec(neigh)![1]!;
        t.true(fdb.includes(`${mac} dst ${other.address} self permanent`), fdb);
        t.true(routes.includes(`${other.podCidr} via ${vtep} onlink`), routes);
      }
    }
  },
);

test.serial(
  "pods on cni0 behind veth…: the gateway is cni0's address, the pod namespaces are containerd-named, all inside 198.19.k.0/24",
  async (t) => {
    const l = lab();
    for (const ep of l.endpoints) {
      const node = l.nodes.find((n) => n.name === ep.node)!;
      t.true(ep.ip.startsWith(`198.19.${l.index}.`));
      t.regex(ep.podNs, /^cni-[0-9a-f-]{36}$/);
      t.regex(ep.hostIf ?? '', /^veth[0-9a-f]{8}$/);
      const links = await json<Link[]>(l, ep.node, 'ip -j link show');
      const veth = links.find((x) => x.ifname === ep.hostIf)!;
      t.is(veth.master, 'cni0');
      t.is(typeof veth.link_netnsid, 'number');
      const cni0 = (await json<Addr[]>(l, ep.node, 'ip -j addr show dev cni0'))[0]!.addr_info.find(
        (a) => a.family === 'inet',
      )!;
      const [a, b, c, d] = node.podCidr.split('/')[0]!.split('.').map(Number) as [number, number, number, number];
      t.is(`${cni0.local}/${cni0.prefixlen}`, `${a}.${b}.${c}.${d + 1}/30`, "the block's first address");
      const route = spawnSync('ip', ['netns', 'exec', ep.podNs, 'ip', 'route', 'show', 'default'], {
        encoding: 'utf8',
      }).stdout;
      t.is(route.trim(), `default via ${cni0.local} dev eth0`);
    }
    const k8s = readFileSync(join(l.inventoryDir, 'group_vars', 'k8s_cluster', 'k8s-cluster.yml'), 'utf8');
    t.regex(k8s, /^kube_network_plugin: flannel$/m);
    t.deepEqual(readdirSync(join(l.inventoryDir, 'group_vars', 'k8s_cluster')).sort(), [
      'k8s-cluster.yml',
      'k8s-net-flannel.yml',
    ]);
  },
);

test.serial('every node: DNS over UDP and TCP via NodeLocalDNS, the service and each endpoint', (t) => {
  const l = lab();
  for (const n of l.nodes)
    for (const s of [l.nodelocaldnsIp, l.corednsIp, ...l.endpoints.map((e) => e.ip)])
      t.is(both(l, n.name, s), 'NOERROR/NOERROR', `${n.name} -> ${s}`);
  t.regex(
    l.nodes
      .map((n) => spawnSync('ip', ['netns', 'exec', n.ns, 'iptables-save', '-t', 'raw'], { encoding: 'utf8' }).stdout)
      .join(''),
    /NodeLocal DNS Cache/,
  );
});

test.serial(
  'checksum on flannel.1: TCP across the overlay fails from node3, UDP works; offload off lifts it',
  async (t) => {
    const l = lab();
    const ep = l.endpoints[0]!.ip;
    await withFault(l, 'checksum', ['node3'], async () => {
      t.regex(await l.exec('node3', '/usr/sbin/nft list table inet ksvlab'), /oifname "flannel\.1"/);
      t.is(dig(l, 'node3', ep, ['+tcp']), 'TIMEOUT');
      t.is(dig(l, 'node3', ep), 'NOERROR');
      await l.exec('node3', 'ethtool --offload flannel.1 rx off tx off');
      t.true(await until(() => !nftTable(ns(l, 'node3'), 'inet', 'ksvlab')), 'the watcher removed the corruption');
      t.is(dig(l, 'node3', ep, ['+tcp']), 'NOERROR', 'the fix lifts it');
    });
  },
);

test.serial(
  'checksum-udp on flannel.1: UDP across the overlay times out, TCP works, Udp InCsumErrors rise in the pod',
  async (t) => {
    const l = lab();
    const ep = l.endpoints[1]!;
    await withFault(l, 'checksum-udp', ['node3'], async () => {
      const errs = snmp(ep.podNs, 'Udp', 'InCsumErrors');
      t.is(dig(l, 'node3', ep.ip), 'TIMEOUT');
      t.is(dig(l, 'node3', ep.ip, ['+tcp']), 'NOERROR');
      t.true(snmp(ep.podNs, 'Udp', 'InCsumErrors') > errs);
    });
    t.is(dig(l, 'node3', ep.ip), 'NOERROR');
  },
);

test.serial(
  'overlay-blocked drops udp/8472 on node1: paths through its overlay fail on both transports, same-node paths work',
  async (t) => {
    const l = lab();
    const [ep0, ep1] = l.endpoints.map((e) => e.ip) as [string, string];
    await withFault(l, 'overlay-blocked', ['node1'], async () => {
      t.true(
        (await l.exec('node1', 'iptables-save -t filter')).includes(
          '-A INPUT -i eth0 -p udp -m udp --dport 8472 -j DROP',
        ),
      );
      t.is(both(l, 'node1', ep0), 'NOERROR/NOERROR');
      t.is(both(l, 'node3', ep1), 'NOERROR/NOERROR');
      t.is(both(l, 'node2', ep0), 'TIMEOUT/TIMEOUT');
      t.is(both(l, 'node1', ep1), 'TIMEOUT/TIMEOUT');
    });
    t.is(both(l, 'node2', ep0), 'NOERROR/NOERROR');
  },
);

test.serial(
  'ip-forward on node1: other nodes lose its pod; node1 itself still reaches it over cni0 (no proxy ARP in flannel mode)',
  async (t) => {
    const l = lab();
    const ep0 = l.endpoints[0]!.ip;
    await withFault(l, 'ip-forward', ['node1'], async () => {
      t.is(both(l, 'node2', ep0), 'TIMEOUT/TIMEOUT');
      t.is(both(l, 'node1', ep0), 'NOERROR/NOERROR');
    });
    t.is(both(l, 'node2', ep0), 'NOERROR/NOERROR');
  },
);
