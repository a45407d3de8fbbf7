// overlay.offload: TX checksum offload on the overlay devices. On by itself it is the default above
// kernel 5.7 and no fault: the probes decide (diagnosis checksum-offload), so it passes, saying so.
// It warns where it is a known risk — a kernel Felix itself treats as broken (<= 5.7.0), a parent
// NIC known to corrupt tunnelled packets (vmxnet3 with UDP-tunnel offloads on), or an inventory
// that asks Felix to turn it off while it is still on. TX off with RX on is how Felix's own fix
// leaves the device (ChecksumOffloadBroken): that node is fixed.
import { defineCheck } from './module.js';
import { linksReader } from '../collect/iproute.js';
import { kernelReader } from '../collect/kernel.js';
import { checksumOffload, driverOf, offloadReader, udpTunnelOffloads } from '../collect/ethtool.js';
import { felixDeemsBroken, felixView, checksumOverride } from '../inventory/felix.js';
import type { LinkFacts, NodeFacts } from '../types.js';
import { isParseError } from '../types.js';
import { lookupOverlay, merge, parentOf, type Part } from './overlay-device.js';
import type { OverlayDevice } from '../inventory/overlay.js';

/** The parent NIC is a vmxnet3 with UDP-tunnel offloads on (calico#4727, calico#9433, kubespray#7268;
 *  Cilium's ESXi notes): null when it is not, or cannot be told. */
export function offendingParent(
  f: NodeFacts,
  dev: LinkFacts,
  links: LinkFacts[],
  spec: OverlayDevice,
): { nic: string; driver: string; on: string[] } | null {
  if (spec.port === null) return null;
  const parent = parentOf(dev, links);
  if (!parent) return null;
  const o = f.offload[parent.name];
  if (!o || isParseError(o) || driverOf(f, parent.name) !== 'vmxnet3') return null;
  const on = udpTunnelOffloads(o)
    .filter((x) => x.on)
    .map((x) => x.name);
  return on.length ? { nic: parent.name, driver: 'vmxnet3', on } : null;
}

export default defineCheck({
  ids: ['overlay.offload'],
  title: 'TX checksum offload on the overlay devices, judged by kernel, parent NIC and Felix',
  rank: 22,
  scope: 'node',
  readers: [linksReader, offloadReader, kernelReader],
  evaluate({ host, cluster: c, facts }, emit) {
    const id = 'overlay.offload';
    const f = facts!;
    const o = lookupOverlay(f, c);
    if (o.kind === 'none') return [emit(id, host, 'skip', `no overlay to check (${o.why})`)];
    if (o.kind === 'error') return [emit(id, host, 'error', o.error)];
    const parts: Part[] = o.devs.map(({ spec, dev }): Part => {
      if (!dev) return { status: 'skip', summary: `${spec.device} is missing`, evidence: { device: spec.device } };
      const off = f.offload[dev.name];
      if (!off)
        return { status: 'error', summary: `ethtool -k ${dev.name} printed nothing`, evidence: { device: dev.name } };
      if (isParseError(off))
        return {
          status: /not installed/.test(off.parseError) ? 'skip' : 'error',
          summary: off.parseError,
          evidence: { device: dev.name },
        };
      const cs = checksumOffload(off);
      const felix = felixView(c, dev.name, f.kernel);
      const bad = offendingParent(f, dev, o.links, spec);
      const ev = {
        device: dev.name,
        'tx-checksumming': cs.tx,
        'rx-checksumming': cs.rx,
        'tx-checksum-ip-generic': off.features['tx-checksum-ip-generic']?.on ?? null,
        kernel: f.kernel,
        ...(felix.applies ? { felix: felix.why } : {}),
        parent: dev.parent,
        ...(bad ? { parentDriver: bad.driver, parentUdpTunnelOffloads: bad.on } : {}),
      };
      if (cs.tx === null)
        return { status: 'skip', summary: `ethtool -k ${dev.name} lists no TX checksum feature`, evidence: ev };
      if (!cs.tx)
        return {
          status: 'pass',
          summary: `TX checksum offload is off for ${dev.name}${cs.rx ? ' (RX on, as Felix leaves it with ChecksumOffloadBroken)' : ''}`,
          evidence: ev,
        };
      const fix = `ethtool --offload ${dev.name} tx off`;
      if (bad) {
        return {
          status: 'warn',
          summary: `TX checksum offload is on for ${dev.name} over ${bad.nic}, a vmxnet3 NIC with ${bad.on.join(' and ')} on: a known cause of corrupt or dropped tunnelled packets on VMware; the probes decide`,
          evidence: ev,
          remediation: {
            text: `see overlay.nic-offload: ethtool -K ${bad.nic} tx-udp_tnl-segmentation off tx-udp_tnl-csum-segmentation off`,
            safe: false,
          },
        };
      }
      if (felix.applies && felix.expectsTxOff && checksumOverride(c) === true) {
        return {
          status: 'warn',
          summary: `TX checksum offload is on for ${dev.name} though the inventory sets calico_feature_detect_override "${c.calicoFeatureDetectOverride}": Felix has not applied it`,
          evidence: ev,
          remediation: {
            text: 'Felix has not applied the override: check `kubectl get felixconfiguration default -o yaml` for featureDetectOverride (re-run cluster.yml --tags network if it is missing), then kubectl -n kube-system rollout restart daemonset calico-node',
            safe: false,
          },
        };
      }
      if (felixDeemsBroken(f.kernel)) {
        const who = felix.applies ? `; ${felix.why} — it has not (calico-node not restarted since?)` : '';
        return {
          status: 'warn',
          summary: `TX checksum offload is on for ${dev.name} on kernel ${f.kernel}, in the range Felix itself treats as broken (<= 5.7.0)${who}; the probes decide`,
          evidence: ev,
          remediation: {
            text: felix.applies
              ? `kubectl -n kube-system rollout restart daemonset calico-node (Felix turns it off on this kernel); for now: ${fix}`
              : `${fix} on this kernel (or upgrade the kernel past 5.7)`,
            safe: false,
          },
        };
      }
      return {
        status: 'pass',
        summary: `TX checksum offload is on for ${dev.name}${felix.applies ? ` (${felix.why})` : f.kernel ? ` (kernel ${f.kernel})` : ''}: no risk by itself, the probes decide`,
        evidence: ev,
      };
    });
    const m = merge(parts);
    return [emit(id, host, m.status, m.summary, m.evidence, m.remediation)];
  },
});
