// udp-blocked: DNS over UDP fails while TCP to the same servers works.
import { defineDiagnosis, type Draft } from './module.js';
import { outputDrops } from './host-input.js';
import { iptablesReader } from '../collect/iptables.js';
import { nftablesReader } from '../collect/nftables.js';
import type { View } from './view.js';
import { udpClaimedByOffload } from './checksum-offload.js';

export function udpBlocked(v: View, claimedByOffload: readonly string[] = []): Draft[] {
  const hosts: string[] = [];
  const evidence: string[] = [];
  // the rules found dropping it, as evidence
  const named: string[] = [];
  for (const h of v.inspected()) {
    // UDP lost to checksum offload across the overlay is not a firewall (checksum-offload)
    if (claimedByOffload.includes(h)) continue;
    // UDP dead on at least half the paths whose TCP twin is fine
    const found = v.oneTransportDead(h, 'udp');
    if (!found) continue;
    const failing = found.dead.map((x) => ({ u: x.p, t: x.twin }));
    hosts.push(h);
    const servers = [...new Set(failing.map((x) => x.u.server))];
    evidence.push(
      `${h}: UDP to ${servers.join(', ')} failed (${v.ratio(failing.map((x) => x.u))}) while TCP to the same servers answered (${v.ratio(failing.map((x) => x.t))})`,
    );
    const e = failing.flatMap((x) => Object.keys(x.u.errors ?? {}));
    if (e.length) evidence.push(`${h}: UDP errors: ${[...new Set(e)].join(', ')}`);
    named.push(...outputDrops(v.input.facts[h], h, 'udp', servers));
  }
  if (!hosts.length) return [];
  return [
    {
      severity: 'fail',
      hosts,
      evidence: [...evidence, ...named],
      summary: `DNS over UDP fails while TCP works on ${hosts.join(', ')}`,
      fix: [
        ...(named.length
          ? [`remove or narrow the rule named above (and make that last in the firewall's own configuration)`]
          : []),
        'look for a firewall rule dropping udp/53 (iptables-save | grep -E "udp.*(dpt|dport).?53"), a security group or NetworkPolicy',
        'check conntrack: conntrack -S (insert_failed/drop) and nf_conntrack_max',
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'udp-blocked',
  explainsChecks: ['dns.*'],
  readers: [iptablesReader, nftablesReader],
  after: ['checksum-offload'],
  run: (v, ctx) => udpBlocked(v, udpClaimedByOffload(ctx.hosts('checksum-offload'), ctx.facts.checksum)),
});
