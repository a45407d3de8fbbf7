// overlay.interface: the device the network plugin implies exists and is up (vxlan.calico for
// VXLAN, tunl0 for IP-in-IP); warns on a VXLAN port other than the inventory's.
import { defineCheck } from './module.js';
import { linksReader } from '../collect/iproute.js';
import { lookupOverlay } from './overlay-device.js';

export default defineCheck({
  ids: ['overlay.interface'],
  title: 'the overlay device the network plugin implies exists and is up',
  rank: 20,
  scope: 'node',
  readers: [linksReader],
  evaluate({ host, cluster: c, facts }, emit) {
    const id = 'overlay.interface';
    const o = lookupOverlay(facts!, c);
    if (o.kind === 'none') return [emit(id, host, 'skip', `no overlay to check (${o.why})`)];
    if (o.kind === 'error') return [emit(id, host, 'error', o.error)];
    if (o.kind === 'missing') return [emit(id, host, 'fail', `${o.ov.device} does not exist (Calico ${o.ov.encap} is configured)`, { expected: o.ov.device, present: o.present }, { text: 'kubectl -n kube-system get pods -l k8s-app=calico-node -o wide; kubectl -n kube-system logs -l k8s-app=calico-node -c calico-node --tail=50', safe: false })];
    const { dev, ov } = o;
    const ev = { device: dev.name, kind: dev.kind, operstate: dev.operstate, mtu: dev.mtu, parent: dev.parent, ...(dev.vxlan ? { vni: dev.vxlan.id, port: dev.vxlan.port } : {}) };
    if (!dev.up) return [emit(id, host, 'fail', `${dev.name} is administratively down`, ev, { text: `ip link set ${dev.name} up; then find out why calico-node left it down (its logs)`, safe: false })];
    if (ov.encap === 'vxlan' && dev.vxlan?.port && dev.vxlan.port !== c.calicoVxlanPort) return [emit(id, host, 'warn', `${dev.name} uses UDP port ${dev.vxlan.port}, the inventory says calico_vxlan_port ${c.calicoVxlanPort}`, ev, { text: 'set calico_vxlan_port to the port in use, or re-run cluster.yml so Calico uses the inventory\'s', safe: false })];
    return [emit(id, host, 'pass', `${dev.name} is up (${dev.kind ?? 'unknown kind'}${dev.vxlan?.id ? `, VNI ${dev.vxlan.id}` : ''})`, ev)];
  },
});
