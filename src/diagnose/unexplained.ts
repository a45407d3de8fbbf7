// When DNS fails on a node and no rule explains it: say what was seen, not a guess.
import type { Diagnosis } from '../types.js';
import { checksumSuspects } from './checksum-offload.js';
import type { View } from './view.js';

export function unexplained(v: View, named: Diagnosis[]): Diagnosis[] {
  if (named.some((d) => d.severity === 'fail' && d.id !== 'host-unreachable' && d.id !== 'overlay-mtu')) return [];
  const failing = v.input.results.filter((r) => r.check.startsWith('dns.') && r.status === 'fail');
  if (!failing.length) return [];
  const hosts = [...new Set(failing.map((r) => r.host))];
  const evidence = failing.slice(0, 12).map((r) => `${r.host}: ${r.check}: ${r.summary}`);
  for (const s of checksumSuspects(v)) evidence.push(`${s.host} looks like checksum offload, but: ${s.missing.join('; ')}`);
  return [{
    id: 'dns-unexplained',
    severity: 'fail',
    hosts,
    summary: `DNS probes fail on ${hosts.join(', ')} and the evidence fits no known cause`,
    evidence,
    fix: ['compare the failing paths in the probe table; capture on the node while probing: tcpdump -ni any port 53 or port 4789'],
  }];
}
