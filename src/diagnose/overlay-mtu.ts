// overlay-mtu: the overlay interface's MTU leaves no room for encapsulation.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';

/** The Kubespray variable that sets the overlay's MTU, per plugin (flannel derives it from the
 *  parent NIC, so there the NIC's MTU is what to look at). */
const MTU_VAR: Record<string, string> = {
  calico: 'calico_veth_mtu',
  cilium: 'cilium_mtu',
  flannel: "the parent NIC's MTU (flannel derives flannel.1's from it)",
};

export function overlayMtu(v: View): Draft[] {
  const hosts = v.inspected().filter((h) => v.check(h, 'overlay.mtu')?.status === 'fail');
  if (!hosts.length) return [];
  const ev = hosts.map((h) => `${h}: ${v.check(h, 'overlay.mtu')!.summary}`);
  const first = v.check(hosts[0]!, 'overlay.mtu')!.evidence as { device?: string; maxOverlayMtu?: number };
  return [
    {
      severity: 'fail',
      hosts,
      summary: `the overlay MTU leaves no room for encapsulation on ${hosts.join(', ')}: large packets across nodes are dropped`,
      evidence: ev,
      fix: [
        `set ${MTU_VAR[v.input.cluster.networkPlugin] ?? `the ${v.input.cluster.networkPlugin} MTU`} (Kubespray) to ${first.maxOverlayMtu ?? '<parent MTU - overhead>'} or less and re-run cluster.yml --tags network`,
        `for now, per node: ip link set ${first.device ?? 'vxlan.calico'} mtu ${first.maxOverlayMtu ?? '<parent MTU - overhead>'}`,
      ],
    },
  ];
}

export default defineDiagnosis({ id: 'overlay-mtu', explainsChecks: ['overlay.mtu'], run: (v) => overlayMtu(v) });
