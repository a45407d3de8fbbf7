// overlay.mtu: the overlay MTU plus the encapsulation's overhead (VXLAN 50, IP-in-IP 20) fits the
// parent NIC's MTU.
import { defineCheck } from './module.js';
import { linksReader } from '../collect/iproute.js';
import { lookupOverlay } from './overlay-device.js';

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
    if (o.kind === 'missing') return [emit(id, host, 'skip', `${o.ov.device} is missing`)];
    const { dev, ov, links } = o;
    const parent = dev.parent ? links.find((l) => l.name === dev.parent) : undefined;
    if (!parent) return [emit(id, host, 'warn', `cannot tell the parent interface of ${dev.name}; MTU ${dev.mtu} not checked`, { device: dev.name, mtu: dev.mtu, parent: dev.parent })];
    const room = parent.mtu - dev.mtu;
    const max = parent.mtu - ov.overhead;
    const ev = { device: dev.name, mtu: dev.mtu, parent: parent.name, parentMtu: parent.mtu, overhead: ov.overhead, maxOverlayMtu: max };
    if (room < ov.overhead) {
      return [emit(id, host, 'fail', `${dev.name} MTU ${dev.mtu} leaves ${room} bytes under ${parent.name} MTU ${parent.mtu}; ${ov.encap.toUpperCase()} needs ${ov.overhead}`, ev, { text: `set calico_veth_mtu to ${max} or less and re-run cluster.yml --tags network; for now: ip link set ${dev.name} mtu ${max}`, argv: ['ip', 'link', 'set', dev.name, 'mtu', String(max)], hosts: [host], safe: false })];
    }
    return [emit(id, host, 'pass', `${dev.name} MTU ${dev.mtu} fits ${parent.name} MTU ${parent.mtu} with ${ov.encap.toUpperCase()} overhead ${ov.overhead}`, ev)];
  },
});
