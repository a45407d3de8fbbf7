// The overlay the inventory implies: which devices the network plugin creates for encapsulation,
// how they encapsulate, what that costs, and the UDP port on the wire. Pure; from Kubespray's
// variables and defaults (roles/network_plugin/{calico_defaults,flannel,cilium}/defaults) and
// what each plugin does with them:
//   Calico    VXLAN: vxlan.calico (FELIX_VXLANPORT = calico_vxlan_port when the backend is vxlan,
//             Felix's 4789 otherwise; VNI calico_vxlan_vni), and with ipv6_stack vxlan-v6.calico
//             (calico_vxlan_mode_ipv6; Felix's VXLANPortV6 4789, which Kubespray does not set);
//             IP-in-IP: tunl0 (IPv4 only: Kubespray refuses calico_ipip_mode_ipv6 other than Never);
//             BGP without encapsulation (both modes Never): no overlay.
//   flannel   backend vxlan: flannel.<flannel_vxlan_vni> on flannel_vxlan_port, flannel-v6.<vni>
//             with ipv6_stack; host-gw routes without encapsulation.
//   Cilium    cilium_tunnel_mode vxlan: cilium_vxlan on 8472 (Cilium's default; Kubespray has no
//             variable for it), geneve: cilium_geneve on 6081; disabled: native routing.
import type { ClusterModel } from '../types.js';

export type Encap = 'vxlan' | 'ipip' | 'geneve';

export interface OverlayDevice {
  device: string;
  encap: Encap;
  /** address family of the outer (underlay) header */
  family: 4 | 6;
  /** bytes the encapsulation adds: VXLAN/Geneve over IPv4 50, over IPv6 70; IP-in-IP 20 */
  overhead: number;
  /** the UDP port on the wire; null for IP-in-IP */
  port: number | null;
  vni: number | null;
}

export interface Overlay extends OverlayDevice {
  /** kube_network_plugin */
  plugin: string;
  /** every device the plugin creates for the configured overlay; the first is the one above */
  devices: OverlayDevice[];
  /** the inventory variable that sets the port (null when Kubespray has none) */
  portVar: string | null;
}

const on = (m: string | null | undefined) => !!m && !/^never$/i.test(m);

function vxlan(device: string, family: 4 | 6, port: number, vni: number | null): OverlayDevice {
  return { device, encap: 'vxlan', family, overhead: family === 6 ? 70 : 50, port, vni };
}

function build(plugin: string, devices: OverlayDevice[], portVar: string | null): Overlay | null {
  if (!devices.length) return null;
  return { ...devices[0]!, plugin, devices, portVar };
}

/** The overlay the inventory configures, or null when there is none (see noOverlayReason). */
export function expectedOverlay(c: ClusterModel): Overlay | null {
  const v4 = c.ipv4Stack !== false;
  const v6 = c.ipv6Stack === true;
  if (c.networkPlugin === 'calico') {
    if (c.calicoBackend === 'none') return null;
    const devs: OverlayDevice[] = [];
    const vni = c.calicoVxlanVni ?? 4096;
    // FELIX_VXLANPORT is only set with the vxlan backend; with bird, Felix's default applies
    const port = c.calicoBackend === 'vxlan' ? c.calicoVxlanPort : 4789;
    if (v4) {
      if (c.calicoBackend === 'vxlan' && on(c.calicoVxlanMode ?? 'Always'))
        devs.push(vxlan('vxlan.calico', 4, port, vni));
      else if (on(c.calicoIpipMode))
        devs.push({ device: 'tunl0', encap: 'ipip', family: 4, overhead: 20, port: null, vni: null });
      else if (on(c.calicoVxlanMode)) devs.push(vxlan('vxlan.calico', 4, port, vni));
    }
    if (v6 && on(c.calicoVxlanModeIpv6 ?? 'Always')) devs.push(vxlan('vxlan-v6.calico', 6, 4789, vni));
    return build('calico', devs, c.calicoBackend === 'vxlan' ? 'calico_vxlan_port' : null);
  }
  if (c.networkPlugin === 'flannel') {
    if ((c.flannelBackendType ?? 'vxlan') !== 'vxlan') return null;
    const vni = c.flannelVxlanVni ?? 1;
    const port = c.flannelVxlanPort ?? 8472;
    const devs: OverlayDevice[] = [];
    if (v4) devs.push(vxlan(`flannel.${vni}`, 4, port, vni));
    if (v6) devs.push(vxlan(`flannel-v6.${vni}`, 6, port, vni));
    return build('flannel', devs, 'flannel_vxlan_port');
  }
  if (c.networkPlugin === 'cilium') {
    const mode = c.ciliumTunnelMode ?? 'vxlan';
    // one device in external (collect-metadata) mode carries both families; IPv4 underlay assumed
    if (mode === 'vxlan') return build('cilium', [vxlan('cilium_vxlan', 4, 8472, null)], null);
    if (mode === 'geneve')
      return build(
        'cilium',
        [{ device: 'cilium_geneve', encap: 'geneve', family: 4, overhead: 50, port: 6081, vni: null }],
        null,
      );
    return null;
  }
  return null;
}

/** Why there is no overlay to check, for a check's `skip`. */
export function noOverlayReason(c: ClusterModel): string {
  if (c.networkPlugin === 'calico') {
    if (c.calicoBackend === 'none')
      return 'calico_network_backend is none: Calico does policy only, nothing is encapsulated';
    return `Calico without encapsulation (calico_ipip_mode ${c.calicoIpipMode ?? 'Never'}, calico_vxlan_mode ${c.calicoVxlanMode ?? 'Never'}: routes by BGP)`;
  }
  if (c.networkPlugin === 'flannel')
    return `flannel_backend_type is ${c.flannelBackendType}: ${c.flannelBackendType === 'host-gw' ? 'routes without encapsulation' : 'this tool models only the vxlan backend'}`;
  if (c.networkPlugin === 'cilium')
    return `cilium_tunnel_mode is ${c.ciliumTunnelMode}: native routing, nothing is encapsulated`;
  return `network plugin is ${c.networkPlugin}: this tool models the overlays of calico, flannel and cilium`;
}

/** The devices whose offload settings and packet counters are read: every device the plugin may
 *  create (a device that is not there is passed over), so a node set up otherwise than the
 *  inventory says shows what it has. */
export function overlayDevices(c: ClusterModel): string[] {
  if (c.networkPlugin === 'calico') return ['vxlan.calico', 'vxlan-v6.calico', 'tunl0'];
  if (c.networkPlugin === 'flannel') {
    const vni = c.flannelVxlanVni ?? 1;
    return [`flannel.${vni}`, `flannel-v6.${vni}`];
  }
  if (c.networkPlugin === 'cilium') return ['cilium_vxlan', 'cilium_geneve'];
  return [];
}

/** Every overlay device name any plugin creates, for "what is there instead" evidence. */
export function isOverlayName(name: string): boolean {
  return /^(vxlan\.calico|vxlan-v6\.calico|tunl0|flannel(-v6)?\.\d+|cilium_(vxlan|geneve))$/.test(name);
}
