// dns.<role>.<transport>: DNS probe results per host, role and transport. Cluster names must answer
// NOERROR with records on every probe; an external name that fails only warns (the cluster may
// have no way out).
import { defineCheck } from './module.js';
import type { ProbeRole, Transport } from '../types.js';
import { describeProbe, isOk } from '../probe/results.js';

const ROLES: ProbeRole[] = ['nodelocaldns', 'coredns-service', 'coredns-endpoint'];
const TRANSPORTS: Transport[] = ['udp', 'tcp'];

export default defineCheck({
  ids: ['dns.nodelocaldns.udp', 'dns.nodelocaldns.tcp', 'dns.coredns-service.udp', 'dns.coredns-service.tcp', 'dns.coredns-endpoint.udp', 'dns.coredns-endpoint.tcp'],
  title: 'DNS answers from the node over UDP and TCP: NodeLocalDNS, the CoreDNS service, each CoreDNS endpoint',
  rank: 90,
  scope: 'node',
  probes: true,
  evaluate({ host, probes }, emit) {
    const out = [];
    for (const role of ROLES) {
      for (const tr of TRANSPORTS) {
        const ps = probes.filter((p) => p.host === host && p.role === role && p.transport === tr);
        if (!ps.length) continue;
        const check = `dns.${role}.${tr}` as const;
        const bad = ps.filter((p) => !isOk(p));
        const badInternal = bad.filter((p) => p.internal !== false);
        const evidence = { paths: ps.map(describeProbe) };
        const what = role === 'coredns-endpoint' ? `CoreDNS endpoints (${[...new Set(ps.map((p) => p.server))].join(', ')})` : role === 'nodelocaldns' ? `NodeLocalDNS ${ps[0]!.server}` : `the CoreDNS service ${ps[0]!.server}`;
        if (badInternal.length) {
          const lost = badInternal.reduce((a, p) => a + p.sent - (p.ok ?? 0), 0);
          const total = badInternal.reduce((a, p) => a + p.sent, 0);
          out.push(emit(check, host, 'fail', `${tr.toUpperCase()} to ${what}: ${lost} of ${total} probes failed on ${badInternal.length} path(s)`, evidence, { text: 'see the diagnoses for the cause; compare the failing paths in the probe table', safe: false }));
        } else if (bad.length) {
          out.push(emit(check, host, 'warn', `${tr.toUpperCase()} to ${what}: the external name ${bad[0]!.name} did not resolve`, evidence, { text: 'check the upstream resolvers (upstream_dns_servers, the nodes\' /etc/resolv.conf) and the way out of the cluster', safe: false }));
        } else {
          out.push(emit(check, host, 'pass', `${tr.toUpperCase()} to ${what}: all ${ps.reduce((a, p) => a + p.sent, 0)} probes answered`, evidence));
        }
      }
    }
    return out;
  },
});
