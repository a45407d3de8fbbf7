// ip-forward-disabled: net.ipv4.ip_forward is 0 on a node, so it cannot route to its pods —
// Calico's proxy-ARP gateway stops answering, and the node's CoreDNS pods look dead from
// everywhere, the node itself included. Named from the sysctl itself (sysctl.forwarding), with the
// probes it explains; coredns-endpoint-down stands aside for the endpoints on such a node.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';

export function ipForwardDisabled(v: View): Draft[] {
  const hosts = v.inspected().filter((h) => {
    const c = v.check(h, 'sysctl.forwarding');
    return c?.status === 'fail' && c.evidence['net.ipv4.ip_forward'] === '0';
  });
  if (!hosts.length) return [];
  const evidence: string[] = [];
  for (const h of hosts) {
    evidence.push(`${h}: /proc/sys/net/ipv4/ip_forward is 0`);
    for (const e of (v.input.endpoints ?? []).filter((x) => x.nodeName === h)) {
      const ps = v.probes(undefined, 'coredns-endpoint', undefined, e.ip);
      const own = v.probes(h, 'coredns-endpoint', undefined, e.ip);
      if (ps.length)
        evidence.push(
          `the CoreDNS pod ${e.ip}${e.podName ? ` (${e.podName})` : ''} on ${h}: ${v.ratio(ps)} answered from all nodes${own.length ? `, ${v.ratio(own)} from ${h} itself` : ''} — it is alive but cannot be reached through a node that does not route`,
        );
    }
  }
  return [
    {
      severity: 'fail',
      hosts,
      summary: `net.ipv4.ip_forward is 0 on ${hosts.join(', ')}: the node cannot route to its pods`,
      evidence,
      remediations: [
        {
          text: `on ${hosts.join(', ')}: sysctl -w net.ipv4.ip_forward=1   (Kubespray sets it; re-run cluster.yml --tags network to restore the node's settings)`,
          argv: ['sysctl', '-w', 'net.ipv4.ip_forward=1'],
          hosts,
          safe: false,
        },
        {
          text: 'find what turned it off so it stays on after a reboot: grep -rn ip_forward /etc/sysctl.conf /etc/sysctl.d/ /usr/lib/sysctl.d/ /run/sysctl.d/ (a hardening baseline, a sysctl.d file)',
          safe: false,
        },
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'ip-forward-disabled',
  explainsChecks: ['sysctl.forwarding', 'dns.*'],
  explains: ['tcp-blocked', 'udp-blocked'],
  run: (v) => ipForwardDisabled(v),
});
