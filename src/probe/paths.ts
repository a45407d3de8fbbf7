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

function names(c: ClusterModel, o: PlanOptions): { name: string; type: 'A' | 'PTR'; internal: boolean }[] {
  const apiName = `kubernetes.default.svc.${c.dnsDomain}`;
  const cidr = parseCidr(c.serviceCidr);
  const apiIp = cidr ? nthAddress(cidr, 1) : null;
  const out: { name: string; type: 'A' | 'PTR'; internal: boolean }[] = [{ name: apiName, type: 'A', internal: true }];
  if (apiIp && isIPv4(apiIp)) out.push({ name: reverseName(apiIp), type: 'PTR', internal: true });
  if (o.externalName) out.push({ name: o.externalName, type: 'A', internal: false });
  return out;
}

function expand(
  role: ProbeRole,
  server: string,
  port: number,
  list: ReturnType<typeof names>,
  endpointHost: string | null = null,
): ProbePath[] {
  const out: ProbePath[] = [];
  for (const n of list)
    for (const transport of ['udp', 'tcp'] as const) out.push({ role, server, port, transport, ...n, endpointHost });
  return out;
}

/** The paths known before the endpoints are: NodeLocalDNS and the CoreDNS service. */
export function basePaths(c: ClusterModel, o: PlanOptions): ProbePath[] {
  const list = names(c, o);
  return [
    ...(c.nodelocaldnsEnabled ? expand('nodelocaldns', c.nodelocaldnsIp, 53, list) : []),
    ...expand('coredns-service', c.corednsIp, 53, list),
  ];
}

/** One cluster name to each CoreDNS endpoint, over UDP and TCP. */
export function endpointPaths(c: ClusterModel, endpoints: Endpoint[] | null, o: PlanOptions): ProbePath[] {
  const list = names(c, o).slice(0, 1);
  return (endpoints ?? []).flatMap((e) => expand('coredns-endpoint', e.ip, e.port, list, e.nodeName));
}

export function planProbes(c: ClusterModel, endpoints: Endpoint[] | null, o: PlanOptions): ProbePath[] {
  return [...basePaths(c, o), ...endpointPaths(c, endpoints, o)];
}
