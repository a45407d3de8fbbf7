// upstream-dns-unreachable: cluster names answer everywhere but the external name fails from every
// node through NodeLocalDNS and CoreDNS; the upstream servers the DNS pods forward to
// (upstream_dns_servers, else the kubelet's resolvConf file's) were then asked from every node over
// UDP and TCP (run/resolver-probes.ts). None answers: they are named, with where they came from.
// They answer the nodes: the servers are fine, and CoreDNS's forward configuration (or its pods' way
// out) is at fault — said so, not blamed on the servers.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';
import { resolverFacts, type UpstreamProbe } from '../collect/resolver.js';

const ratio = (ps: UpstreamProbe[]) => `${ps.reduce((a, p) => a + p.ok, 0)}/${ps.reduce((a, p) => a + p.sent, 0)}`;

const why = (ps: UpstreamProbe[]) => {
  const e: Record<string, number> = {};
  for (const p of ps) {
    for (const [k, n] of Object.entries(p.errors)) e[k] = (e[k] ?? 0) + n;
    for (const [k, n] of Object.entries(p.rcodes)) if (k !== 'NOERROR') e[k] = (e[k] ?? 0) + n;
  }
  const s = Object.entries(e)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return s ? ` (${s})` : '';
};

export function upstreamDnsUnreachable(v: View): Draft[] {
  const c = v.input.cluster;
  const hosts = v.inspected();
  const probed = hosts.map((h) => ({ h, ups: resolverFacts(v.input.facts[h])?.upstream ?? [] }));
  // the step ran only when the external name failed from every node through the cluster's DNS
  if (!hosts.length || probed.some((x) => !x.ups.length)) return [];
  const all = probed.flatMap((x) => x.ups);
  const servers = [...new Set(all.map((p) => p.server))];
  const sources = [...new Set(all.map((p) => p.source))];
  const name = all[0]!.name;
  const external = v.input.probes.filter(
    (p) => p.from !== 'pod' && p.internal === false && (p.role === 'nodelocaldns' || p.role === 'coredns-service'),
  );
  const evidence = [
    `the external name ${name}: ${external.reduce((a, p) => a + (p.ok ?? 0), 0)}/${external.reduce((a, p) => a + p.sent, 0)} good answers through NodeLocalDNS and the CoreDNS service from ${hosts.length} node(s), while cluster names answer`,
    `the DNS pods forward \`.\` to ${servers.join(', ')} (from ${sources.join(', ')})`,
    ...servers.map((s) => {
      const ps = all.filter((p) => p.server === s);
      const udp = ps.filter((p) => p.transport === 'udp');
      const tcp = ps.filter((p) => p.transport === 'tcp');
      return `${s} asked directly from every node: UDP ${ratio(udp)}${why(udp)}, TCP ${ratio(tcp)}${why(tcp)}`;
    }),
  ];
  const answering = servers.filter((s) => all.some((p) => p.server === s && p.ok > 0));
  if (!answering.length)
    return [
      {
        severity: 'fail',
        hosts,
        summary: `the upstream DNS servers ${servers.join(', ')} (from ${sources.join(', ')}) answer no node: external names fail everywhere`,
        evidence,
        fix: [
          `make ${servers.join(', ')} answer the nodes (the server itself, a firewall or route on the way), or name servers that do: upstream_dns_servers in group_vars/all/all.yml and re-run cluster.yml`,
        ],
      },
    ];
  return [
    {
      severity: 'fail',
      hosts,
      summary: `the upstream DNS servers answer the nodes (${answering.join(', ')}) but not through CoreDNS and NodeLocalDNS: CoreDNS's forward configuration is at fault`,
      evidence: [
        ...evidence,
        `ruled out: the upstream servers themselves (${answering.join(', ')} answered ${name} from the nodes)`,
      ],
      fix: [
        `kubectl -n kube-system get configmap coredns nodelocaldns -o yaml: the \`forward .\` lines (${c.nodelocaldnsEnabled ? "node-cache's `.:53` block and " : ''}CoreDNS's) should name ${answering.join(', ')} (upstream_dns_servers) or /etc/resolv.conf; kubectl -n kube-system logs deploy/coredns --tail=50 for forward errors; the pods' way out (natOutgoing)`,
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'upstream-dns-unreachable',
  explainsChecks: ['resolver.upstream'],
  run: (v) => upstreamDnsUnreachable(v),
});
