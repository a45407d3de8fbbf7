// Kubespray's role defaults the cluster model reads.
import type { Vars } from '../types.js';

// Kubespray's role defaults, from kubernetes-sigs/kubespray at 46dbdd39 (v2.31.0-96):
// roles/kubespray_defaults/defaults/main/main.yml,
// roles/network_plugin/calico_defaults/defaults/main.yml, roles/network_plugin/flannel/defaults/main.yml
// and roles/network_plugin/cilium/defaults/main.yml. Only the ones the model reads.
// Jinja defaults (skydns_server, dns_domain) are computed natively in clusterModel().
export const KUBESPRAY_DEFAULTS: Vars = {
  bin_dir: '/usr/local/bin',
  kube_config_dir: '/etc/kubernetes',
  cluster_name: 'cluster.local',
  dns_domain: '{{ cluster_name }}',
  dns_mode: 'coredns',
  upstream_dns_servers: [],
  resolvconf_mode: 'host_resolvconf',
  searchdomains: [],
  enable_nodelocaldns: true,
  nodelocaldns_ip: '169.254.25.10',
  nodelocaldns_health_port: 9254,
  kube_network_plugin: 'calico',
  kube_proxy_mode: 'ipvs',
  kube_service_addresses: '10.233.0.0/18',
  kube_service_addresses_ipv6: 'fd85:ee78:d8a6:8607::1000/116',
  kube_pods_subnet: '10.233.64.0/18',
  kube_pods_subnet_ipv6: 'fd85:ee78:d8a6:8607::1:0000/112',
  ipv4_stack: true,
  ipv6_stack: '{{ enable_dual_stack_networks | default(false) }}',
  calico_network_backend: 'vxlan',
  calico_ipip_mode: 'Never',
  calico_vxlan_mode: 'Always',
  calico_vxlan_mode_ipv6: 'Always',
  calico_vxlan_port: 4789,
  calico_vxlan_vni: 4096,
  calico_feature_detect_override: '',
  // Kubespray's calico-node template: FELIX_DEFAULTENDPOINTTOHOSTACTION, `| default('RETURN')`
  calico_endpoint_to_host_action: 'RETURN',
  flannel_backend_type: 'vxlan',
  flannel_vxlan_vni: 1,
  flannel_vxlan_port: 8472,
  cilium_tunnel_mode: 'vxlan',
  // roles/kubespray_defaults/defaults/main/download.yml: the kubelet's sandbox (pause) image; its tag
  // (pod_infra_version) comes from a per-Kubernetes-version table: DEFAULT_POD_TAG stands in for it
  kube_image_repo: 'registry.k8s.io',
  pod_infra_image_repo: '{{ kube_image_repo }}/pause',
  pod_infra_image_tag: '{{ pod_infra_version }}',
};

/** pod_infra_supported_versions for Kubernetes 1.31–1.33 */
export const DEFAULT_POD_TAG = '3.10';
