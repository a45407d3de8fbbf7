// dns.pod.<role>.<transport>: the same probes as dns.<role>.<transport>, sent from one of the node's
// pod network namespaces (probe/pod.ts): a pod's query crosses its veth (cali…), Calico's
// workload-to-host policy, node-cache's NOTRACK rules in raw PREROUTING and the host firewall's
// INPUT rules for pod interfaces — none of which a query from the node itself passes. A node with
// no pod namespace is skipped, saying so: there is nothing to probe from (--pod-probes create).
import { defineCheck } from './module.js';
import { judgeDns } from './dns.js';
import type { ProbeRole, Transport } from '../types.js';
import '../probe/pod.js';

const IDS = [
  'dns.pod.nodelocaldns.udp',
  'dns.pod.nodelocaldns.tcp',
  'dns.pod.coredns-service.udp',
  'dns.pod.coredns-service.tcp',
  'dns.pod.coredns-endpoint.udp',
  'dns.pod.coredns-endpoint.tcp',
] as const;

export default defineCheck({
  ids: IDS,
  title:
    "DNS answers from a pod's network namespace on the node over UDP and TCP: NodeLocalDNS, the CoreDNS service, each CoreDNS endpoint",
  rank: 91,
  scope: 'node',
  probes: true,
  podProbes: true,
  evaluate({ host, probes, facts }, emit) {
    const pod = facts?.podProbe;
    const all = (status: 'skip' | 'error', summary: string, evidence: Record<string, unknown> = {}) =>
      IDS.map((id) => emit(id, host, status, summary, evidence));
    if (!facts) return [];
    if (!pod) return all('skip', 'not in this recording (recorded by a version without probes from pod namespaces)');
    const made = pod.created;
    const madeEv = made ? { created: made } : {};
    if (pod.skipped) {
      const none = /no pod network namespace/.test(pod.skipped);
      const create = made?.error
        ? `; --pod-probes create: ${made.error}`
        : made?.name
          ? `; the pod made for it (${made.name}${made.ip ? `, ${made.ip}` : ''}) was not among them`
          : none && !made
            ? ' (--pod-probes create runs a short-lived pod there for the probes)'
            : '';
      return all('skip', `${pod.skipped.replace(/\bthis node\b/, host)}${create}`, madeEv);
    }
    const ns = pod.netns;
    const evidence = ns
      ? {
          netns: ns.name ?? `/proc/${ns.pid}/ns/net`,
          podIp: ns.addresses[0] ?? null,
          hostInterface: ns.hostIf,
          ...(ns.entered ? { entered: ns.entered } : {}),
          ...(made?.name && made.ip && ns.addresses.includes(made.ip)
            ? { pod: `${made.name} (made by --pod-probes create)` }
            : {}),
        }
      : {};
    const mine = probes.filter((p) => p.from === 'pod');
    if (!mine.length) return all('error', pod.error ?? 'the probes from the pod namespace gave no result', evidence);
    const from = ns ? ` from the pod ${ns.addresses[0] ?? ''}${ns.name ? ` (${ns.name})` : ''}` : ' from a pod';
    const out = judgeDns(
      host,
      mine,
      (role: ProbeRole, tr: Transport) => `dns.pod.${role}.${tr}` as const,
      emit,
      from,
      evidence,
    );
    return pod.error ? out.map((r) => ({ ...r, evidence: { ...r.evidence, error: pod.error } })) : out;
  },
});
