// A Kubespray cluster model with Kubespray's defaults, shared by the unit tests.
import type { ClusterModel } from '../../src/types.js';

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
