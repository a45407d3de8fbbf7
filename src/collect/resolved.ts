// systemd-resolved's uplink file, /run/systemd/resolve/resolv.conf: the DNS servers resolved itself
// uses (from DHCP, netplan, /etc/systemd/resolved.conf), written in resolv.conf syntax. Kubespray's
// kubelet reads it on Ubuntu and Fedora (kube_resolv_conf), so whatever lands there — a server
// dhclient's `supersede` line handed resolved after a reboot — is what CoreDNS and NodeLocalDNS
// forward to. Pure; never throws.
import { parseResolvConf, type ResolvConf } from './resolvconf.js';

export const RESOLVED_UPLINK_PATH = '/run/systemd/resolve/resolv.conf';
export const RESOLVED_STUB_PATH = '/run/systemd/resolve/stub-resolv.conf';
/** The address of resolved's stub listener, what the stub file (and /etc/resolv.conf linked to it) names. */
export const RESOLVED_STUB_ADDRESS = '127.0.0.53';

export interface ResolvedUplink extends ResolvConf {
  /** resolved knows no upstream server: it writes the comment "No DNS servers known." and no
   *  nameserver line (a node whose link lost its DNS configuration) */
  noServersKnown: boolean;
  /** the file is resolved's stub file instead (nameserver 127.0.0.53), not the uplink list */
  stub: boolean;
  /** resolved knows more than 3 servers and says so above the fourth ("Too many DNS servers
   *  configured, the following entries may be ignored.") */
  tooManyServers: boolean;
}

export function parseResolvedUplink(text: string): ResolvedUplink {
  const r = parseResolvConf(text);
  return {
    ...r,
    noServersKnown: /^\s*#\s*No DNS servers known/im.test(text) && r.nameservers.length === 0,
    stub: r.managedBy === 'systemd-resolved-stub',
    tooManyServers: /^\s*#\s*Too many DNS servers configured/im.test(text),
  };
}
