// resolver.upstream: when the external name fails from every node through NodeLocalDNS and CoreDNS
// while cluster names answer, the upstream servers themselves (upstream_dns_servers, else the
// kubelet's resolvConf file's) are asked from every node, over UDP and TCP: they answer none, or
// they answer and CoreDNS's way to them is at fault. One result for the cluster; with
// --external-name none it says once that nothing external was asked.
import { defineCheck } from './module.js';

export default defineCheck({
  ids: ['resolver.upstream'],
  title:
    'where the external name fails everywhere, the upstream servers answer the nodes (UDP and TCP); --external-name none: not asked',
  rank: 71,
  scope: 'cluster',
  evaluate({ resolver, endpoints }, emit) {
    const id = 'resolver.upstream';
    const host = resolver?.askedOn ?? endpoints.askedOn ?? '*';
    if (!resolver) return [emit(id, host, 'skip', 'the resolver step did not run')];
    const u = resolver.upstream;
    if (u.state !== 'probed')
      return [
        emit(
          id,
          host,
          u.state === 'not-needed' ? 'pass' : 'skip',
          u.state === 'not-needed' ? `not asked: ${u.reason}` : u.reason,
        ),
      ];
    return [
      emit(
        id,
        host,
        'fail',
        `the external name ${resolver.externalName} fails from every node through NodeLocalDNS and CoreDNS; the upstream servers ${u.servers.map((s) => `${s.server} (${s.source})`).join(', ')} were asked from every node (upstream-dns-unreachable says what they answered)`,
        { servers: u.servers },
        {
          text: "see the upstream-dns-unreachable diagnosis: the servers themselves, the nodes' way to them, or CoreDNS's forward configuration",
          safe: false,
        },
      ),
    ];
  },
});
