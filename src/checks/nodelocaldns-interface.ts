// nodelocaldns.interface: an interface named nodelocaldns holds nodelocaldns_ip.
import { defineCheck } from './module.js';
import { linksReader } from '../collect/iproute.js';
import { isParseError } from '../types.js';

export default defineCheck({
  ids: ['nodelocaldns.interface'],
  title: 'an interface named nodelocaldns holds nodelocaldns_ip',
  rank: 10,
  scope: 'node',
  readers: [linksReader],
  evaluate({ host, cluster: c, facts }, emit) {
    const id = 'nodelocaldns.interface';
    if (!c.nodelocaldnsEnabled) return [emit(id, host, 'skip', 'enable_nodelocaldns is false')];
    const links = facts!.links;
    if (isParseError(links)) return [emit(id, host, 'error', links.parseError)];
    const ip = c.nodelocaldnsIp;
    const dev = links.find((l) => l.name === 'nodelocaldns');
    const holder = links.find((l) => l.addresses.some((a) => a.split('/')[0] === ip));
    const restart = {
      text: 'kubectl -n kube-system get pods -l k8s-app=node-local-dns -o wide; kubectl -n kube-system rollout restart daemonset nodelocaldns',
      safe: false,
    };
    if (dev && dev.addresses.some((a) => a.split('/')[0] === ip))
      return [
        emit(id, host, 'pass', `nodelocaldns holds ${ip}`, {
          device: dev.name,
          kind: dev.kind,
          addresses: dev.addresses,
        }),
      ];
    if (dev)
      return [
        emit(
          id,
          host,
          'fail',
          `nodelocaldns exists but does not hold ${ip}`,
          { device: dev.name, addresses: dev.addresses, heldBy: holder?.name ?? null },
          restart,
        ),
      ];
    return [
      emit(
        id,
        host,
        'fail',
        `no nodelocaldns interface${holder ? ` (${ip} is on ${holder.name})` : ` and nothing holds ${ip}`}: the node-cache pod is not running or has not set up the node`,
        { heldBy: holder?.name ?? null },
        restart,
      ),
    ];
  },
});
