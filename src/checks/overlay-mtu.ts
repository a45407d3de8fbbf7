// overlay.mtu: each overlay device's MTU plus its encapsulation's overhead (VXLAN/Geneve 50 over
// IPv4, 70 over IPv6; IP-in-IP 20) fits its parent NIC's MTU.
import { defineCheck } from './module.js';
import { linksReader } from '../collect/iproute.js';
import { lookupOverlay, merge, parentOf, type Part } from './overlay-device.js';

const LASTING: Record<string, string> = {
  calico: 'set calico_veth_mtu to {max} or less and re-run cluster.yml --tags network',
  flannel:
    "lower the parent NIC's MTU headroom: flannel sets {dev} to the NIC's MTU minus the overhead on restart (kubectl -n kube-system rollout restart ds kube-flannel)",
  cilium: 'set cilium_mtu to {max} or less and re-run cluster.yml --tags network',
};

export default defineCheck({
  ids: ['overlay.mtu'],
  title: "overlay MTU + encapsulation fits the parent NIC's MTU",
  rank: 21,
  scope: 'node',
  readers: [linksReader],
  evaluate({ host, cluster: c, facts }, emit) {
    const id = 'overlay.mtu';
    const o = lookupOverlay(facts!, c);
    if (o.kind === 'none') return [emit(id, host, 'skip', `no overlay to check (${o.why})`)];
    if (o.kind === 'error') return [emit(id, host, 'error', o.error)];
    const parts: Part[] = o.devs.map(({ spec, dev }): Part => {
      if (!dev) return { status: 'skip', summary: `${spec.device} is missing`, evidence: { device: spec.device } };
      const parent = parentOf(dev, o.links);
      if (!parent)
        return {
          status: 'warn',
          summary: `cannot tell the parent interface of ${dev.name}; MTU ${dev.mtu} not checked`,
          evidence: { device: dev.name, mtu: dev.mtu, parent: dev.parent },
        };
      const room = parent.mtu - dev.mtu;
      const max = parent.mtu - spec.overhead;
      const ev = {
        device: dev.name,
        mtu: dev.mtu,
        parent: parent.name,
        parentMtu: parent.mtu,
        overhead: spec.overhead,
        maxOverlayMtu: max,
      };
      const name = `${spec.encap.toUpperCase()}${spec.family === 6 ? ' over IPv6' : ''}`;
      if (room < spec.overhead) {
        const lasting = (LASTING[o.ov.plugin] ?? "lower the overlay MTU to {max} in the network plugin's settings")
          .replace('{max}', String(max))
          .replace('{dev}', dev.name);
        return {
          status: 'fail',
          summary: `${dev.name} MTU ${dev.mtu} leaves ${room} bytes under ${parent.name} MTU ${parent.mtu}; ${name} needs ${spec.overhead}`,
          evidence: ev,
          remediation: {
            text: `${lasting}; for now: ip link set ${dev.name} mtu ${max}`,
            argv: ['ip', 'link', 'set', dev.name, 'mtu', String(max)],
            hosts: [host],
            safe: false,
          },
        };
      }
      return {
        status: 'pass',
        summary: `${dev.name} MTU ${dev.mtu} fits ${parent.name} MTU ${parent.mtu} with ${name} overhead ${spec.overhead}`,
        evidence: ev,
      };
    });
    const m = merge(parts);
    return [emit(id, host, m.status, m.summary, m.evidence, m.remediation)];
  },
});
