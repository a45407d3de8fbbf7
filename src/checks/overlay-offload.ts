// overlay.offload: tx/rx checksum offload on the overlay device (a risk on its own; the probes
// decide whether it corrupts anything — diagnosis checksum-offload).
import { defineCheck } from './module.js';
import { linksReader } from '../collect/iproute.js';
import { checksumOffload, offloadReader } from '../collect/ethtool.js';
import { isParseError } from '../types.js';
import { lookupOverlay } from './overlay-device.js';

export default defineCheck({
  ids: ['overlay.offload'],
  title: 'tx/rx checksum offload on the overlay device',
  rank: 22,
  scope: 'node',
  readers: [linksReader, offloadReader],
  evaluate({ host, cluster: c, facts }, emit) {
    const id = 'overlay.offload';
    const o = lookupOverlay(facts!, c);
    if (o.kind === 'none') return [emit(id, host, 'skip', `no overlay to check (${o.why})`)];
    if (o.kind === 'error') return [emit(id, host, 'error', o.error)];
    if (o.kind === 'missing') return [emit(id, host, 'skip', `${o.ov.device} is missing`)];
    const { dev, ov } = o;
    const off = facts!.offload[dev.name];
    if (!off) return [emit(id, host, 'error', `ethtool -k ${dev.name} printed nothing`)];
    if (isParseError(off)) return [emit(id, host, /not installed/.test(off.parseError) ? 'skip' : 'error', off.parseError)];
    const cs = checksumOffload(off);
    const ev = { device: dev.name, 'tx-checksumming': cs.tx, 'rx-checksumming': cs.rx, 'tx-checksum-ip-generic': off.features['tx-checksum-ip-generic']?.on ?? null, 'tx-udp_tnl-segmentation': off.features['tx-udp_tnl-segmentation']?.on ?? null };
    if (cs.tx || cs.rx) {
      return [emit(id, host, 'warn', `checksum offload is on for ${dev.name} (tx ${cs.tx ? 'on' : 'off'}, rx ${cs.rx ? 'on' : 'off'}): a known cause of corrupt TCP checksums over ${ov.encap.toUpperCase()}; the probes decide`, ev, { text: `if DNS over the overlay fails: ethtool --offload ${dev.name} rx off tx off; lasting: calico_feature_detect_override: "ChecksumOffloadBroken=true"`, safe: false })];
    }
    return [emit(id, host, 'pass', `checksum offload is off for ${dev.name}`, ev)];
  },
});
