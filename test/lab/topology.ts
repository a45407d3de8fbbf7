// The lab's network: the underlay bridge, one namespace per node, the overlay as the network
// plugin builds it (Calico VXLAN or flannel VXLAN), pod namespaces wired as the plugin's CNI wires
// them, and the bastion. Everything is in 198.18.0.0/15 (plus link-local addresses inside namespaces).
//
// Per lab (index k, 0..63):
//   underlay   198.18.k.0/24       bridge ksv<k>br; node i = 198.18.k.(10+i); root ns = .1 (none with a bastion);
//                                  nodes' default gateway .254, which nothing answers (the lab never routes out)
//   bastion    198.18.(64+k).0/30  root ns .1 <-> bastion .2 (bastion also has 198.18.k.5 on the bridge)
//   services   198.18.(128+k).0/24 CoreDNS service = .3, kubernetes API service = .1
//   pods       198.19.k.0/24       node i's block 198.19.k.(4i)/30
//                                  Calico:  pod .4i+1, VTEP .4i+2 on vxlan.calico
//                                  flannel: VTEP .4i on flannel.1 (the block's network address, as flannel
//                                           does), cni0 .4i+1 (the pods' gateway), pod .4i+2
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { nsSh, sh } from './sys.js';

export const NLD_IP = '169.254.25.10';

export type PluginName = 'calico' | 'flannel';

export interface LabNode {
  name: string;
  ns: string;
  address: string;
  podCidr: string;
  controlPlane: boolean;
  index: number;
}

export interface LabEndpoint {
  ip: string;
  node: string;
  pod: string;
  /** the pod's network namespace, named as containerd names it (cni-<uuid>) */
  podNs: string;
  /** the node-side end of the pod's veth (cali… for Calico, veth… for flannel) */
  hostIf?: string;
}

/** What fault operations need to know about a lab; saved so `npm run lab -- fault` can attach. */
export interface Desc {
  k: number;
  dir: string;
  nodes: LabNode[];
  endpoints: LabEndpoint[];
  apiIp: string;
  corednsIp: string;
  svcBase: string;
  /** absent in labs saved before flannel mode existed: calico */
  plugin?: PluginName;
}

/** The addresses of lab k. */
export function addressPlan(k: number) {
  const svcBase = `198.18.${128 + k}`;
  return {
    tag: `ksv${k}`,
    bridge: `ksv${k}br`,
    gateway: `198.18.${k}.254`,
    svcBase,
    serviceCidr: `${svcBase}.0/24`,
    corednsIp: `${svcBase}.3`,
    apiIp: `${svcBase}.1`,
    podCidr: `198.19.${k}.0/24`,
    block: (i: number) => `198.19.${k}.${4 * i}/30`,
  };
}

function mac(k: number, i: number): string {
  const h = (n: number) => n.toString(16).padStart(2, '0');
  return `66:ee:${h(k)}:00:${h(i >> 8)}:${h(i & 255)}`;
}

/** How a network plugin builds its VXLAN overlay and wires its pods. */
export interface Overlay {
  device: string;
  vni: number;
  port: number;
  /** node i's VTEP address, held as a /32 by the overlay device */
  vtep(k: number, i: number): string;
  /** the address of the pod on node i */
  podIp(k: number, i: number): string;
  /** the node-side veth name the plugin's CNI gives a pod */
  hostIf(pod: string): string;
  /** what a pod's traffic to the node itself arrives on, as an iptables `-i` match: its veth
   *  (cali+) with Calico, the bridge (cni0) with flannel */
  podInputIf: string;
  /** create and wire the veth pair between a node and a pod namespace */
  attachPod(k: number, node: LabNode, ep: Required<LabEndpoint>): void;
}

