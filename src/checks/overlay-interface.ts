// overlay.interface: the devices the network plugin implies exist and are up (vxlan.calico and, with
// ipv6_stack, vxlan-v6.calico; tunl0 for IP-in-IP; flannel.<vni>; cilium_vxlan); warns on a VXLAN
// port other than the one the inventory configures.
import { defineCheck } from './module.js';
import { linksReader } from '../collect/iproute.js';
import { lookupOverlay, merge, type Part } from './overlay-device.js';

const PODS: Record<string, string> = {
  calico:
    'kubectl -n kube-system get pods -l k8s-app=calico-node -o wide; kubectl -n kube-system logs -l k8s-app=calico-node -c calico-node --tail=50',
  flannel:
    'kubectl -n kube-system get pods -l app=flannel -o wide; kubectl -n kube-system logs -l app=flannel --tail=50',
  cilium:
    'kubectl -n kube-system get pods -l k8s-app=cilium -o wide; kubectl -n kube-system logs -l k8s-app=cilium --tail=50',
};

export default defineCheck({
  ids: ['overlay.interface'],
  title: 'the overlay devices the network plugin implies exist and are up',
  rank: 20,
  scope: 'node',
  readers: [linksReader],
  evaluate({ host, cluster: c, facts }, emit) {
    const id = 'overlay.interface';
    const o = lookupOverlay(facts!, c);
    if (o.kind === 'none') return [emit(id, host, 'skip', `no overlay to check (${o.why})`)];
    if (o.kind === 'error') return [emit(id, host, 'error', o.error)];
    const { ov } = o;
    const parts: Part[] = o.devs.map(({ spec, dev }): Part => {
      if (!dev)
        return {
          status: 'fail',
          summary: `${spec.device} does not exist (${ov.plugin} ${spec.encap.toUpperCase()}${spec.family === 6 ? ' over IPv6' : ''} is configured)`,
          evidence: { expected: spec.device, present: o.present },
          remediation: { text: PODS[ov.plugin] ?? "look at the network plugin's pods and logs", safe: false },
        };
      const ev = {
        device: dev.name,
        kind: dev.kind,
        operstate: dev.operstate,
        mtu: dev.mtu,
        parent: dev.parent,
        ...(dev.vxlan ? { vni: dev.vxlan.id, port: dev.vxlan.port } : {}),
      };
      if (!dev.up)
        return {
          status: 'fail',
          summary: `${dev.name} is administratively down`,
          evidence: ev,
          remediation: {
            text: `ip link set ${dev.name} up; then find out why ${ov.plugin} left it down (its logs)`,
            safe: false,
          },
        };
      if (spec.port !== null && dev.vxlan?.port && dev.vxlan.port !== spec.port) {
        const where = ov.portVar
          ? `the inventory says ${ov.portVar} ${spec.port}`
          : `${ov.plugin} uses ${spec.port} by default`;
        const fix = ov.portVar
          ? `set ${ov.portVar} to the port in use, or re-run cluster.yml so ${ov.plugin} uses the inventory's`
          : `find what configured ${dev.name} with port ${dev.vxlan.port}`;
        return {
          status: 'warn',
          summary: `${dev.name} uses UDP port ${dev.vxlan.port}, ${where}`,
          evidence: ev,
          remediation: { text: fix, safe: false },
        };
      }
      return {
        status: 'pass',
        summary: `${dev.name} is up (${dev.kind ?? 'unknown kind'}${dev.vxlan?.id !== undefined && dev.vxlan?.id !== null ? `, VNI ${dev.vxlan.id}` : ''}${dev.vxlan?.port ? `, port ${dev.vxlan.port}` : ''})`,
        evidence: ev,
      };
    });
    const m = merge(parts);
    return [emit(id, host, m.status, m.summary, m.evidence, m.remediation)];
  },
});
