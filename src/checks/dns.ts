// dns.<role>.<transport>: DNS probe results per host, role and transport, from the node's own
// network namespace. Cluster names must answer NOERROR with records on every probe; an external
// name that fails only warns (the cluster may have no way out). The same judgement, from a pod's
// namespace, is dns-pod.ts.
import { defineCheck, type Emit } from './module.js';
import type { CheckResult, ProbeResult, ProbeRole, Transport } from '../types.js';
import { describeProbe, isOk } from '../probe/results.js';

const ROLES: ProbeRole[] = ['nodelocaldns', 'coredns-service', 'coredns-endpoint'];
const TRANSPORTS: Transport[] = ['udp', 'tcp'];

/** One result per role and transport that was probed: `id(role, transport)` names it, `from` says
 *  where the queries started (in the summary), `evidence` is added to each. */
export function judgeDns<Id extends string>(
  host: string,
  probes: ProbeResult[],
  id: (role: ProbeRole, tr: Transport) => Id,
  emit: Emit<Id>,
  from = '',
  evidence: Record<string, unknown> = {},
): CheckResult[] {
  const out: CheckResult[] = [];
  for (const role of ROLES) {
    for (const tr of TRANSPORTS) {
      const ps = probes.filter((p) => p.host === host && p.role === role && p.transport === tr);
      if (!ps.length) continue;
      const check = id(role, tr);
      const bad = ps.filter((p) => !isOk(p));
      const badInternal = bad.filter((p) => p.internal !== false);
      const ev = { ...evidence, paths: ps.map(describeProbe) };
      const what =
        role === 'coredns-endpoint'
          ? `CoreDNS endpoints (${[...new Set(ps.map((p) => p.server))].join(', ')})`
          : role === 'nodelocaldns'
            ? `NodeLocalDNS ${ps[0]!.server}`
            : `the CoreDNS service ${ps[0]!.server}`;
      const head = `${tr.toUpperCase()}${from} to ${what}`;
      if (badInternal.length) {
        const lost = badInternal.reduce((a, p) => a + p.sent - (p.ok ?? 0), 0);
        const total = badInternal.reduce((a, p) => a + p.sent, 0);
        out.push(
          emit(check, host, 'fail', `${head}: ${lost} of ${total} probes failed on ${badInternal.length} path(s)`, ev, {
            text: 'see the diagnoses for the cause; compare the failing paths in the probe table',
            safe: false,
          }),
        );
      } else if (bad.length) {
        out.push(
          emit(check, host, 'warn', `${head}: the external name ${bad[0]!.name} did not resolve`, ev, {
            text: "check the upstream resolvers (upstream_dns_servers, the nodes' /etc/resolv.conf) and the way out of the cluster",
            safe: false,
          }),
        );
      } else {
        out.push(emit(check, host, 'pass', `${head}: all ${ps.reduce((a, p) => a + p.sent, 0)} probes answered`, ev));
      }
    }
  }
  return out;
}

export default defineCheck({
  ids: [
    'dns.nodelocaldns.udp',
    'dns.nodelocaldns.tcp',
    'dns.coredns-service.udp',
    'dns.coredns-service.tcp',
    'dns.coredns-endpoint.udp',
    'dns.coredns-endpoint.tcp',
  ],
  title: 'DNS answers from the node over UDP and TCP: NodeLocalDNS, the CoreDNS service, each CoreDNS endpoint',
  rank: 90,
  scope: 'node',
  probes: true,
  evaluate({ host, probes }, emit) {
    return judgeDns(
      host,
      probes.filter((p) => p.from !== 'pod'),
      (role, tr) => `dns.${role}.${tr}` as const,
      emit,
    );
  },
});
