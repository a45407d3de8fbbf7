// The Calico overlay the inventory implies, and the checks on it: present and up, MTU with room
// for encapsulation, checksum offload state (a risk on its own; the probes decide).
import type { CheckResult, ClusterModel, LinkFacts, NodeFacts } from '../types.js';
import { isParseError } from '../types.js';
import { checksumOffload } from '../collect/ethtool.js';

export interface Overlay {
  device: string;
  encap: 'vxlan' | 'ipip';
  overhead: number;
}

/** vxlan.calico for the vxlan backend (or vxlan mode), tunl0 for IP-in-IP; null when no overlay. */
export function expectedOverlay(c: ClusterModel): Overlay | null {
  if (c.networkPlugin !== 'calico') return null;
  const on = (m: string | null) => !!m && !/^never$/i.test(m);
  if (c.calicoBackend === 'vxlan' && on(c.calicoVxlanMode ?? 'Always')) return { device: 'vxlan.calico', encap: 'vxlan', overhead: 50 };
  if (on(c.calicoIpipMode)) return { device: 'tunl0', encap: 'ipip', overhead: 20 };
  if (on(c.calicoVxlanMode) && c.calicoBackend !== 'none') return { device: 'vxlan.calico', encap: 'vxlan', overhead: 50 };
  return null;
}

function r(check: string, host: string, status: CheckResult['status'], summary: string, evidence: Record<string, unknown> = {}): CheckResult {
  return { check, host, status, summary, evidence };
}

export function overlayChecks(f: NodeFacts, c: ClusterModel): CheckResult[] {
  const h = f.host;
  const ov = expectedOverlay(c);
  if (!ov) {
    const why = c.networkPlugin !== 'calico' ? `network plugin is ${c.networkPlugin}` : 'Calico runs without encapsulation';
    return ['overlay.interface', 'overlay.mtu', 'overlay.offload'].map((id) => r(id, h, 'skip', `no overlay to check (${why})`));
  }
  if (isParseError(f.links)) return ['overlay.interface', 'overlay.mtu', 'overlay.offload'].map((id) => r(id, h, 'error', (f.links as { parseError: string }).parseError));
  const links = f.links as LinkFacts[];
  const dev = links.find((l) => l.name === ov.device);
  const out: CheckResult[] = [];
  if (!dev) {
    const others = links.filter((l) => l.name === 'vxlan.calico' || l.name === 'tunl0' || l.name === 'vxlan-v6.calico').map((l) => l.name);
    out.push(r('overlay.interface', h, 'fail', `${ov.device} does not exist (Calico ${ov.encap} is configured)`, { expected: ov.device, present: others }));
    out.push(r('overlay.mtu', h, 'skip', `${ov.device} is missing`));
    out.push(r('overlay.offload', h, 'skip', `${ov.device} is missing`));
    return out;
  }
  const ev = { device: dev.name, kind: dev.kind, operstate: dev.operstate, mtu: dev.mtu, parent: dev.parent, ...(dev.vxlan ? { vni: dev.vxlan.id, port: dev.vxlan.port } : {}) };
  if (!dev.up) out.push(r('overlay.interface', h, 'fail', `${dev.name} is administratively down`, ev));
  else if (ov.encap === 'vxlan' && dev.vxlan?.port && dev.vxlan.port !== c.calicoVxlanPort) out.push(r('overlay.interface', h, 'warn', `${dev.name} uses UDP port ${dev.vxlan.port}, the inventory says calico_vxlan_port ${c.calicoVxlanPort}`, ev));
  else out.push(r('overlay.interface', h, 'pass', `${dev.name} is up (${dev.kind ?? 'unknown kind'}${dev.vxlan?.id ? `, VNI ${dev.vxlan.id}` : ''})`, ev));

  const parent = dev.parent ? links.find((l) => l.name === dev.parent) : undefined;
  if (!parent) out.push(r('overlay.mtu', h, 'warn', `cannot tell the parent interface of ${dev.name}; MTU ${dev.mtu} not checked`, ev));
  else {
    const room = parent.mtu - dev.mtu;
    const mev = { device: dev.name, mtu: dev.mtu, parent: parent.name, parentMtu: parent.mtu, overhead: ov.overhead, maxOverlayMtu: parent.mtu - ov.overhead };
    if (room < ov.overhead) out.push(r('overlay.mtu', h, 'fail', `${dev.name} MTU ${dev.mtu} leaves ${room} bytes under ${parent.name} MTU ${parent.mtu}; ${ov.encap.toUpperCase()} needs ${ov.overhead}`, mev));
    else out.push(r('overlay.mtu', h, 'pass', `${dev.name} MTU ${dev.mtu} fits ${parent.name} MTU ${parent.mtu} with ${ov.encap.toUpperCase()} overhead ${ov.overhead}`, mev));
  }

  const off = f.offload[dev.name];
  if (!off) out.push(r('overlay.offload', h, 'error', `ethtool -k ${dev.name} printed nothing`));
  else if (isParseError(off)) out.push(r('overlay.offload', h, /not installed/.test(off.parseError) ? 'skip' : 'error', off.parseError));
  else {
    const cs = checksumOffload(off);
    const ev2 = { device: dev.name, 'tx-checksumming': cs.tx, 'rx-checksumming': cs.rx, 'tx-checksum-ip-generic': off.features['tx-checksum-ip-generic']?.on ?? null, 'tx-udp_tnl-segmentation': off.features['tx-udp_tnl-segmentation']?.on ?? null };
    if (cs.tx || cs.rx) out.push(r('overlay.offload', h, 'warn', `checksum offload is on for ${dev.name} (tx ${cs.tx ? 'on' : 'off'}, rx ${cs.rx ? 'on' : 'off'}): a known cause of corrupt TCP checksums over ${ov.encap.toUpperCase()}; the probes decide`, ev2));
    else out.push(r('overlay.offload', h, 'pass', `checksum offload is off for ${dev.name}`, ev2));
  }
  return out;
}
