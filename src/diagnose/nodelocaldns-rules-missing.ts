// nodelocaldns-rules-missing: node-cache's iptables rules are absent or shadowed on a node.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';

export function nodelocaldnsRulesMissing(v: View): Draft[] {
  const hosts = v.inspected().filter((h) => v.check(h, 'nodelocaldns.iptables')?.status === 'fail');
  if (!hosts.length) return [];
  const ip = v.input.cluster.nodelocaldnsIp;
  const evidence: string[] = [];
  for (const h of hosts) {
    const c = v.check(h, 'nodelocaldns.iptables')!;
    evidence.push(`${h}: ${c.summary}`);
    const missing = (c.evidence.missing as string[] | undefined) ?? [];
    for (const m of missing.slice(0, 4)) evidence.push(`${h}: missing ${m}`);
    if (missing.length > 4) evidence.push(`${h}: … and ${missing.length - 4} more`);
    for (const s of ((c.evidence.shadowed as string[] | undefined) ?? []).slice(0, 4))
      evidence.push(`${h}: shadowed: ${s}`);
    const nl = v.probes(h, 'nodelocaldns');
    if (nl.length && v.someBad(nl)) evidence.push(`${h}: DNS via ${ip} answered ${v.ratio(nl)}`);
  }
  return [
    {
      severity: 'fail',
      hosts,
      summary: `node-cache's iptables rules for ${ip} are missing or shadowed on ${hosts.join(', ')}`,
      evidence,
      fix: [
        'restart node-cache so it re-creates its rules: kubectl -n kube-system rollout restart daemonset nodelocaldns',
        'if they vanish again, look for what rewrites them: Calico (calico_felix_chaininsertmode, calico_iptables_backend) or a host firewall; iptables-legacy-save and iptables-nft-save should not both hold rules',
        `a DROP/REJECT ahead of them: move it below node-cache's ACCEPT for ${ip}:53`,
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'nodelocaldns-rules-missing',
  explainsChecks: ['nodelocaldns.iptables', 'dns.nodelocaldns.*', 'dns.pod.nodelocaldns.*'],
  run: (v) => nodelocaldnsRulesMissing(v),
});
