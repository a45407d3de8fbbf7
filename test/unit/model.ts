// A Kubespray cluster model with Kubespray's defaults, shared by the unit tests.
import type { ClusterModel, Endpoint, ProbeResult } from '../../src/types.js';

export const CLUSTER: ClusterModel = {
  dnsDomain: 'cluster.local',
  serviceCidr: '10.233.0.0/18',
  corednsIp: '10.233.0.3',
  nodelocaldnsEnabled: true,
  nodelocaldnsIp: '169.254.25.10',
  networkPlugin: 'calico',
  calicoBackend: 'vxlan',
  calicoVxlanMode: 'Always',
  calicoIpipMode: 'Never',
  calicoVxlanPort: 4789,
  calicoFeatureDetectOverride: '',
  kubeProxyMode: 'ipvs',
  binDir: '/usr/local/bin',
  kubeConfigDir: '/etc/kubernetes',
  controlPlane: ['node1'],
  nodes: ['node1', 'node2'],
};

/** The three nodes of the hand-built scenarios, and the two CoreDNS pods on node1 and node2. */
export const HOSTS = ['node1', 'node2', 'node3'];
export const EPS: Endpoint[] = [
  { ip: '10.233.64.1', port: 53, nodeName: 'node1', podName: 'coredns-a', ready: true },
  { ip: '10.233.65.1', port: 53, nodeName: 'node2', podName: 'coredns-b', ready: true },
];

/** One probe path's result in a hand-built scenario: 5 queries, `n` of them answered NOERROR with
 *  records, the rest failed as `errors` says (all timeouts unless given). */
export function probeOf(
  p: Pick<ProbeResult, 'host' | 'server' | 'role' | 'transport' | 'name' | 'type'> & {
    endpointHost: string | null;
  },
  n: number,
  errors?: Record<string, number>,
): ProbeResult {
  const k = Math.max(0, Math.min(5, n));
  return {
    ...p,
    sent: 5,
    answered: k,
    ok: k,
    internal: true,
    rcodes: k ? { NOERROR: k } : {},
    latencyMs: { p50: k ? 1 : null, max: k ? 2 : null },
    errors: k < 5 ? (errors ?? { timeout: 5 - k }) : {},
  };
}
