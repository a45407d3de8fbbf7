// nodelocaldns-down: nothing answers on the NodeLocalDNS address of a node, while that node can
// reach CoreDNS itself (so the cache, not its upstream, is at fault). node-cache forwards to the
// CoreDNS service address, which the service rules send to any CoreDNS pod: the node's own probes of
// the service over TCP may all have landed on a pod it reaches while node-cache's connections went to
// one it does not. So the upstream counts as fine only when every CoreDNS endpoint answers the node
// over TCP too (where endpoints were probed).
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';

export function nodelocaldnsDown(v: View, rulesMissing: readonly string[]): Draft[] {
  const c = v.input.cluster;
  if (!c.nodelocaldnsEnabled) return [];
  const hosts: string[] = [];
  const evidence: string[] = [];
  for (const h of v.inspected()) {
    if (rulesMissing.includes(h)) continue; // blamed on the rules (or a resolver loop)
    const nl = v.probes(h, 'nodelocaldns');
    const iface = v.check(h, 'nodelocaldns.interface');
    const udp = v.probes(h, 'nodelocaldns', 'udp');
    const tcp = v.probes(h, 'nodelocaldns', 'tcp');
    const dead = v.allDead(udp) && v.allDead(tcp);
    if (!dead && iface?.status !== 'fail') continue;
    const refused = nl.some((p) => (p.errors?.refused ?? 0) > 0 || (p.errors?.econnrefused ?? 0) > 0);
    const svcTcp = v.probes(h, 'coredns-service', 'tcp');
    const epTcp = v.probes(h, 'coredns-endpoint', 'tcp');
    const upstreamFine = v.allOk(svcTcp) && (!epTcp.length || v.allOk(epTcp));
    if (iface?.status === 'fail' || refused || upstreamFine) {
      hosts.push(h);
      if (iface?.status === 'fail') evidence.push(`${h}: ${iface.summary}`);
      if (nl.length)
        evidence.push(
          `${h}: DNS via ${c.nodelocaldnsIp}: UDP ${v.ratio(udp)}, TCP ${v.ratio(tcp)}${refused ? ' (connection refused: nothing listens)' : ''}`,
        );
      if (upstreamFine)
        evidence.push(
          `${h}: the same node reaches the CoreDNS service ${c.corednsIp} over TCP (${v.ratio(svcTcp)})${epTcp.length ? ` and every CoreDNS endpoint (${v.ratio(epTcp)})` : ''}, so node-cache's upstream is fine`,
        );
    }
  }
  if (!hosts.length) return [];
  return [
    {
      severity: 'fail',
      hosts,
      summary: `NodeLocalDNS does not answer on ${c.nodelocaldnsIp} on ${hosts.join(', ')}`,
      evidence,
      fix: [
        `kubectl -n kube-system get pods -l k8s-app=node-local-dns -o wide --field-selector spec.nodeName=<node>`,
        'kubectl -n kube-system logs -l k8s-app=node-local-dns --tail=50; then kubectl -n kube-system rollout restart daemonset nodelocaldns',
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'nodelocaldns-down',
  explainsChecks: ['nodelocaldns.interface', 'dns.nodelocaldns.*', 'dns.pod.nodelocaldns.*'],
  // the nodes whose node-cache the rules or a resolver loop account for are left to those
  after: ['nodelocaldns-rules-missing', 'resolver-loop'],
  run: (v, ctx) => nodelocaldnsDown(v, [...ctx.hosts('nodelocaldns-rules-missing'), ...ctx.hosts('resolver-loop')]),
});
