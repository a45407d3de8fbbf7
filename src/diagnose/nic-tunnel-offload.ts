// nic-tunnel-offload (warn): the overlay's parent NIC is a VMware vmxnet3 with UDP-tunnel
// segmentation offloads on — since EL 8.3 (and newer kernels elsewhere) the driver turns them on
// and VXLAN through it breaks (kubespray#7268, calico#4384, calico#4727, calico#9433, Cilium's
// vSphere notes). Named from the node's own facts (`ethtool -i` and `ethtool -k` of the parent);
// when DNS across the overlay fails on such a node during the probes, the diagnosis says so. Not
// applied by --fix: it changes the NIC that carries all of the node's traffic, SSH included.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';
import { isOk } from './view.js';
import { linksReader } from '../collect/iproute.js';
import { offloadReader } from '../collect/ethtool.js';
import { lookupOverlay } from '../checks/overlay-device.js';
import { offendingParent } from '../checks/overlay-offload.js';
import type { Remediation } from '../types.js';
import { isParseError } from '../types.js';

const PORT: Record<string, string> = {
  calico: 'calico_vxlan_port (e.g. 4799) in group_vars/k8s_cluster/k8s-net-calico.yml, then cluster.yml --tags network',
  flannel: 'flannel_vxlan_port in group_vars/k8s_cluster/k8s-net-flannel.yml, then cluster.yml --tags network',
  cilium: "Cilium's tunnel-port (Helm tunnelPort)",
};

export function nicTunnelOffload(v: View, epNode: ReadonlyMap<string, string | null>): Draft[] {
  const hit: { host: string; nic: string; device: string; version: string | null; on: string[] }[] = [];
  for (const h of v.inspected()) {
    const f = v.input.facts[h];
    if (!f) continue;
    const o = lookupOverlay(f, v.input.cluster);
    if (o.kind !== 'found') continue;
    for (const { spec, dev } of o.devs) {
      if (!dev) continue;
      const bad = offendingParent(f, dev, o.links, spec);
      if (!bad || hit.some((x) => x.host === h && x.nic === bad.nic)) continue;
      const k = f.offload[bad.nic];
      const drv = k && !isParseError(k) && k.driver && !isParseError(k.driver) ? k.driver : null;
      hit.push({ host: h, nic: bad.nic, device: dev.name, version: drv?.version ?? null, on: bad.on });
    }
  }
  if (!hit.length) return [];
  const hosts = [...new Set(hit.map((x) => x.host))];
  const evidence = hit.map(
    (x) =>
      `${x.host}: ${x.nic} (driver vmxnet3${x.version ? ` ${x.version}` : ''}) carries ${x.device} with ${x.on.join(' and ')} on (ethtool -i, ethtool -k)`,
  );
  // what the probes saw on paths that cross the overlay through these nodes
  const crossing = v.probes(undefined, 'coredns-endpoint').filter((p) => {
    const n = epNode.get(p.server);
    return n && n !== p.host && (hosts.includes(p.host) || hosts.includes(n));
  });
  const failing = crossing.filter((p) => !isOk(p));
  if (failing.length) {
    evidence.push(
      `DNS across the overlay fails on ${failing.length} of ${crossing.length} path(s) through ${hosts.join(', ')} (e.g. ${failing
        .slice(0, 3)
        .map(
          (p) =>
            `from ${p.host} to ${p.server} on ${epNode.get(p.server)} over ${p.transport.toUpperCase()}: ${v.ratio([p])}`,
        )
        .join('; ')}): consistent with the NIC breaking tunnelled packets; turn the offloads off and probe again`,
    );
  } else if (crossing.length) {
    evidence.push(
      `DNS across the overlay answered on all ${crossing.length} path(s) through ${hosts.join(', ')} during this run: small DNS packets may pass while segmented (large TCP) traffic is dropped`,
    );
  }
  const byNic = new Map<string, string[]>();
  for (const x of hit) byNic.set(x.nic, [...new Set([...(byNic.get(x.nic) ?? []), x.host])]);
  const plugin = v.input.cluster.networkPlugin;
  const remediations: Remediation[] = [
    ...[...byNic].map(([nic, hs]): Remediation => ({
      text: `on ${hs.join(', ')}: ethtool -K ${nic} tx-udp_tnl-segmentation off tx-udp_tnl-csum-segmentation off   (not applied by --fix: it changes the NIC all of the node's traffic uses)`,
      argv: ['ethtool', '-K', nic, 'tx-udp_tnl-segmentation', 'off', 'tx-udp_tnl-csum-segmentation', 'off'],
      hosts: hs,
      safe: false,
    })),
    {
      text: `lasting: nmcli connection modify <connection> ethtool.feature-tx-udp_tnl-segmentation off ethtool.feature-tx-udp_tnl-csum-segmentation off (or ETHTOOL_OPTS in ifcfg-${hit[0]!.nic})`,
      safe: false,
    },
    {
      text: `or move the VXLAN port off the one the hypervisor treats specially: ${PORT[plugin] ?? "the network plugin's VXLAN port setting"}`,
      safe: false,
    },
  ];
  return [
    {
      severity: 'warn',
      hosts,
      summary: `the overlay's parent NIC on ${hosts.join(', ')} is a vmxnet3 with UDP-tunnel segmentation offloads on, which VMware breaks for VXLAN`,
      evidence,
      remediations,
    },
  ];
}

export default defineDiagnosis({
  id: 'nic-tunnel-offload',
  explainsChecks: ['overlay.nic-offload'],
  readers: [linksReader, offloadReader],
  run: (v, ctx) => nicTunnelOffload(v, ctx.facts.epNode),
});
