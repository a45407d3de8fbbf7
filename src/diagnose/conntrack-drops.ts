// conntrack-drops (warn): conntrack lost packets during the probes — the UDP insert race
// (kubernetes/kubernetes#56903: two queries from one socket, A and AAAA, race to insert the same
// conntrack entry and one is dropped) or a full table (drop/early_drop). Named only where UDP probes
// from that node were intermittent (some answered, some not) and the node's conntrack statistics
// (/proc/net/stat/nf_conntrack, read before and after the probes) rose.
import { defineDiagnosis, type Draft } from './module.js';
import { sysctlReader } from '../checks/sysctl-forwarding.js';
import type { View } from './view.js';

export function conntrackDrops(v: View): Draft[] {
  const hosts: string[] = [];
  const evidence: string[] = [];
  let full = false;
  for (const h of v.inspected()) {
    const d = v.input.counterDeltas[h] ?? {};
    const rose = ['insert_failed', 'drop', 'early_drop']
      .map((k) => [k, d[`Conntrack.${k}`] ?? 0] as const)
      .filter(([, n]) => n > 0);
    if (!rose.length) continue;
    const udp = v.probes(h, undefined, 'udp');
    const flaky = udp.filter((p) => (p.ok ?? 0) > 0 && (p.ok ?? 0) < p.sent);
    if (!flaky.length) continue;
    hosts.push(h);
    evidence.push(
      `${h}: conntrack ${rose.map(([k, n]) => `${k} +${n}`).join(', ')} during the probes (/proc/net/stat/nf_conntrack)`,
    );
    evidence.push(
      `${h}: UDP answered only in part on ${flaky.length} path(s): ${flaky
        .slice(0, 3)
        .map((p) => `${p.server} ${v.ratio([p])}`)
        .join(', ')}`,
    );
    const f = v.input.facts[h]?.sysctl;
    const entries = f && !('parseError' in f) ? f['net/netfilter/nf_conntrack_count'] : null;
    const max = f && !('parseError' in f) ? f['net/netfilter/nf_conntrack_max'] : null;
    if (rose.some(([k]) => k !== 'insert_failed')) {
      full = true;
      if (entries && max) evidence.push(`${h}: ${entries} of nf_conntrack_max ${max} entries in use`);
    }
  }
  if (!hosts.length) return [];
  return [
    {
      severity: 'warn',
      hosts,
      summary: `conntrack dropped packets during the probes on ${hosts.join(', ')} where DNS over UDP was intermittent`,
      evidence,
      remediations: [
        ...(full
          ? [
              {
                text: 'the table fills up: raise net.netfilter.nf_conntrack_max (Kubespray: kube_proxy_conntrack_max_per_core / kube_proxy_conntrack_min) or find what opens so many flows',
                safe: false,
              },
            ]
          : []),
        {
          text: 'keep DNS out of conntrack: NodeLocalDNS (enable_nodelocaldns: true) with its NOTRACK rules; pods using it see no insert race',
          safe: false,
        },
        {
          text: "the UDP insert race is fixed in the kernel (clash resolution, Linux 5.x); on older kernels: single-request-reopen in pods' resolv.conf (dnsConfig options) or TCP for DNS",
          safe: false,
        },
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'conntrack-drops',
  explainsChecks: [],
  readers: [sysctlReader],
  run: (v) => conntrackDrops(v),
});
