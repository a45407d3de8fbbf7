// Where the cluster's DNS pods send names they do not serve, and whether that path comes back to
// them. CoreDNS (`forward . …` in Kubespray's coredns-config template) and NodeLocalDNS (the `.:53`
// zone of nodelocaldns-config) forward to `upstream_dns_servers` when the inventory sets them, else
// to /etc/resolv.conf inside their pods — the file the kubelet's `resolvConf` names on the node,
// of which the pods get the first 3 nameservers. If one of those is NodeLocalDNS, the CoreDNS
// service or a loopback address (in CoreDNS's pod, 127.0.0.0/8 is CoreDNS itself; in node-cache's
// host network it is a stub such as systemd-resolved's 127.0.0.53 that may forward back), the
// `loop` plugin stops the pod at start and it crash-loops. Pure: facts in, verdict out.
//
// The resolver parsers, for a reader that reads these files on a node (every one pure, none throws;
// a file that is not there is `null` in ResolverFiles, a fact):
//   parseKubeletConfig(text)   kubelet-config.ts   {kube_config_dir}/kubelet-config.yaml -> resolvConf,
//                                                  effectiveResolvConf (the file read), clusterDNS, or a ParseError
//   parseResolvConf(text)      resolvconf.ts       any resolv.conf -> nameservers with line numbers, search,
//                                                  options, who wrote it; keptNameservers(), searchLimits()
//   parseResolvedUplink(text)  resolved.ts         /run/systemd/resolve/resolv.conf -> the same + noServersKnown,
//                                                  stub, tooManyServers
//   parseDhclientConf(text)    dhclient.ts         /etc/dhcp/dhclient.conf -> supersede/prepend/append/default
//                                                  statements with line and interface; forcedNameservers()
//   lastLoopLine(log)          coredns-loop.ts     `kubectl logs --previous` of node-cache/CoreDNS -> the loop
//                                                  plugin's fatal line (from, to, zone, query) or null
//   analyseResolverChain(inventory, files)         here: where the DNS pods forward `.`, the looping lines
//                                                  (loops), the ones a DHCP lease will bring (latentLoops),
//                                                  >3 nameservers, search-list limits, missing searchdomains
import { isIP } from 'node:net';
import type { Parsed } from '../types.js';
import { isParseError } from '../types.js';
import type { KubeletDnsConfig } from './kubelet-config.js';
import { KUBELET_DEFAULT_RESOLV_CONF } from './kubelet-config.js';
import {
  keptNameservers,
  searchLimits,
  KUBELET_MAX_NAMESERVERS,
  type ResolvConf,
  type ResolvNameserver,
  type SearchLimits,
} from './resolvconf.js';
import type { DhclientConf, DhclientStatement } from './dhclient.js';

/** The inventory's DNS settings (Kubespray variable names in the comments). */
export interface ResolverInventory {
  /** upstream_dns_servers */
  upstreamDnsServers: string[];
  /** resolvconf_mode: host_resolvconf | docker_dns | none */
  resolvconfMode: string;
  /** dns_mode: coredns | coredns_dual | manual | none */
  dnsMode: string;
  /** nodelocaldns_ip when enable_nodelocaldns, else null */
  nodelocaldnsIp: string | null;
  /** skydns_server (and skydns_server_secondary with coredns_dual): the CoreDNS service addresses */
  corednsIps: string[];
  /** searchdomains */
  searchdomains: string[];
  /** dns_domain, for the search list a ClusterFirst pod gets (default cluster.local) */
  dnsDomain?: string;
}

/** What was read on one node. A file that is not there is `null` (a fact, not an error). */
export interface ResolverFiles {
  /** kubelet-config.yaml parsed, or null when the file is not there */
  kubeletConfig: Parsed<KubeletDnsConfig> | null;
  /** resolv.conf-syntax files by path (the one resolvConf names, /etc/resolv.conf, resolved's uplink
   *  file), parsed, or null when not there */
  resolvConfs: Record<string, ResolvConf | null>;
  /** /etc/dhcp/dhclient.conf parsed, or null when not there */
  dhclient?: DhclientConf | null;
}

/** Why an address sends a DNS pod's query back into the cluster's DNS. */
export type LoopRole = 'nodelocaldns' | 'coredns-service' | 'loopback';

export interface LoopEntry {
  address: string;
  role: LoopRole;
  /** where the address was found: a file path, "upstream_dns_servers" or the dhclient.conf path */
  source: string;
  /** 1-based line in that file (null for inventory values) */
  line: number | null;
  /** the line as written */
  text: string;
}

