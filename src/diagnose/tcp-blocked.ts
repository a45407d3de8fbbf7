// tcp-blocked: DNS over TCP fails while UDP to the same servers works, including paths that do
// not cross the overlay (the node's own CoreDNS pod, NodeLocalDNS): a firewall, not offload.
import { defineDiagnosis, type Draft } from './module.js';
import { outputDrops } from './host-input.js';
import { iptablesReader } from '../collect/iptables.js';
import { nftablesReader } from '../collect/nftables.js';
import type { View } from './view.js';
import { isOk } from './view.js';

export function tcpBlocked(
  v: View,
  epNode: ReadonlyMap<string, string | null>,
  blamedOnOffload: readonly string[],
): Draft[] {
  const hosts: string[] = [];
  const evidence: string[] = [];
  // the rules found dropping it, as evidence
  const named: string[] = [];
  for (const h of v.inspected()) {
    if (blamedOnOffload.includes(h)) continue;
    const found = v.oneTransportDead(h, 'tcp');
    if (!found) continue;
    const failing = found.dead.map((x) => ({ t: x.p, u: x.twin }));
    const pairs = v.probes(h, undefined, 'tcp');
    // a path that stays on the node: its own CoreDNS pod (NodeLocalDNS forwards over TCP itself, so it does not count)
    const local = failing.filter((x) => x.t.role === 'coredns-endpoint' && epNode.get(x.t.server) === h);
    const noOverlayNeeded =
      local.length > 0 ||
      (failing.length === pairs.length &&
        !v
          .probes(undefined, 'coredns-endpoint', 'tcp')
          .some((p) => p.host !== h && isOk(p) && epNode.get(p.server) !== p.host));
    if (!noOverlayNeeded) continue;
    hosts.push(h);
    evidence.push(
      `${h}: TCP to ${[...new Set(failing.map((x) => x.t.server))].join(', ')} failed (${v.ratio(failing.map((x) => x.t))}) while UDP to the same servers answered (${v.ratio(failing.map((x) => x.u))})`,
    );
    if (local.length)
      evidence.push(
        `${h}: TCP fails even to its own CoreDNS pod ${local[0]!.t.server}, which does not cross the overlay`,
      );
    named.push(...outputDrops(v.input.facts[h], h, 'tcp', [...new Set(failing.map((x) => x.t.server))]));
  }
  if (!hosts.length) return [];
  return [
    {
      severity: 'fail',
      hosts,
      evidence: [...evidence, ...named],
      summary: `DNS over TCP fails while UDP works on ${hosts.join(', ')}, also on paths that do not cross the overlay`,
      fix: [
        ...(named.length
          ? [`remove or narrow the rule named above (and make that last in the firewall's own configuration)`]
          : []),
        'look for a rule dropping tcp/53: iptables-save | grep -E "tcp.*(dpt|dport).?53"; nft list ruleset | grep 53',
        'NodeLocalDNS forwards to CoreDNS over TCP (force_tcp): until TCP/53 passes, cluster names fail through it',
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'tcp-blocked',
  explainsChecks: ['dns.*'],
  readers: [iptablesReader, nftablesReader],
  after: ['checksum-offload'],
  run: (v, ctx) => tcpBlocked(v, ctx.facts.epNode, ctx.hosts('checksum-offload')),
});
