// udp-blocked: DNS over UDP fails while TCP to the same servers works.
import type { Diagnosis } from '../types.js';
import type { View } from './view.js';
import { isOk } from './view.js';

export function udpBlocked(v: View): Diagnosis[] {
  const hosts: string[] = [];
  const evidence: string[] = [];
  for (const h of v.inspected()) {
    const udp = v.probes(h, undefined, 'udp');
    const pairs = udp
      .map((u) => ({ u, t: v.probes(h, u.role, 'tcp', u.server).find((t) => t.name === u.name && t.type === u.type) }))
      .filter((x) => x.t && isOk(x.t));
    const failing = pairs.filter((x) => (x.u.ok ?? 0) === 0);
    // UDP dead on at least half the paths whose TCP twin is fine
    if (!pairs.length || failing.length * 2 < pairs.length) continue;
    hosts.push(h);
    const servers = [...new Set(failing.map((x) => x.u.server))];
    evidence.push(`${h}: UDP to ${servers.join(', ')} failed (${v.ratio(failing.map((x) => x.u))}) while TCP to the same servers answered (${v.ratio(failing.map((x) => x.t!))})`);
    const e = failing.flatMap((x) => Object.keys(x.u.errors ?? {}));
    if (e.length) evidence.push(`${h}: UDP errors: ${[...new Set(e)].join(', ')}`);
  }
  if (!hosts.length) return [];
  return [{
    id: 'udp-blocked',
    severity: 'fail',
    hosts,
    summary: `DNS over UDP fails while TCP works on ${hosts.join(', ')}`,
    evidence,
    fix: [
      'look for a firewall rule dropping udp/53 (iptables-save | grep -E "udp.*(dpt|dport).?53"), a security group or NetworkPolicy',
      'check conntrack: conntrack -S (insert_failed/drop) and nf_conntrack_max',
    ],
  }];
}