export const OVERLAYS: Record<PluginName, Overlay> = {
  calico: {
    device: 'vxlan.calico',
    vni: 4096,
    port: 4789,
    vtep: (k, i) => `198.19.${k}.${4 * i + 2}`,
    podIp: (k, i) => `198.19.${k}.${4 * i + 1}`,
    // Calico's VethNameForWorkload: "cali" + the first 11 hex digits of sha1("<namespace>.<pod>")
    hostIf: (pod) => `cali${createHash('sha1').update(`kube-system.${pod}`).digest('hex').slice(0, 11)}`,
    podInputIf: 'cali+',
    attachPod(_k, node, ep) {
      const cali = ep.hostIf;
      sh('ip', [
        '-n',
        node.ns,
        'link',
        'add',
        cali,
        'address',
        'ee:ee:ee:ee:ee:ee',
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ep.podNs,
      ]);
      // as Calico's CNI plugin configures the host side: proxy ARP answers the pod's ARP for its
      // gateway 169.254.1.1 (at once: proxy_delay 0), which the kernel does only while the interface
      // forwards — net.ipv4.ip_forward=0 resets every interface's forwarding, and the pods go dark
      nsSh(
        node.ns,
        [
          `ip link set ${cali} up`,
          `ethtool -K ${cali} tx off rx off`,
          `sysctl -qw net.ipv4.conf.${cali}.proxy_arp=1 net.ipv4.neigh.${cali}.proxy_delay=0 net.ipv4.conf.${cali}.forwarding=1 net.ipv4.conf.${cali}.rp_filter=0`,
          `ip route add ${ep.ip}/32 dev ${cali} scope link`,
        ].join(' && '),
      );
      // the pod resolves 169.254.1.1 by ARP, as in Calico (no pinned neighbour)
      nsSh(
        ep.podNs,
        [
          'ip link set lo up',
          `ip addr add ${ep.ip}/32 dev eth0`,
          'ip link set eth0 up',
          'ethtool -K eth0 tx off rx off',
          'ip route add 169.254.1.1 dev eth0 scope link',
          'ip route add default via 169.254.1.1 dev eth0',
        ].join(' && '),
      );
    },
  },
  flannel: {
    device: 'flannel.1',
    vni: 1,
    port: 8472,
    vtep: (k, i) => `198.19.${k}.${4 * i}`,
    podIp: (k, i) => `198.19.${k}.${4 * i + 2}`,
    // the bridge CNI plugin: "veth" + 4 random bytes in hex
    hostIf: () => `veth${randomBytes(4).toString('hex')}`,
    podInputIf: 'cni0',
    attachPod(k, node, ep) {
      const gw = `198.19.${k}.${4 * node.index + 1}`;
      // the bridge plugin (flannel's delegate): cni0 holds the gateway address of the node's block
      nsSh(
        node.ns,
        [
          'ip link show cni0 >/dev/null 2>&1 || { ip link add cni0 type bridge && ip link set cni0 up; }',
          `ip addr replace ${gw}/30 dev cni0`,
        ].join(' && '),
      );
      sh('ip', ['-n', node.ns, 'link', 'add', ep.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ep.podNs]);
      // flannel's CNI config delegates to the bridge plugin with hairpinMode: a pod's query to the
      // service that picks the pod itself goes back out of the port it came in on
      nsSh(
        node.ns,
        [
          `ip link set ${ep.hostIf} master cni0`,
          `ip link set ${ep.hostIf} up`,
          `ethtool -K ${ep.hostIf} tx off rx off`,
          `bridge link set dev ${ep.hostIf} hairpin on`,
        ].join(' && '),
      );
      nsSh(
        ep.podNs,
        [
          'ip link set lo up',
          `ip addr add ${ep.ip}/30 dev eth0`,
          'ip link set eth0 up',
          'ethtool -K eth0 tx off rx off',
          `ip route add default via ${gw} dev eth0`,
        ].join(' && '),
      );
    },
  },
};

export const overlayOf = (d: { plugin?: PluginName }): Overlay => OVERLAYS[d.plugin ?? 'calico'];

/** The underlay bridge in the root namespace (it carries no address when a bastion fronts the lab). */
export function buildUnderlay(k: number, withAddress: boolean, record: (link: string) => void): void {
  const { bridge } = addressPlan(k);
  sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
  record(bridge);
  sh('ip', ['link', 'set', bridge, 'up']);
  if (withAddress) sh('ip', ['addr', 'add', `198.18.${k}.1/24`, 'dev', bridge]);
}

export function planNodes(k: number, n: number): LabNode[] {
  const { tag, block } = addressPlan(k);
  return Array.from({ length: n }, (_, i) => ({
    name: `node${i + 1}`,
    ns: `${tag}-n${i + 1}`,
    address: `198.18.${k}.${10 + i}`,
    podCidr: block(i),
    controlPlane: i === 0,
    index: i,
  }));
}

/** A node's namespace: eth0 on the underlay (offload off, so checksums are really computed and
 *  checked), ip_forward, a default route, the overlay device and the nodelocaldns interface (a
 *  bridge: this kernel has no dummy). `record` is told of each namespace and root-side link first. */
export function buildNode(
  k: number,
  node: LabNode,
  plugin: PluginName,
  record: (kind: 'ns' | 'link', name: string) => void,
): void {
  const { ns, address, index: i } = node;
  const { tag, bridge, gateway, serviceCidr } = addressPlan(k);
  const ov = OVERLAYS[plugin];
  onUnderlay(ns, `${tag}v${i + 1}`, bridge, record);
  nsSh(
    ns,
    [
      'sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0',
      'ip link set lo up',
      `ip addr add ${address}/24 dev eth0`,
      'ip link set eth0 up',
      'ethtool -K eth0 tx off rx off',
      'sysctl -qw net.ipv4.conf.eth0.rp_filter=0',
      // a node has a default route (Calico's proxy ARP for 169.254.1.1 needs a route to it); its
      // gateway is an address nothing answers, so nothing leaves the lab
      `ip route add default via ${gateway} dev eth0`,
      `ip route add ${serviceCidr} dev eth0 scope link`,
      `ip link add ${ov.device} address ${mac(k, i)} type vxlan id ${ov.vni} dstport ${ov.port} dev eth0 local ${address} nolearning`,
      `ip link set ${ov.device} mtu 1450 up`,
      `echo 0 > /proc/sys/net/ipv4/conf/${ov.device}/rp_filter`,
      `ip addr add ${ov.vtep(k, i)}/32 dev ${ov.device}`,
      'ip link add nodelocaldns type bridge',
      `ip addr add ${NLD_IP}/32 dev nodelocaldns`,
      'ip link set nodelocaldns up',
    ].join(' && '),
  );
}

