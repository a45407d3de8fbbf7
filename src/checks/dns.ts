// DNS probe results -> one check per host, role and transport: dns.<role>.<transport>.
// Cluster names must answer NOERROR with records on every probe; an external name that fails
// only warns (the cluster may have no way out).
import type { CheckResult, ProbeResult, ProbeRole, Transport } from '../types.js';

export function describeProbe(p: ProbeResult): string {
  const errs = Object.entries(p.errors ?? {}).map(([k, v]) => `${v} ${k}`);
  const rc = Object.entries(p.rcodes).filter(([k]) => k !== 'NOERROR').map(([k, v]) => `${v} ${k}`);
  const extra = [...rc, ...errs].join(', ');
  return `${p.transport.toUpperCase()} ${p.server} ${p.type} ${p.name}: ${p.ok ?? 0}/${p.sent} ok${extra ? ` (${extra})` : ''}${p.latencyMs.p50 !== null ? `, p50 ${p.latencyMs.p50} ms` : ''}`;
}

export const isOk = (p: ProbeResult) => (p.ok ?? 0) === p.sent;

export function dnsChecks(host: string, probes: ProbeResult[]): CheckResult[] {
  const out: CheckResult[] = [];
  const roles: ProbeRole[] = ['nodelocaldns', 'coredns-service', 'coredns-endpoint'];
  for (const role of roles) {
    for (const tr of ['udp', 'tcp'] as Transport[]) {
      const ps = probes.filter((p) => p.host === host && p.role === role && p.transport === tr);
      if (!ps.length) continue;
      const check = `dns.${role}.${tr}`;
      const bad = ps.filter((p) => !isOk(p));
      const badInternal = bad.filter((p) => p.internal !== false);
      const evidence = { paths: ps.map(describeProbe) };
      const what = role === 'coredns-endpoint' ? `CoreDNS endpoints (${[...new Set(ps.map((p) => p.server))].join(', ')})` : role === 'nodelocaldns' ? `NodeLocalDNS ${ps[0]!.server}` : `the CoreDNS service ${ps[0]!.server}`;
      if (badInternal.length) {
        const lost = badInternal.reduce((a, p) => a + p.sent - (p.ok ?? 0), 0);
        const total = badInternal.reduce((a, p) => a + p.sent, 0);
        out.push({ check, host, status: 'fail', summary: `${tr.toUpperCase()} to ${what}: ${lost} of ${total} probes failed on ${badInternal.length} path(s)`, evidence });
      } else if (bad.length) {
        out.push({ check, host, status: 'warn', summary: `${tr.toUpperCase()} to ${what}: the external name ${bad[0]!.name} did not resolve`, evidence });
      } else {
        out.push({ check, host, status: 'pass', summary: `${tr.toUpperCase()} to ${what}: all ${ps.reduce((a, p) => a + p.sent, 0)} probes answered`, evidence });
      }
    }
  }
  return out;
}
