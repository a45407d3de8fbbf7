// CoreDNS endpoint discovery, the way Kubespray itself talks to the cluster:
// {{ bin_dir }}/kubectl --kubeconfig {{ kube_config_dir }}/admin.conf -n kube-system get endpoints coredns -o json
import type { ClusterModel, Endpoint, Parsed } from '../types.js';
import { shJoin } from '../transport/quote.js';
import { isIP } from '../inventory/validate.js';

export function endpointsCommand(c: ClusterModel): string {
  return shJoin([`${c.binDir}/kubectl`, '--kubeconfig', `${c.kubeConfigDir}/admin.conf`, '-n', 'kube-system', 'get', 'endpoints', 'coredns', '-o', 'json', '--request-timeout=20s']);
}

interface RawAddr { ip?: unknown; nodeName?: unknown; targetRef?: { name?: unknown } }
interface RawSubset { addresses?: RawAddr[]; notReadyAddresses?: RawAddr[]; ports?: { name?: unknown; port?: unknown; protocol?: unknown }[] }

export function parseEndpoints(text: string): Parsed<Endpoint[]> {
  let v: { kind?: unknown; subsets?: unknown };
  try {
    v = JSON.parse(text);
  } catch {
    return { parseError: `kubectl get endpoints: output is not JSON ("${text.trim().slice(0, 60)}")` };
  }
  if (!v || typeof v !== 'object' || (v.kind !== undefined && v.kind !== 'Endpoints')) return { parseError: 'kubectl get endpoints: not an Endpoints object' };
  const subsets = Array.isArray(v.subsets) ? (v.subsets as RawSubset[]) : [];
  const out: Endpoint[] = [];
  for (const s of subsets) {
    const ports = Array.isArray(s.ports) ? s.ports : [];
    const p = ports.find((x) => x.protocol === 'TCP') ?? ports.find((x) => x.name === 'dns') ?? ports[0];
    const port = typeof p?.port === 'number' ? p.port : 53;
    const add = (list: RawAddr[] | undefined, ready: boolean) => {
      for (const a of Array.isArray(list) ? list : []) {
        if (typeof a.ip !== 'string' || !isIP(a.ip)) continue;
        if (out.some((e) => e.ip === a.ip)) continue;
        out.push({ ip: a.ip, port, nodeName: typeof a.nodeName === 'string' ? a.nodeName : null, podName: typeof a.targetRef?.name === 'string' ? a.targetRef.name : null, ready });
      }
    };
    add(s.addresses, true);
    add(s.notReadyAddresses, false);
  }
  return out;
}
