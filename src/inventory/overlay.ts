// The overlay the inventory implies: which device the network plugin creates for encapsulation,
// how it encapsulates and how many bytes that costs. Pure; from Kubespray's variables and defaults.
import type { ClusterModel } from '../types.js';

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

/** The devices whose offload settings are read: the expected overlay and the ones a plugin may
 *  create besides (both Calico devices when unsure). */
export function overlayDevices(c: ClusterModel): string[] {
  if (c.networkPlugin !== 'calico') return [];
  return ['vxlan.calico', 'tunl0'];
}
