// When DNS fails on a node and no rule explains it: say what was seen, not a guess.
import type { Diagnosis } from '../types.js';
import { defineDiagnosis, type Draft } from './module.js';
import type { Facts } from './facts.js';
import type { View } from './view.js';

export function unexplained(
  v: View,
  facts: Facts,
  named: readonly Diagnosis[],
  explains: (id: string, check: string) => boolean,
): Draft[] {
  // a failing diagnosis that accounts for failing DNS checks leaves nothing unexplained
  if (named.some((d) => d.severity === 'fail' && explains(d.id, 'dns.nodelocaldns.udp'))) return [];
  const failing = v.input.results.filter((r) => r.check.startsWith('dns.') && r.status === 'fail');
  if (!failing.length) return [];
  const hosts = [...new Set(failing.map((r) => r.host))];
  const evidence = failing.slice(0, 12).map((r) => `${r.host}: ${r.check}: ${r.summary}`);
  for (const s of facts.checksum) evidence.push(`${s.host} looks like checksum offload, but: ${s.missing.join('; ')}`);
  for (const s of facts.podToHost)
    if (s.missing.length)
      evidence.push(
        `${s.host}: its pods get no answer from NodeLocalDNS while the node does (as with pod-to-host-blocked), but: ${s.missing.join('; ')}`,
      );
  return [
    {
      severity: 'fail',
      hosts,
      summary: `DNS probes fail on ${hosts.join(', ')} and the evidence fits no known cause`,
      evidence,
      fix: [
        'compare the failing paths in the probe table; capture on the node while probing: tcpdump -ni any port 53 or port 4789',
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'dns-unexplained',
  explainsChecks: ['dns.*'],
  after: 'all',
  run: (v, ctx) => unexplained(v, ctx.facts, ctx.earlier, ctx.explainsCheck),
});
