// The Kubespray cluster model: what a Kubespray play would compute from the inventory and the
// role defaults, for the variables the validator needs.
import { InventoryError } from '../errors.js';
import type { ClusterModel, Inventory, Vars } from '../types.js';
import { groupHosts } from './load.js';
import { isDomainName, isImageRef, isIP, isIPv4, isPort, isSafePath, nthAddress, parseCidr } from './validate.js';

import { DEFAULT_POD_TAG, KUBESPRAY_DEFAULTS } from './defaults.js';

/** kube-proxy's modes Kubespray deploys: iptables rules, IPVS, or the nft table `ip kube-proxy`. */
export const KUBE_PROXY_MODES = ['iptables', 'ipvs', 'nftables'];
import { Unresolvable, VarResolver, explainUnresolvable } from './jinja.js';
import { resolverSettings } from './resolver.js';

const GROUP_NAMES = {
  controlPlane: ['kube_control_plane', 'kube-master'],
  nodes: ['kube_node', 'kube-node'],
  etcd: ['etcd'],
  calicoRr: ['calico_rr', 'calico-rr'],
  k8sCluster: ['k8s_cluster', 'k8s-cluster'],
};

function union(inv: Inventory, names: string[]): string[] {
  const out = new Set<string>();
  for (const n of names) {
    for (const h of groupHosts(inv.groups, n)) out.add(h);
    for (const h of inv.runtimeGroups[n] ?? []) out.add(h);
  }
  return [...out];
}

export function kubesprayGroups(inv: Inventory): {
  controlPlane: string[];
  nodes: string[];
  etcd: string[];
  calicoRr: string[];
  k8sCluster: string[];
  bastion: string | null;
} {
  const controlPlane = union(inv, GROUP_NAMES.controlPlane);
  const nodes = union(inv, GROUP_NAMES.nodes);
  const calicoRr = union(inv, GROUP_NAMES.calicoRr);
  let k8sCluster = union(inv, GROUP_NAMES.k8sCluster);
  if (!k8sCluster.length) k8sCluster = [...new Set([...controlPlane, ...nodes, ...calicoRr])];
  const bastionGroup = groupHosts(inv.groups, 'bastion');
  const bastion = bastionGroup.includes('bastion') ? 'bastion' : (bastionGroup[0] ?? null);
  return { controlPlane, nodes, etcd: union(inv, GROUP_NAMES.etcd), calicoRr, k8sCluster, bastion };
}

/** Kubespray defaults below the host's vars as a Kubespray play sees them. */
export function effectiveHostVars(inv: Inventory, host: string): Vars {
  const v = inv.playHostvars[host] ?? inv.hostvars[host];
  if (!v) throw new InventoryError(`host "${host}" is not in the inventory`);
  return { ...KUBESPRAY_DEFAULTS, ...v };
}

function need(r: VarResolver, name: string): unknown {
  try {
    return r.get(name);
  } catch (e) {
    if (e instanceof Unresolvable)
      throw new InventoryError(`cannot evaluate ${explainUnresolvable(e, name)}; pass the value with -e ${name}=VALUE`);
    throw e;
  }
}

function str(r: VarResolver, name: string): string {
  const v = need(r, name);
  if (v === undefined || v === null) throw new InventoryError(`${name} is not set; pass it with -e ${name}=VALUE`);
  if (typeof v === 'object')
    throw new InventoryError(`${name} must be a string, not ${Array.isArray(v) ? 'a list' : 'a mapping'}`);
  return String(v);
}

function bool(r: VarResolver, name: string): boolean {
  const v = need(r, name);
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return /^(true|yes|on|1|y)$/i.test(v.trim());
  return Boolean(v);
}

