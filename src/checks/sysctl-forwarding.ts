// sysctl.forwarding: the node routes. net.ipv4.ip_forward=0 (a sysctl.d file after a reboot, a
// hardening baseline) resets every interface's forwarding, so Calico's proxy-ARP gateway
// (169.254.1.1 on the cali* veths) stops answering and the node's pods are unreachable, even from
// the node itself. For bridge-based plugins (flannel's cni0) kube-proxy also needs
// net.bridge.bridge-nf-call-iptables=1. Read with shell builtins: no process.
// This module is self-contained: its reader and its fact live here (NodeFacts augmented below).
import { defineCheck, type Reader } from './module.js';
import type { NodeFacts, Parsed } from '../types.js';
import { isParseError } from '../types.js';

declare module '../types.js' {
  interface NodeFacts {
    /** /proc/sys values by their path under /proc/sys (null: not there) */
    sysctl?: Parsed<Record<string, string | null>>;
  }
}

const KEYS = [
  'net/ipv4/ip_forward',
  'net/bridge/bridge-nf-call-iptables',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_count',
];

/** `grep -H '' /proc/sys/...` output -> values by path under /proc/sys; a key not printed is null. */
export function parseSysctl(body: string): Parsed<Record<string, string | null>> {
  const out: Record<string, string | null> = Object.fromEntries(KEYS.map((k) => [k, null]));
  let n = 0;
  for (const line of body.split('\n')) {
    const m = /^\/proc\/sys\/(net\/[\w./-]+):(.*)$/.exec(line.trim());
    if (m) {
      out[m[1]!] = m[2]!.trim();
      n++;
    }
  }
  if (!n) return { parseError: 'sysctl: no value could be read under /proc/sys/net' };
  return out;
}

export const sysctlReader: Reader<'sysctl'> = {
  key: 'sysctl',
  // one grep for all of them: the shell's `read` cannot be used here (dash reads a byte at a time,
  // and an integer sysctl read at an offset past 0 is empty: "262144" reads as "2")
  script: () => `echo @@sysctl; grep -H '' ${KEYS.map((k) => `/proc/sys/${k}`).join(' ')} 2>/dev/null; echo "@@rc 0"`,
  parse(sections): NodeFacts['sysctl'] {
    const s = sections.find((x) => x.name === 'sysctl');
    if (!s) return { parseError: 'sysctl: no output' };
    return parseSysctl(s.body);
  },
};

/** Plugins whose pods hang off a Linux bridge on the node. */
const BRIDGED = new Set(['flannel', 'kube-router', 'macvlan', 'custom_cni']);

export default defineCheck({
  ids: ['sysctl.forwarding'],
  title: 'the node routes: net.ipv4.ip_forward=1 (and bridge-nf-call-iptables=1 for bridge-based plugins)',
  rank: 13,
  scope: 'node',
  readers: [sysctlReader],
  evaluate({ host, cluster, facts }, emit) {
    const id = 'sysctl.forwarding';
    const v = facts!.sysctl;
    if (!v) return [emit(id, host, 'error', 'sysctl values were not read')];
    if (isParseError(v)) return [emit(id, host, 'error', v.parseError)];
    const fwd = v['net/ipv4/ip_forward'];
    const brnf = v['net/bridge/bridge-nf-call-iptables'];
    const ev = { 'net.ipv4.ip_forward': fwd ?? null, 'net.bridge.bridge-nf-call-iptables': brnf ?? null };
    if (fwd === undefined || fwd === null)
      return [emit(id, host, 'error', '/proc/sys/net/ipv4/ip_forward could not be read', ev)];
    if (fwd === '0') {
      return [
        emit(
          id,
          host,
          'fail',
          "net.ipv4.ip_forward is 0: the node does not route, its pods are unreachable (Calico's proxy-ARP gateway does not answer)",
          ev,
          {
            text: 'sysctl -w net.ipv4.ip_forward=1 now; then find what set it to 0 (grep -r ip_forward /etc/sysctl.conf /etc/sysctl.d/ /usr/lib/sysctl.d/) so it survives a reboot',
            argv: ['sysctl', '-w', 'net.ipv4.ip_forward=1'],
            hosts: [host],
            safe: false,
          },
        ),
      ];
    }
    if (BRIDGED.has(cluster.networkPlugin) && brnf !== '1') {
      return [
        emit(
          id,
          host,
          'fail',
          brnf === null || brnf === undefined
            ? `br_netfilter is not loaded: ${cluster.networkPlugin}'s bridged pod traffic bypasses kube-proxy's rules`
            : "net.bridge.bridge-nf-call-iptables is 0: bridged pod traffic bypasses kube-proxy's rules",
          ev,
          {
            text: 'modprobe br_netfilter; sysctl -w net.bridge.bridge-nf-call-iptables=1 (Kubespray sets both; check /etc/modules-load.d and /etc/sysctl.d)',
            safe: false,
          },
        ),
      ];
    }
    return [
      emit(
        id,
        host,
        'pass',
        `the node routes (net.ipv4.ip_forward=1${BRIDGED.has(cluster.networkPlugin) ? ', bridge-nf-call-iptables=1' : ''})`,
        ev,
      ),
    ];
  },
});
