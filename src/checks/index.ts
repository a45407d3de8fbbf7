// All node checks. Ids are stable and listed in the README:
// ssh.reachable, nodelocaldns.interface, nodelocaldns.iptables, iptables.backend,
// overlay.interface, overlay.mtu, overlay.offload, kernel.counters, coredns.endpoints,
// dns.<role>.<transport>.
import type { CheckResult, ClusterModel, NodeFacts } from '../types.js';
import { nodelocaldnsChecks } from './nodelocaldns.js';
import { overlayChecks } from './overlay.js';
export { counterCheck } from './counters.js';

export function nodeChecks(f: NodeFacts, c: ClusterModel): CheckResult[] {
  return [...nodelocaldnsChecks(f, c), ...overlayChecks(f, c)];
}
