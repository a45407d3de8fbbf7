// iptables.backend: rules live in one backend. Rules in both iptables-legacy and iptables-nft mean
// kube-proxy/Calico and node-cache disagree on the backend.
import { defineCheck } from './module.js';
import { iptablesReader } from '../collect/iptables.js';
import { isParseError } from '../types.js';
import { nodeCacheRuleHits } from './nodelocaldns-rules.js';

export default defineCheck({
  ids: ['iptables.backend'],
  title: 'iptables rules live in one backend (legacy or nft)',
  rank: 12,
  scope: 'node',
  readers: [iptablesReader],
  evaluate({ host, cluster, facts }, emit) {
    const ipt = facts!.iptables;
    if (isParseError(ipt)) return [emit('iptables.backend', host, 'error', ipt.parseError)];
    const per = {
      legacy: ipt.rules.filter((x) => x.backend === 'legacy').length,
      nft: ipt.rules.filter((x) => x.backend === 'nft').length,
    };
    if (per.legacy && per.nft) {
      const rulesIn = cluster.nodelocaldnsEnabled
        ? [...new Set(nodeCacheRuleHits(ipt.rules, cluster.nodelocaldnsIp).map((r) => r.backend))]
        : [];
      return [
        emit(
          'iptables.backend',
          host,
          'warn',
          `rules exist in both iptables-legacy (${per.legacy}) and iptables-nft (${per.nft}); components disagree on the backend (calico_iptables_backend)`,
          { ...per, nodeCacheRulesIn: rulesIn },
          {
            text: "set calico_iptables_backend to the backend kube-proxy and node-cache use (Auto picks by the rules present), then flush the other backend's tables and restart the pods that wrote them",
            safe: false,
          },
        ),
      ];
    }
    return [
      emit(
        'iptables.backend',
        host,
        'pass',
        `one iptables backend in use (${per.legacy ? 'legacy' : per.nft ? 'nft' : 'none'})`,
        per,
      ),
    ];
  },
});
