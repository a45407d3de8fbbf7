// udp-blocked: DNS over UDP fails while TCP to the same servers works.
import { defineDiagnosis, type Draft } from './module.js';
import { dropEvidence, outputDrop } from './host-input.js';
import { nodeRuleset } from '../netfilter/node.js';
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
    named.push(...namedRules(v, h, servers));
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

/** The rules that surely drop udp/53 the node sends to these servers. */
function namedRules(v: View, h: string, servers: string[]): string[] {
  const facts = v.input.facts[h];
  if (!facts) return [];
  const rs = nodeRuleset(facts).ruleset;
  const seen = new Set<string>();
  const out: string[] = [];
  for (const s of servers) {
    const x = outputDrop(rs, 'udp', s);
    if (!x) continue;
    const line = x.rules[x.rules.length - 1]!.line;
    if (seen.has(line)) continue;
    seen.add(line);
    out.push(...dropEvidence(h, x, `udp/53 leaving the node for ${s}`));
  }
  return out;
}

export default defineDiagnosis({
  id: 'udp-blocked',
  explainsChecks: ['dns.*'],
  readers: [iptablesReader, nftablesReader],
  after: ['checksum-offload'],
  run: (v, ctx) => udpBlocked(v, udpClaimedByOffload(ctx.hosts('checksum-offload'), ctx.facts.checksum)),
});
