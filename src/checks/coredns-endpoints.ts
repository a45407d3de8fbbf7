// coredns.endpoints: the CoreDNS endpoints, as the control plane lists them (EndpointSlices, or
// v1 Endpoints as a fallback), filed under the control-plane node that was asked.
import { defineCheck } from './module.js';

export default defineCheck({
  ids: ['coredns.endpoints'],
  title: 'CoreDNS endpoints listed by the control plane (kubectl)',
  rank: 95,
  scope: 'cluster',
  evaluate({ endpoints: lookup }, emit) {
    const id = 'coredns.endpoints';
    const list = lookup.endpoints;
    if (list) {
      const ev: Record<string, unknown> = {
        endpoints: list.map(
          (e) => `${e.ip}:${e.port} ${e.podName ?? ''} on ${e.nodeName ?? '?'}${e.ready ? '' : ' (not ready)'}`,
        ),
      };
      if (lookup.source) ev.source = lookup.source;
      if (lookup.warnings?.length) ev.warnings = lookup.warnings;
      if (!list.length)
        return [
          emit(id, lookup.askedOn, 'fail', 'the coredns service lists no endpoint addresses', ev, {
            text: 'kubectl -n kube-system get deploy,pods -l k8s-app=kube-dns -o wide; kubectl -n kube-system describe deploy coredns',
            safe: false,
          }),
        ];
      return [
        emit(
          id,
          lookup.askedOn,
          'pass',
          `${list.length} CoreDNS endpoint(s) listed${lookup.source === 'endpoints' ? ' (v1 Endpoints)' : ''}`,
          ev,
        ),
      ];
    }
    return [
      emit(
        id,
        lookup.askedOn,
        'warn',
        'could not list CoreDNS endpoints; probing NodeLocalDNS and the service only',
        { tried: lookup.tried },
        {
          text: `check kubectl on the control plane: ${'{{ bin_dir }}'}/kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get endpointslices -l kubernetes.io/service-name=coredns`,
          safe: false,
        },
      ),
    ];
  },
});
