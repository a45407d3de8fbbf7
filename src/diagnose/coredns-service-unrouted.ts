// coredns-service-unrouted: the service IP fails everywhere while pods answer directly (kube-proxy).
import { defineDiagnosis } from './module.js';
import { corednsServiceUnrouted } from './coredns-unreachable.js';

export default defineDiagnosis({
  id: 'coredns-service-unrouted',
  explainsChecks: ['dns.*'],
  run: (v) => corednsServiceUnrouted(v),
});