/** VXLAN routing as Calico and flannel both program it: per remote node a permanent neighbour for
 *  its VTEP, an fdb entry to its underlay address and an onlink route for its block via the VTEP. */
export function routeOverlay(k: number, node: LabNode, nodes: LabNode[], plugin: PluginName): void {
  const ov = OVERLAYS[plugin];
  const ipBatch: string[] = [];
  const fdbBatch: string[] = [];
  for (const other of nodes) {
    if (other === node) continue;
    const j = other.index;
    ipBatch.push(`neigh add ${ov.vtep(k, j)} lladdr ${mac(k, j)} dev ${ov.device} nud permanent`);
    ipBatch.push(`route add ${other.podCidr} via ${ov.vtep(k, j)} dev ${ov.device} onlink`);
    fdbBatch.push(`fdb add ${mac(k, j)} dev ${ov.device} dst ${other.address}`);
  }
  if (ipBatch.length) sh('ip', ['-n', node.ns, '-batch', '-'], ipBatch.join('\n') + '\n');
  if (fdbBatch.length) sh('ip', ['netns', 'exec', node.ns, 'bridge', '-batch', '-'], fdbBatch.join('\n') + '\n');
}

/** The CoreDNS pods' endpoints: one pod on each of the given nodes, in a namespace named as
 *  containerd names it. */
export function planEndpoints(k: number, nodes: LabNode[], on: number[], plugin: PluginName): Required<LabEndpoint>[] {
  const ov = OVERLAYS[plugin];
  return on.map((i) => {
    const pod = `coredns-lab-${i + 1}`;
    return { ip: ov.podIp(k, i), node: nodes[i]!.name, pod, podNs: `cni-${randomUUID()}`, hostIf: ov.hostIf(pod) };
  });
}

export function buildPod(
  k: number,
  node: LabNode,
  ep: Required<LabEndpoint>,
  plugin: PluginName,
  record: (ns: string) => void,
): void {
  record(ep.podNs);
  sh('ip', ['netns', 'add', ep.podNs]);
  OVERLAYS[plugin].attachPod(k, node, ep);
}

/** A new namespace `ns` on the underlay bridge: its eth0 a veth whose root side `host` is a port of
 *  `bridge`, checksum offload off on that side (veth would skip checksums otherwise). `record` is
 *  told of the namespace and the link first. */
export function onUnderlay(
  ns: string,
  host: string,
  bridge: string,
  record: (kind: 'ns' | 'link', name: string) => void,
): void {
  record('ns', ns);
  sh('ip', ['netns', 'add', ns]);
  record('link', host);
  sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  sh('ip', ['link', 'set', host, 'master', bridge, 'up']);
  sh('ethtool', ['-K', host, 'tx', 'off', 'rx', 'off']);
}

/** The bastion: on the underlay bridge (198.18.k.5) and, alone, reachable from the root namespace. */
export function buildBastion(
  k: number,
  record: (kind: 'ns' | 'link', name: string) => void,
): { ns: string; address: string; inner: string } {
  const { tag, bridge } = addressPlan(k);
  const ns = `${tag}-b`;
  record('ns', ns);
  sh('ip', ['netns', 'add', ns]);
  const host = `${tag}vb`;
  const hostUp = `${tag}vbu`;
  record('link', host);
  sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  sh('ip', ['link', 'set', host, 'master', bridge, 'up']);
  record('link', hostUp);
  sh('ip', ['link', 'add', hostUp, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', ns]);
  sh('ip', ['addr', 'add', `198.18.${64 + k}.1/30`, 'dev', hostUp]);
  sh('ip', ['link', 'set', hostUp, 'up']);
  nsSh(
    ns,
    [
      'ip link set lo up',
      `ip addr add 198.18.${k}.5/24 dev eth0`,
      'ip link set eth0 up',
      `ip addr add 198.18.${64 + k}.2/30 dev eth1`,
      'ip link set eth1 up',
      'sysctl -qw net.ipv4.ip_forward=0',
    ].join(' && '),
  );
  return { ns, address: `198.18.${64 + k}.2`, inner: `198.18.${k}.5` };
}
