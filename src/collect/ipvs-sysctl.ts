// IPVS's sysctls under /proc/sys/net/ipv4/vs/, read as `grep -H '' /proc/sys/net/ipv4/vs/<name>`
// prints them ("path:value"). The directory exists only while the ip_vs module is loaded, so no
// line at all means IPVS is not in the kernel — a fact, not an error. The three that decide how
// kube-proxy's IPVS treats DNS flows to a CoreDNS pod that went away:
//   conntrack           1: IPVS keeps netfilter conntrack entries (kube-proxy sets it; needed for
//                       its SNAT/masquerade rules)
//   conn_reuse_mode     0: a new connection reusing the source port of an old one goes to the old
//                       real server (kube-proxy has set 0: a busy client kept reaching a weight-0
//                       server that then never drained); 1/2: rescheduled
//   expire_nodest_conn  1: a packet to a real server that was removed expires its connection at once
//                       (kube-proxy sets 1) instead of being dropped until the entry times out
// Pure; never throws.

export const IPVS_SYSCTL_DIR = '/proc/sys/net/ipv4/vs';
export const IPVS_SYSCTLS = [
  'conntrack',
  'conn_reuse_mode',
  'expire_nodest_conn',
  'expire_quiescent_template',
] as const;

export interface IpvsSysctls {
  /** some value under /proc/sys/net/ipv4/vs/ was printed: the ip_vs module is loaded */
  present: boolean;
  conntrack: number | null;
  connReuseMode: number | null;
  expireNodestConn: number | null;
  expireQuiescentTemplate: number | null;
  /** every name printed, with its raw value */
  all: Record<string, string>;
}

export function parseIpvsSysctls(body: string): IpvsSysctls {
  const all: Record<string, string> = {};
  for (const line of body.split('\n')) {
    const m = /^\/proc\/sys\/net\/ipv4\/vs\/([\w-]+):(.*)$/.exec(line.trim());
    if (m) all[m[1]!] = m[2]!.trim();
  }
  const num = (k: string) => (all[k] !== undefined && /^-?\d+$/.test(all[k]) ? Number(all[k]) : null);
  return {
    present: Object.keys(all).length > 0,
    conntrack: num('conntrack'),
    connReuseMode: num('conn_reuse_mode'),
    expireNodestConn: num('expire_nodest_conn'),
    expireQuiescentTemplate: num('expire_quiescent_template'),
    all,
  };
}
