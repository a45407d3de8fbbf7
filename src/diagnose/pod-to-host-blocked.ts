// pod-to-host-blocked: what pods send to their own node is dropped — Calico's workload-to-host
// policy (Felix's DefaultEndpointToHostAction, Kubespray's calico_endpoint_to_host_action: the
// Kubespray Calico guide says traffic from pods to host-network endpoints on the same node is
// dropped unless it is allowed) or a host firewall that trusts lo and the NIC but not the pod
// interfaces. The node's own queries to NodeLocalDNS never cross it (they leave through OUTPUT and
// arrive on lo), so every probe from the node stays green; the pods get nothing. Named only with
// all of its evidence:
//  1. from the pod namespace probed on the node, NodeLocalDNS answered nothing, over UDP and TCP;
//  2. the node itself got answers from NodeLocalDNS (so the cache is up: not nodelocaldns-down);
//  3. the rule or policy that drops it was found: a rule that surely drops udp/tcp 53 to
//     nodelocaldns_ip arriving on the pod's interface (host-input.ts asks the netfilter model: the
//     prerouting and input hooks' base chains of iptables and native nftables tables — firewalld's
//     zones too — through every jump), Felix's "Configured DefaultEndpointToHostAction"
//     DROP rule, or calico_endpoint_to_host_action: DROP in the inventory.
// Nodes whose node-cache rules are missing or shadowed (nodelocaldns-rules-missing) or that do not
// route (ip-forward-disabled) are left to those. The same rule drops the replies of the node's own
// pods to the node: its probes to its own CoreDNS pods fail too, and are explained here.
import type { ProbeResult, Remediation } from '../types.js';
import { iptablesReader } from '../collect/iptables.js';
import { nftablesReader } from '../collect/nftables.js';
import { firewallFixes } from '../netfilter/remedy.js';
import { linksReader } from '../collect/iproute.js';
import { defineDiagnosis, type Draft } from './module.js';
import type { PodToHostSuspect } from './pod-to-host-suspects.js';
import type { View } from './view.js';

export function podToHostBlocked(v: View, suspects: readonly PodToHostSuspect[], aside: readonly string[]): Draft[] {
  const named = suspects.filter((s) => !aside.includes(s.host) && !s.missing.length);
  if (!named.length) return [];
  const c = v.input.cluster;
  const hosts = named.map((s) => s.host);
  const podIf = c.networkPlugin === 'calico' ? 'cali+' : c.networkPlugin === 'flannel' ? 'cni0' : '<pod interfaces>';
  const allow = (proto: 'udp' | 'tcp') => [
    'iptables',
    '-I',
    'INPUT',
    '1',
    '-i',
    podIf,
    '-d',
    `${c.nodelocaldnsIp}/32`,
    '-p',
    proto,
    '-m',
    proto,
    '--dport',
    '53',
    '-j',
    'ACCEPT',
  ];
  return [
    {
      severity: 'fail',
      hosts,
      summary: `pods on ${hosts.join(', ')} get no answer from NodeLocalDNS ${c.nodelocaldnsIp} while the node itself does: what pods send to their own node is dropped`,
      evidence: named.flatMap((s) => s.evidence),
      remediations: [
        ...(c.networkPlugin === 'calico'
          ? [
              {
                text: 'Calico: set calico_endpoint_to_host_action: "ACCEPT" in group_vars/k8s_cluster/k8s-net-calico.yml and re-run cluster.yml (or: kubectl patch felixconfiguration default --type merge -p \'{"spec":{"defaultEndpointToHostAction":"Accept"}}\')',
                safe: false,
              },
            ]
          : []),
        ...(['udp', 'tcp'] as const).map((p) => ({
          text: `or let pods reach NodeLocalDNS ahead of the dropping rule on ${hosts.join(', ')}: ${allow(p).join(' ')}`,
          argv: allow(p),
          hosts,
          safe: false,
        })),
        ...firewallRemedies(v, named),
        {
          text: "make it last in the host firewall's own configuration (firewalld: put the pod interfaces in a trusted zone; ufw: allow in on them to port 53)",
          safe: false,
        },
      ],
    },
  ];
}

/** The named firewalls' own fixes, one set per firewall and the nodes it is on. */
function firewallRemedies(v: View, named: readonly PodToHostSuspect[]): Remediation[] {
  const by = new Map<string, { manager: NonNullable<PodToHostSuspect['firewall']>['manager']; hosts: string[] }>();
  for (const s of named) {
    if (!s.firewall) continue;
    const f = by.get(s.firewall.manager) ?? { manager: s.firewall.manager, hosts: [] };
    f.hosts.push(s.host);
    by.set(s.firewall.manager, f);
  }
  return [...by.values()].flatMap((f) => firewallFixes(f.manager, v.input.cluster, { what: 'pods' }, f.hosts));
}

export default defineDiagnosis({
  id: 'pod-to-host-blocked',
  explainsChecks: ['dns.*'],
  after: ['ip-forward-disabled'],
  explains: ['tcp-blocked', 'udp-blocked'],
  readers: [iptablesReader, nftablesReader, linksReader],
  // a node that does not route is left to ip-forward-disabled
  run: (v, ctx) => podToHostBlocked(v, ctx.facts.podToHost, ctx.hosts('ip-forward-disabled')),
});

/** The probes of a node to its own pods on a node pod-to-host-blocked names: explained by it. */
export function ownPodProbe(blocked: ReadonlySet<string>, epNode: ReadonlyMap<string, string | null>) {
  return (p: ProbeResult) => blocked.has(p.host) && epNode.get(p.server) === p.host;
}