function port(r: VarResolver, name: string): number {
  const v = need(r, name);
  if (!isPort(v)) throw new InventoryError(`${name} must be a port number 1-65535, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** kube_pods_subnet (and the IPv6 one when ipv6_stack): where the pods' addresses are. Read leniently
 *  — only the pod-namespace counters use them, and a value this tool cannot evaluate leaves them
 *  unread (the evidence then says so) instead of stopping the run. */
function podsSubnets(r: VarResolver, ipv4: boolean, ipv6: boolean): string[] {
  const out: string[] = [];
  for (const [on, n] of [
    [ipv4, 'kube_pods_subnet'],
    [ipv6, 'kube_pods_subnet_ipv6'],
  ] as const) {
    if (!on) continue;
    let v: unknown;
    try {
      v = r.get(n);
    } catch (e) {
      if (e instanceof Unresolvable || e instanceof InventoryError) continue;
      throw e;
    }
    for (const part of typeof v === 'string' ? v.split(',') : []) {
      const c = parseCidr(part.trim());
      if (c) out.push(`${c.address}/${c.prefix}`);
    }
  }
  return out;
}

/** The pause image (pod_infra_image_repo:pod_infra_image_tag) where the inventory sets it in a form
 *  this resolves (Kubespray's own default picks the tag from a per-Kubernetes-version table). */
function podInfraImage(r: VarResolver): string | null {
  try {
    const repo = r.get('pod_infra_image_repo');
    let tag: unknown = DEFAULT_POD_TAG;
    try {
      tag = r.get('pod_infra_image_tag');
    } catch (e) {
      if (!(e instanceof Unresolvable || e instanceof InventoryError)) throw e;
    }
    if (typeof repo !== 'string' || (typeof tag !== 'string' && typeof tag !== 'number')) return null;
    const image = `${repo}:${String(tag)}`;
    return isImageRef(image) ? image : null;
  } catch (e) {
    if (e instanceof Unresolvable || e instanceof InventoryError) return null;
    throw e;
  }
}

export function clusterModel(inv: Inventory, hosts?: string[]): ClusterModel {
  const g = kubesprayGroups(inv);
  const ref = g.controlPlane[0] ?? hosts?.[0] ?? g.k8sCluster[0];
  if (!ref) throw new InventoryError('the inventory has no kube_control_plane, kube_node or k8s_cluster hosts');
  const r = new VarResolver(effectiveHostVars(inv, ref));

  const dnsDomain = str(r, 'dns_domain').replace(/\.$/, '');
  if (!isDomainName(dnsDomain))
    throw new InventoryError(`dns_domain/cluster_name "${dnsDomain}" is not a valid domain name`);

  const ipv4 = bool(r, 'ipv4_stack');
  const svcVar = ipv4 ? 'kube_service_addresses' : 'kube_service_addresses_ipv6';
  const serviceCidr = str(r, svcVar).split(',')[0]!.trim();
  const cidr = parseCidr(serviceCidr);
  if (!cidr) throw new InventoryError(`${svcVar} "${serviceCidr}" is not a valid CIDR`);
  let corednsIp: string;
  // Kubespray's own skydns_server is an ipaddr() expression: left as Jinja, it is computed below
  let sky: unknown;
  try {
    sky = r.get('skydns_server');
  } catch (e) {
    if (!(e instanceof Unresolvable)) throw e;
  }
  if (typeof sky === 'string' && sky) {
    if (!isIP(sky)) throw new InventoryError(`skydns_server "${sky}" is not an IP address`);
    corednsIp = sky;
  } else {
    const third = nthAddress(cidr, 3);
    if (!third)
      throw new InventoryError(
        `${svcVar} ${serviceCidr}: cannot compute the CoreDNS address (IPv6-only service ranges need -e skydns_server=ADDRESS)`,
      );
    corednsIp = third;
  }

  const nodelocaldnsEnabled = bool(r, 'enable_nodelocaldns');
  const nodelocaldnsIp = str(r, 'nodelocaldns_ip');
  if (!isIPv4(nodelocaldnsIp)) throw new InventoryError(`nodelocaldns_ip "${nodelocaldnsIp}" is not an IPv4 address`);

  const networkPlugin = str(r, 'kube_network_plugin');
  if (!/^[a-z0-9-]+$/.test(networkPlugin))
    throw new InventoryError(`kube_network_plugin "${networkPlugin}" is not a plugin name`);
  const calico = networkPlugin === 'calico';
  const backend = calico ? str(r, 'calico_network_backend') : null;
  if (backend !== null && !['vxlan', 'bird', 'none'].includes(backend))
    throw new InventoryError(`calico_network_backend must be vxlan, bird or none, got "${backend}"`);

  const binDir = str(r, 'bin_dir');
  if (!isSafePath(binDir))
    throw new InventoryError(
      `bin_dir "${binDir.slice(0, 80)}" must be an absolute path without spaces or shell characters`,
    );
  const kubeConfigDir = str(r, 'kube_config_dir');
  if (!isSafePath(kubeConfigDir))
    throw new InventoryError(
      `kube_config_dir "${kubeConfigDir.slice(0, 80)}" must be an absolute path without spaces or shell characters`,
    );

  const mode = (n: string) => {
    const v = str(r, n);
    if (!['Always', 'CrossSubnet', 'Never'].includes(v))
      throw new InventoryError(`${n} must be Always, CrossSubnet or Never, got "${v}"`);
    return v;
  };
  const kubeProxyMode = str(r, 'kube_proxy_mode');
  // Kubespray's validate_inventory accepts these three (nftables since v2.28)
  if (!KUBE_PROXY_MODES.includes(kubeProxyMode))
    throw new InventoryError(
      `kube_proxy_mode "${kubeProxyMode.slice(0, 40)}" is not one of ${KUBE_PROXY_MODES.join(', ')}`,
    );
  const fdo = str(r, 'calico_feature_detect_override');
  const ipv6Stack = bool(r, 'ipv6_stack');
  const flannel = networkPlugin === 'flannel';
  const cilium = networkPlugin === 'cilium';
  const int = (n: string, min: number, max: number) => {
    const v = need(r, n);
    const x = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max)
      throw new InventoryError(`${n} must be a whole number ${min}-${max}, got ${JSON.stringify(v)}`);
    return x;
  };
  const word = (n: string) => {
    const v = str(r, n).trim();
    if (!/^[a-z0-9-]*$/i.test(v)) throw new InventoryError(`${n} "${v.slice(0, 40)}" is not a mode name`);
    return v;
  };

  return {
    dnsDomain,
    serviceCidr,
    corednsIp,
    nodelocaldnsEnabled,
    nodelocaldnsIp,
    networkPlugin,
    calicoBackend: backend as ClusterModel['calicoBackend'],
    calicoVxlanMode: calico ? mode('calico_vxlan_mode') : null,
    calicoIpipMode: calico ? mode('calico_ipip_mode') : null,
    calicoVxlanPort: port(r, 'calico_vxlan_port'),
    calicoFeatureDetectOverride: fdo,
    ipv4Stack: ipv4,
    ipv6Stack,
    calicoVxlanModeIpv6: calico && ipv6Stack ? mode('calico_vxlan_mode_ipv6') : null,
    calicoVxlanVni: calico ? int('calico_vxlan_vni', 0, 16777215) : undefined,
    flannelBackendType: flannel ? word('flannel_backend_type') : null,
    flannelVxlanVni: flannel ? int('flannel_vxlan_vni', 0, 16777215) : null,
    flannelVxlanPort: flannel ? port(r, 'flannel_vxlan_port') : null,
    ciliumTunnelMode: cilium ? word('cilium_tunnel_mode') : null,
    podsSubnets: podsSubnets(r, ipv4, ipv6Stack),
    podInfraImage: podInfraImage(r),
    calicoEndpointToHostAction: calico ? word('calico_endpoint_to_host_action').toUpperCase() : null,
    kubeProxyMode,
    resolver: resolverSettings(r),
    binDir,
    kubeConfigDir,
    controlPlane: g.controlPlane,
    nodes: g.k8sCluster.filter((h) => h !== g.bastion),
  };
}
