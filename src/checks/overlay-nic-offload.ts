// overlay.nic-offload: the overlay's parent NIC is not a VMware vmxnet3 with UDP-tunnel segmentation
// offloads on. Since EL 8.3 (and on other distributions' newer kernels) vmxnet3 turns
// tx-udp_tnl-segmentation / tx-udp_tnl-csum-segmentation on, and VXLAN through it breaks: packets
// are dropped or corrupted on the ESXi side (kubespray#7268, calico#4384, calico#4727, calico#9433,
// Cilium's vSphere notes). The driver is read with `ethtool -i` on the parent only.
import { defineCheck } from './module.js';
import { linksReader } from '../collect/iproute.js';
import { offloadReader, udpTunnelOffloads } from '../collect/ethtool.js';
import { isParseError } from '../types.js';
import { lookupOverlay, merge, parentOf, type Part } from './overlay-device.js';

const PORT_HINT: Record<string, string> = {
  calico:
    'or move VXLAN off the port ESXi treats specially: calico_vxlan_port (e.g. 4799) in k8s-net-calico.yml, then cluster.yml --tags network',
  flannel: 'or move VXLAN to another port: flannel_vxlan_port in k8s-net-flannel.yml, then cluster.yml --tags network',
  cilium: "or move VXLAN to another port: Cilium's tunnel-port (Helm tunnelPort)",
};

export default defineCheck({
  ids: ['overlay.nic-offload'],
  title: "the overlay's parent NIC is not a vmxnet3 with UDP-tunnel offloads on",
  rank: 23,
  scope: 'node',
  readers: [linksReader, offloadReader],
  evaluate({ host, cluster: c, facts }, emit) {
    const id = 'overlay.nic-offload';
    const f = facts!;
    const o = lookupOverlay(f, c);
    if (o.kind === 'none') return [emit(id, host, 'skip', `no overlay to check (${o.why})`)];
    if (o.kind === 'error') return [emit(id, host, 'error', o.error)];
    const seen = new Set<string>();
    const parts: Part[] = [];
    for (const { spec, dev } of o.devs) {
      if (!dev) continue;
      if (spec.port === null) {
        parts.push({
          status: 'skip',
          summary: `${dev.name} is IP-in-IP: no UDP tunnel offload involved`,
          evidence: { device: dev.name },
        });
        continue;
      }
      const parent = parentOf(dev, o.links);
      if (!parent) {
        parts.push({
          status: 'skip',
          summary: `cannot tell the parent NIC of ${dev.name}`,
          evidence: { device: dev.name, parent: dev.parent },
        });
        continue;
      }
      if (seen.has(parent.name)) continue;
      seen.add(parent.name);
      const k = f.offload[parent.name];
      if (!k) {
        parts.push({
          status: 'skip',
          summary: `${parent.name} was not read with ethtool`,
          evidence: { device: dev.name, parent: parent.name },
        });
        continue;
      }
      if (isParseError(k)) {
        parts.push({
          status: /not installed/.test(k.parseError) ? 'skip' : 'error',
          summary: k.parseError,
          evidence: { parent: parent.name },
        });
        continue;
      }
      if (k.software) {
        parts.push({
          status: 'pass',
          summary: `${parent.name} (parent of ${dev.name}) is a software device, no NIC driver behind it: not a known offender`,
          evidence: { device: dev.name, parent: parent.name, driver: null },
        });
        continue;
      }
      const drv = k.driver && !isParseError(k.driver) ? k.driver : null;
      const tnl = udpTunnelOffloads(k);
      const ev = {
        device: dev.name,
        parent: parent.name,
        driver: drv?.driver ?? null,
        driverVersion: drv?.version ?? null,
        ...Object.fromEntries(tnl.map((x) => [x.name, x.on])),
      };
      if (!drv) {
        parts.push({
          status: 'skip',
          summary: `the driver of ${parent.name} is not known (${k.driver && isParseError(k.driver) ? k.driver.parseError : 'ethtool -i not read'})`,
          evidence: ev,
        });
        continue;
      }
      const on = tnl.filter((x) => x.on).map((x) => x.name);
      if (drv.driver === 'vmxnet3' && on.length) {
        parts.push({
          status: 'warn',
          summary: `${parent.name} (parent of ${dev.name}) is a vmxnet3 NIC with ${on.join(' and ')} on: VMware drops or corrupts ${spec.encap.toUpperCase()} packets it segments`,
          evidence: ev,
          remediation: {
            text: `ethtool -K ${parent.name} tx-udp_tnl-segmentation off tx-udp_tnl-csum-segmentation off (lasting: NetworkManager ethtool.feature-tx-udp_tnl-segmentation off, or a udev/systemd unit); ${PORT_HINT[o.ov.plugin] ?? 'or use another VXLAN port'}`,
            argv: [
              'ethtool',
              '-K',
              parent.name,
              'tx-udp_tnl-segmentation',
              'off',
              'tx-udp_tnl-csum-segmentation',
              'off',
            ],
            hosts: [host],
            safe: false,
          },
        });
        continue;
      }
      parts.push({
        status: 'pass',
        summary: `${parent.name} (driver ${drv.driver}${drv.driver === 'vmxnet3' ? ', UDP-tunnel offloads off' : ''}) is not a known offender for ${dev.name}`,
        evidence: ev,
      });
    }
    if (!parts.length)
      return [emit(id, host, 'skip', `${o.devs.map((d) => d.spec.device).join(', ')} missing (see overlay.interface)`)];
    const m = merge(parts);
    return [emit(id, host, m.status, m.summary, m.evidence, m.remediation)];
  },
});
