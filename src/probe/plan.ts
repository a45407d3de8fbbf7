// What to probe from every node: NodeLocalDNS, the CoreDNS service and each CoreDNS endpoint,
// over UDP and TCP separately, for a cluster name, a reverse name and an external name.
import type { ClusterModel, Endpoint, ProbeRole, Transport } from '../types.js';
import { nthAddress, parseCidr, isIPv4 } from '../inventory/validate.js';

export interface ProbePath {
  role: ProbeRole;
  server: string;
  port: number;
  transport: Transport;
  name: string;
  type: 'A' | 'PTR';
  /** cluster-internal names must answer NOERROR with records; external ones only warn */
  internal: boolean;
  endpointHost: string | null;
}

export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

export interface PlanOptions {
  externalName: string | null;
}

export function planProbes(c: ClusterModel, endpoints: Endpoint[] | null, o: PlanOptions): ProbePath[] {
  const apiName = `kubernetes.default.svc.${c.dnsDomain}`;
  const cidr = parseCidr(c.serviceCidr);
  const apiIp = cidr ? nthAddress(cidr, 1) : null;
  const names: { name: string; type: 'A' | 'PTR'; internal: boolean }[] = [{ name: apiName, type: 'A', internal: true }];
  if (apiIp && isIPv4(apiIp)) names.push({ name: reverseName(apiIp), type: 'PTR', internal: true });
  if (o.externalName) names.push({ name: o.externalName, type: 'A', internal: false });
  const out: ProbePath[] = [];
  const add = (role: ProbeRole, server: string, port: number, list: typeof names, endpointHost: string | null = null) => {
    for (const n of list) for (const transport of ['udp', 'tcp'] as const) out.push({ role, server, port, transport, ...n, endpointHost });
  };
  if (c.nodelocaldnsEnabled) add('nodelocaldns', c.nodelocaldnsIp, 53, names);
  add('coredns-service', c.corednsIp, 53, names);
  for (const e of endpoints ?? []) add('coredns-endpoint', e.ip, e.port, names.slice(0, 1), e.nodeName);
  return out;
}
