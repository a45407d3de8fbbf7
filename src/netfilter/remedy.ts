// A host firewall's own fix for what Kubespray needs through it, in its own commands: firewalld
// (the plugin's devices in zone trusted, the overlay's port open in the zone of the NIC, or the
// pods' subnet as a trusted source, then a reload — or turning firewalld off, as Kubespray's
// README advises), ufw (allow in on the pod interfaces, allow the port). Never applied by --fix.
import type { ClusterModel, Remediation } from '../types.js';
import { expectedOverlay } from '../inventory/overlay.js';
import type { HostFirewall } from './node.js';

/** The interfaces pods and the overlay use on a node, as firewalld and ufw name them (`+`: any). */
export function pluginDevices(c: ClusterModel): string[] {
  const ov = expectedOverlay(c);
  const pods =
    c.networkPlugin === 'calico'
      ? ['cali+']
      : c.networkPlugin === 'flannel'
        ? ['cni0']
        : c.networkPlugin === 'cilium'
          ? ['lxc+']
          : [];
  const devs = [...pods, ...(ov ? [ov.device] : [])];
  if (c.nodelocaldnsEnabled) devs.push('nodelocaldns');
  return [...new Set(devs)];
}

export interface Need {
  /** pods to the node (NodeLocalDNS), or the overlay's encapsulation between nodes */
  what: 'pods' | 'overlay';
  /** the overlay's port, and its protocol (udp; ipencap for IP-in-IP) */
  port?: number | null;
  proto?: string;
  /** the zone the NIC falls in (firewalld), when known */
  zone?: string | null;
}

export function firewallFixes(
  manager: HostFirewall['manager'],
  c: ClusterModel,
  need: Need,
  hosts: string[],
): Remediation[] {
  const on = hosts.join(', ');
  if (manager === 'firewalld') {
    const cmds =
      need.what === 'pods'
        ? [
            ...pluginDevices(c).map((d) => `firewall-cmd --permanent --zone=trusted --add-interface=${d}`),
            ...(c.podsSubnets?.length
              ? [
                  `(or) ${c.podsSubnets.map((s) => `firewall-cmd --permanent --zone=trusted --add-source=${s}`).join('; ')}`,
                ]
              : []),
          ]
        : [
            need.port
              ? `firewall-cmd --permanent --zone=${need.zone ?? 'public'} --add-port=${need.port}/${need.proto ?? 'udp'}`
              : `firewall-cmd --permanent --zone=${need.zone ?? 'public'} --add-protocol=${need.proto ?? 'ipencap'}`,
          ];
    return [
      { text: `firewalld on ${on}: ${[...cmds, 'firewall-cmd --reload'].join('; ')}`, safe: false },
      { text: `or turn firewalld off on ${on}, as Kubespray advises: systemctl disable --now firewalld`, safe: false },
    ];
  }
  if (manager === 'ufw') {
    const cmds =
      need.what === 'pods'
        ? pluginDevices(c).map((d) => `ufw allow in on ${d}`)
        : [
            need.port
              ? `ufw allow ${need.port}/${need.proto ?? 'udp'}`
              : `ufw allow proto ${need.proto ?? 'ipencap'} from any`,
          ];
    return [{ text: `ufw on ${on}: ${cmds.join('; ')}`, safe: false }];
  }
  return [
    {
      text: `the native nftables table named above on ${on}: narrow or remove its rule (nft -a list ruleset shows each rule's handle; nft delete rule <family> <table> <chain> handle <n>) and the file it is loaded from (/etc/nftables.conf)`,
      safe: false,
    },
  ];
}
