// coredns-endpoint-down: an endpoint fails over UDP and TCP from every node (its own too),
// while other endpoints answer. An endpoint on a node an earlier diagnosis says cannot route to its
// pods (ip-forward-disabled) or whose overlay traffic is dropped (overlay-blocked: the other nodes'
// probes to it never arrive) is explained by that, not named here.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';
import { ownPodProbe } from './pod-to-host-blocked.js';

export function corednsEndpointDown(
  v: View,
  epNode: ReadonlyMap<string, string | null>,
  unrouted: readonly string[] = [],
  podToHost: readonly string[] = [],
): Draft[] {
  const eps = (v.input.endpoints ?? []).filter((e) => !(e.nodeName && unrouted.includes(e.nodeName)));
  // a node whose pods' replies to it are dropped (pod-to-host-blocked) does not count its own pods dead
  const own = ownPodProbe(new Set(podToHost), epNode);
  if (eps.length < 2) return [];
  const dead: typeof eps = [];
  const alive: typeof eps = [];
  for (const e of eps) {
    const ps = v.probes(undefined, 'coredns-endpoint', undefined, e.ip).filter((p) => !own(p));
    if (!ps.length) continue;
    if (v.allDead(ps)) dead.push(e);
    else if (v.allOk(ps) || v.okCount(ps) > 0) alive.push(e);
  }
  if (!dead.length || !alive.length) return [];
  const inspected = v.inspected();
  const hosts = [
    ...new Set(
      dead
        .map((e) => (e.nodeName && inspected.includes(e.nodeName) ? e.nodeName : null))
        .filter((x): x is string => !!x),
    ),
  ];
  return [
    {
      severity: 'fail',
      hosts: hosts.length ? hosts : inspected,
      summary: `${dead.length} of ${eps.length} CoreDNS endpoints do not answer: ${dead.map((e) => `${e.ip}${e.podName ? ` (${e.podName})` : ''}`).join(', ')}`,
      evidence: [
        ...dead.map(
          (e) =>
            `${e.ip}${e.podName ? ` ${e.podName}` : ''} on ${e.nodeName ?? '?'}: ${v.ratio(v.probes(undefined, 'coredns-endpoint', undefined, e.ip))} over UDP and TCP from ${inspected.length} node(s)`,
        ),
        ...alive.map(
          (e) =>
            `${e.ip} on ${e.nodeName ?? '?'} answers: ${v.ratio(v.probes(undefined, 'coredns-endpoint', undefined, e.ip))}`,
        ),
        `the service ${v.input.cluster.corednsIp} answers ${v.ratio(v.probes(undefined, 'coredns-service'))}: queries that land on the dead pod are lost`,
      ],
      fix: dead.map(
        (e) =>
          `kubectl -n kube-system describe pod ${e.podName ?? '<coredns pod>'}; kubectl -n kube-system delete pod ${e.podName ?? '<coredns pod>'}`,
      ),
    },
  ];
}

export default defineDiagnosis({
  id: 'coredns-endpoint-down',
  explainsChecks: ['dns.coredns-endpoint.*', 'dns.coredns-service.*', 'dns.nodelocaldns.*', 'dns.pod.*'],
  after: ['ip-forward-disabled', 'overlay-blocked', 'pod-to-host-blocked'],
  explains: ['tcp-blocked', 'udp-blocked'],
  run: (v, ctx) =>
    corednsEndpointDown(
      v,
      ctx.facts.epNode,
      [...ctx.hosts('ip-forward-disabled'), ...ctx.hosts('overlay-blocked')],
      ctx.hosts('pod-to-host-blocked'),
    ),
});
