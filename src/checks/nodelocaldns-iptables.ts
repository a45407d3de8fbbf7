// nodelocaldns.iptables: node-cache's 12 rules for nodelocaldns_ip, present and not shadowed by an
// earlier rule that catches the same traffic (either backend, rule order as iptables-save prints it).
import { defineCheck } from './module.js';
import { iptablesReader } from '../collect/iptables.js';
import { isParseError } from '../types.js';
import { describeRule, findNodeCacheRule, nodeCacheRules, shadowing } from './nodelocaldns-rules.js';

export default defineCheck({
  ids: ['nodelocaldns.iptables'],
  title: "node-cache's 12 iptables rules for nodelocaldns_ip, present and not shadowed",
  rank: 11,
  scope: 'node',
  readers: [iptablesReader],
  evaluate({ host, cluster: c, facts }, emit) {
    const id = 'nodelocaldns.iptables';
    if (!c.nodelocaldnsEnabled) return [emit(id, host, 'skip', 'enable_nodelocaldns is false')];
    const ipt = facts!.iptables;
    if (isParseError(ipt)) return [emit(id, host, 'error', ipt.parseError)];
    const ip = c.nodelocaldnsIp;
    const expected = nodeCacheRules();
    const missing: string[] = [];
    const shadowed: string[] = [];
    const shadowingRules: string[] = [];
    const foundIn = new Set<string>();
    for (const e of expected) {
      const hits = findNodeCacheRule(ipt.rules, e, ip, ipt.chains);
      if (!hits.length) {
        missing.push(describeRule(e, ip));
        continue;
      }
      hits.forEach((x) => foundIn.add(x.backend));
      const shadows = hits.map((hit) => ({
        hit,
        by: shadowing(ipt.rules, e, ip, hit, ipt.chains),
      }));
      if (shadows.every((x) => x.by)) {
        const { hit, by } = shadows[0]!;
        shadowed.push(
          `${describeRule(e, ip)} comes after "${by!.rule.line}"${by!.via ? ` (which ends in "${by!.via}")` : ''} (${hit.backend}, ${e.table} ${e.chain} rule ${by!.rule.index + 1} before ${hit.index + 1})`,
        );
        if (!shadowingRules.includes(`${hit.backend}: -t ${e.table} ${by!.rule.line}`))
          shadowingRules.push(`${hit.backend}: -t ${e.table} ${by!.rule.line}`);
      }
    }
    const ev: Record<string, unknown> = {
      expected: expected.length,
      present: expected.length - missing.length,
      backends: ipt.backends,
      rulesIn: [...foundIn],
    };
    if (missing.length) ev.missing = missing;
    if (shadowed.length) {
      ev.shadowed = shadowed;
      ev.shadowingRules = shadowingRules;
    }
    const restart = {
      text: 'restart node-cache so it re-creates its rules: kubectl -n kube-system rollout restart daemonset nodelocaldns; if they vanish again, find what rewrites them (Calico: calico_felix_chaininsertmode, calico_iptables_backend; a host firewall)',
      safe: false,
    };
    if (missing.length)
      return [
        emit(
          id,
          host,
          'fail',
          `${missing.length} of node-cache's ${expected.length} iptables rules for ${ip} are missing`,
          ev,
          restart,
        ),
      ];
    if (shadowed.length) {
      return [
        emit(
          id,
          host,
          'fail',
          `${shadowed.length} node-cache rule(s) for ${ip} never act: an earlier rule catches the same traffic (${shadowingRules[0]})`,
          ev,
          {
            text: `move or narrow the earlier rule(s) so node-cache's rules for ${ip}:53 come first: ${shadowingRules.join('; ')}`,
            safe: false,
          },
        ),
      ];
    }
    return [emit(id, host, 'pass', `all ${expected.length} node-cache rules for ${ip} present`, ev)];
  },
});
