// The Kubespray inventory a lab is described by: hosts.yaml, group_vars/all and
// group_vars/k8s_cluster with the network plugin's own file, as Kubespray's sample lays them out.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOMAIN } from './services.js';
import { SEARCH_DOMAIN } from './resolver.js';
import { NLD_IP, OVERLAYS, type LabNode, type PluginName } from './topology.js';

export interface InventoryVars {
  keyFile: string;
  binDir: string;
  serviceCidr: string;
  podCidr: string;
  plugin: PluginName;
}

export function writeInventory(
  dir: string,
  nodes: LabNode[],
  bastion: { address: string } | null,
  v: InventoryVars,
): string {
  const inv = join(dir, 'inventory');
  mkdirSync(join(inv, 'group_vars', 'all'), { recursive: true });
  mkdirSync(join(inv, 'group_vars', 'k8s_cluster'), { recursive: true });
  const cp = nodes.slice(0, 1);
  const lines = ['all:', '  hosts:'];
  for (const n of nodes)
    lines.push(
      `    ${n.name}:`,
      `      ansible_host: ${n.address}`,
      `      ip: ${n.address}`,
      `      access_ip: ${n.address}`,
    );
  if (bastion) lines.push('    bastion:', `      ansible_host: ${bastion.address}`);
  lines.push('  children:');
  lines.push('    kube_control_plane:', '      hosts:', ...cp.map((n) => `        ${n.name}:`));
  lines.push('    etcd:', '      hosts:', ...cp.map((n) => `        ${n.name}:`));
  lines.push('    kube_node:', '      hosts:', ...nodes.map((n) => `        ${n.name}:`));
  lines.push('    k8s_cluster:', '      children:', '        kube_control_plane:', '        kube_node:');
  lines.push('    calico_rr:', '      hosts: {}');
  if (bastion) lines.push('    bastion:', '      hosts:', '        bastion:');
  writeFileSync(join(inv, 'hosts.yaml'), lines.join('\n') + '\n');
  writeFileSync(
    join(inv, 'group_vars', 'all', 'all.yml'),
    [
      '# written by the kubespray-validate lab',
      'ansible_user: root',
      `ansible_ssh_private_key_file: ${v.keyFile}`,
      'ansible_python_interpreter: /usr/bin/python3',
      `bin_dir: ${v.binDir}`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(inv, 'group_vars', 'k8s_cluster', 'k8s-cluster.yml'),
    [
      `kube_network_plugin: ${v.plugin}`,
      `kube_service_addresses: ${v.serviceCidr}`,
      `kube_pods_subnet: ${v.podCidr}`,
      `cluster_name: ${DOMAIN}`,
      'kube_proxy_mode: iptables',
      'enable_nodelocaldns: true',
      `nodelocaldns_ip: ${NLD_IP}`,
      // what Kubespray writes into the hosts' resolv.conf (host_resolvconf); the lab's nodes list it
      `searchdomains: [${SEARCH_DOMAIN}]`,
      '',
    ].join('\n'),
  );
  if (v.plugin === 'calico') {
    writeFileSync(
      join(inv, 'group_vars', 'k8s_cluster', 'k8s-net-calico.yml'),
      ['calico_network_backend: vxlan', 'calico_vxlan_mode: Always', 'calico_ipip_mode: Never', ''].join('\n'),
    );
  } else {
    // Kubespray's roles/network_plugin/flannel/defaults (flannel_vxlan_vni/_port), spelled out
    const ov = OVERLAYS.flannel;
    writeFileSync(
      join(inv, 'group_vars', 'k8s_cluster', 'k8s-net-flannel.yml'),
      ['flannel_backend_type: vxlan', `flannel_vxlan_vni: ${ov.vni}`, `flannel_vxlan_port: ${ov.port}`, ''].join('\n'),
    );
  }
  return inv;
}
