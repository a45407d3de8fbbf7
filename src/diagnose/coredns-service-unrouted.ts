// coredns-service-unrouted: the service IP fails everywhere while pods answer directly — the
// service path of kube-proxy in the mode the inventory sets: iptables' KUBE-SERVICES chains, the
// nft table `ip kube-proxy` (nftables mode, Kubespray >= 2.28, where no KUBE-SERVICES chain is
// expected), or IPVS (kube-ipvs0 and the virtual servers; ipvs-stale-backend names a table that
// explains it, and this one then does not run).
import { defineDiagnosis } from './module.js';
import { corednsServiceUnrouted } from './coredns-unreachable.js';

export default defineDiagnosis({
  id: 'coredns-service-unrouted',
  explainsChecks: ['dns.*'],
  run: (v) => corednsServiceUnrouted(v),
});