export interface ResolverVerdict {
  /** what the DNS pods forward `.` to: the inventory's servers, or the kubelet's resolvConf file */
  forwardsTo: 'upstream_dns_servers' | 'resolv-conf';
  /** the file the kubelet hands Default pods (null when resolvConf is "" or upstream servers are set
   *  and no kubelet config was read) */
  file: string | null;
  /** that file is not on the node */
  fileMissing: boolean;
  /** kubelet-config.yaml was not there: the file is the kubelet's default, /etc/resolv.conf */
  kubeletConfigMissing: boolean;
  /** the kubelet config could not be parsed (its error) */
  kubeletConfigError: string | null;
  /** the servers the pods forward to (the first 3 of the file, or upstream_dns_servers) */
  servers: string[];
  /** nameserver lines past the third, which the kubelet drops */
  omitted: ResolvNameserver[];
  /** the forward targets that lead back into the cluster's DNS: the loop, with its line */
  loops: LoopEntry[];
  /** loop addresses a DHCP lease will put into resolv.conf (dhclient.conf supersede/prepend lines)
   *  — a loop waiting for the next reboot or lease, even where the file is clean today */
  latentLoops: LoopEntry[];
  /** the file has no nameserver (CoreDNS: "no nameservers found"; resolved: "No DNS servers known") */
  noNameservers: boolean;
  /** more than 3 nameserver lines */
  tooManyNameservers: boolean;
  /** the file's search list against Kubernetes' limits */
  search: SearchLimits & { list: string[] };
  /** the search list a ClusterFirst pod in namespace "default" gets: the 3 cluster domains + the file's */
  clusterFirstSearch: SearchLimits;
  /** inventory searchdomains the file does not list */
  searchdomainsMissing: string[];
}

/** 127.0.0.0/8 or ::1 (also ::ffff:127.x). */
export function isLoopback(address: string): boolean {
  const a = address
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  if (isIP(a) === 4) return a.startsWith('127.');
  if (isIP(a) === 6) return a === '::1' || /^::ffff:127\./.test(a) || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(a);
  return false;
}

function sameIp(a: string, b: string): boolean {
  const n = (x: string) => x.toLowerCase().replace(/^\[|\]$/g, '');
  return n(a) === n(b);
}

/** The role an address plays in the cluster's DNS, or null for a real upstream. */
export function loopRole(address: string, inv: ResolverInventory): LoopRole | null {
  if (inv.nodelocaldnsIp && sameIp(address, inv.nodelocaldnsIp)) return 'nodelocaldns';
  if (inv.corednsIps.some((c) => sameIp(address, c))) return 'coredns-service';
  if (isLoopback(address)) return 'loopback';
  return null;
}

function dhclientEntries(conf: DhclientConf, path: string, inv: ResolverInventory): LoopEntry[] {
  const out: LoopEntry[] = [];
  const forcing = (s: DhclientStatement) =>
    s.option === 'domain-name-servers' && (s.action === 'supersede' || s.action === 'prepend');
  for (const s of conf.statements.filter(forcing)) {
    for (const v of s.values) {
      const role = loopRole(v, inv);
      if (role) out.push({ address: v, role, source: path, line: s.line, text: s.text });
    }
  }
  return out;
}

export const DHCLIENT_CONF_PATH = '/etc/dhcp/dhclient.conf';

export function analyseResolverChain(
  inv: ResolverInventory,
  files: ResolverFiles,
  dhclientPath: string = DHCLIENT_CONF_PATH,
): ResolverVerdict {
  const kc = files.kubeletConfig;
  const kubeletConfigError = kc && isParseError(kc) ? kc.parseError : null;
  const kubeletConfigMissing = kc === null;
  const cfg = kc && !isParseError(kc) ? kc : null;
  // no readable kubelet config: the kubelet's own default
  const file = cfg ? cfg.effectiveResolvConf : kubeletConfigError ? null : KUBELET_DEFAULT_RESOLV_CONF;
  const rc = file ? files.resolvConfs[file] : undefined;
  const fileMissing = !!file && rc === null;
  const parsed = rc ?? null;
  const { kept, omitted } = parsed ? keptNameservers(parsed) : { kept: [], omitted: [] };

  const upstream = inv.upstreamDnsServers.filter((s) => s.trim());
  const forwardsTo = upstream.length ? 'upstream_dns_servers' : 'resolv-conf';
  const loops: LoopEntry[] = [];
  if (forwardsTo === 'upstream_dns_servers') {
    for (const s of upstream) {
      const role = loopRole(s, inv);
      if (role) loops.push({ address: s, role, source: 'upstream_dns_servers', line: null, text: s });
    }
  } else if (parsed && file) {
    for (const n of kept) {
      const role = loopRole(n.address, inv);
      if (role) loops.push({ address: n.address, role, source: file, line: n.line, text: n.text });
    }
  }
  const latentLoops =
    forwardsTo === 'resolv-conf' && files.dhclient ? dhclientEntries(files.dhclient, dhclientPath, inv) : [];

  const search = parsed?.search ?? [];
  const domain = inv.dnsDomain || 'cluster.local';
  const clusterFirst = [`default.svc.${domain}`, `svc.${domain}`, domain, ...search];
  return {
    forwardsTo,
    file,
    fileMissing,
    kubeletConfigMissing,
    kubeletConfigError,
    servers: forwardsTo === 'upstream_dns_servers' ? upstream : kept.map((n) => n.address),
    omitted,
    loops,
    latentLoops,
    noNameservers: forwardsTo === 'resolv-conf' && !!parsed && parsed.nameservers.length === 0,
    tooManyNameservers: !!parsed && parsed.nameservers.length > KUBELET_MAX_NAMESERVERS,
    search: { ...searchLimits(search), list: search },
    clusterFirstSearch: searchLimits(clusterFirst),
    searchdomainsMissing: inv.searchdomains.filter((d) => !search.includes(d.replace(/\.$/, ''))),
  };
}
