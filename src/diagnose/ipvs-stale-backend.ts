// ipvs-stale-backend: DNS through the CoreDNS service fails or is intermittent on a node, and that
// node's IPVS table explains it — it sends the service's flows to a server that is not a CoreDNS
// endpoint any more (a pod replaced while kube-proxy kept it at weight 1, or at weight 0 with flows
// still pinned to it: kubernetes/kubernetes#76664, #78993, #81775), it has no real server ("IPVS:
// rr: UDP 10.233.0.3:53 - no destination available", kubespray#3875), kube-proxy never added the
// service (#92033), or kube-ipvs0 lacks the address so IPVS never sees the traffic. Named only with
// the IPVS lines as evidence; a node whose table is clean is left to the other diagnoses, and the
// CoreDNS pods all failing (coredns-unreachable) is not an IPVS matter.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';
import { isParseError, type Remediation } from '../types.js';
import {
  corednsIpvs,
  describeFault,
  describeServices,
  DNS_PORT,
  KUBE_IPVS_DEVICE,
  KUBE_PROXY_RESTART,
  type CorednsIpvs,
  type IpvsFault,
} from '../checks/kube-proxy-ipvs.js';

/** The faults that make DNS through the service fail: a draining stale server only when this
 *  node's own flows are still sent to it. */
function explaining(s: CorednsIpvs): IpvsFault[] {
  return s.faults.filter((f) => f.severity === 'fail' || (f.kind === 'stale-draining' && f.server.flows > 0));
}

/** Where the graceful-termination fixes are. */
export const IPVS_FIX_VERSIONS =
  'kube-proxy 1.15 and later (1.14 after 1.14.3) removes a UDP real server at once when its pod goes (kubernetes/kubernetes#77802, #78999), and with net.ipv4.vs.expire_nodest_conn=1 the next packet of a flow pinned to it expires the flow; on kernel 5.9 and later kube-proxy 1.22+ leaves net.ipv4.vs.conn_reuse_mode at 1 (kubernetes/kubernetes#102122), so a client reusing a source port is scheduled anew instead of being sent to the old server';

/** Diagnoses that account for intermittent service DNS on the nodes they name by themselves. */
const OTHER_CAUSES = [
  'checksum-offload',
  'overlay-blocked',
  'ip-forward-disabled',
  'pod-to-host-blocked',
  'coredns-endpoint-down',
] as const;

/** `elsewhere`: nodes another diagnosis already explains; there a weight-0 server's pinned flows
 *  alone are not named as the cause (a table that sends new flows astray still is). */
export function ipvsStaleBackend(v: View, corednsDown: boolean, elsewhere: ReadonlySet<string> = new Set()): Draft[] {
  const c = v.input.cluster;
  if (c.kubeProxyMode !== 'ipvs' || corednsDown) return [];
  const hosts: string[] = [];
  const evidence: string[] = [];
  const remediations: Remediation[] = [];
  const staleCmds = new Map<string, string[]>();
  let addressMissing = false;
  let noServer = false;
  for (const host of v.inspected()) {
    const svc = v.probes(host, 'coredns-service');
    if (!svc.length || !v.someBad(svc)) continue;
    const ipvs = v.input.facts[host]?.ipvs;
    if (!ipvs || isParseError(ipvs) || !ipvs.loaded || !ipvs.table || isParseError(ipvs.table)) continue;
    const s = corednsIpvs({ ...ipvs, table: ipvs.table }, v.input.facts[host]!.links, c.corednsIp, v.input.endpoints);
    const why = explaining(s);
    if (!why.length || (elsewhere.has(host) && why.every((f) => f.kind === 'stale-draining'))) continue;
    hosts.push(host);
    const nld = v.probes(host, 'nodelocaldns');
    evidence.push(
      `${host}: DNS through the service ${s.vip}: ${v.ratio(svc)} probes answered${nld.length && v.someBad(nld) ? `; through NodeLocalDNS (which forwards the cluster zone to the service): ${v.ratio(nld)}` : ''}`,
      ...why.map((f) => `${host}: ${describeFault(f, s.vip)}`),
      ...describeServices(s).map((l) => `${host}: IPVS ${l}`),
    );
    if (s.device)
      evidence.push(
        `${host}: ${KUBE_IPVS_DEVICE}: ${s.device.present ? s.device.addresses.join(' ') || 'no address' : 'no such device'}`,
      );
    const sy = s.sysctls;
    if (sy.present)
      evidence.push(
        `${host}: net.ipv4.vs.conntrack=${sy.conntrack ?? '?'} conn_reuse_mode=${sy.connReuseMode ?? '?'} expire_nodest_conn=${sy.expireNodestConn ?? '?'}${sy.connReuseMode === 0 ? ' (0: a flow reusing a source port goes back to its old server, kubernetes/kubernetes#81775)' : ''}${sy.expireNodestConn === 0 ? ' (0: flows to a removed server are not expired)' : ''}`,
      );
    for (const f of why) {
      if (f.kind === 'stale-live' || f.kind === 'stale-draining') {
        const flag = f.protocol === 'UDP' ? '-u' : '-t';
        const argv = ['ipvsadm', '-d', flag, `${s.vip}:${DNS_PORT}`, '-r', `${f.server.address}:${f.server.port}`];
        const key = argv.join(' ');
        staleCmds.set(key, [...(staleCmds.get(key) ?? []), host]);
      }
      if (f.kind === 'address-missing') addressMissing = true;
      if (f.kind === 'no-real-server' || f.kind === 'no-service') noServer = true;
    }
  }
  if (!hosts.length) return [];
  if (v.input.endpoints)
    evidence.push(
      `the CoreDNS endpoints (EndpointSlices): ${
        v.input.endpoints
          .filter((e) => e.ready)
          .map((e) => `${e.ip}:${e.port}`)
          .join(', ') || 'none ready'
      }`,
    );
  else
    evidence.push(
      `the CoreDNS endpoints could not be listed (${v.input.endpointError ?? 'no lookup'}): stale servers not told apart`,
    );
  const eps = v.probes(undefined, 'coredns-endpoint');
  if (eps.length)
    evidence.push(`the CoreDNS pods asked directly: ${v.ratio(eps)} probes answered (ruled out: the pods themselves)`);
  remediations.push({
    text: `${KUBE_PROXY_RESTART} (kube-proxy rebuilds its IPVS table and ${KUBE_IPVS_DEVICE} from the endpoints)`,
    safe: false,
  });
  for (const [cmd, on] of staleCmds)
    remediations.push({
      text: `${cmd} on ${on.join(', ')} (deletes the stale real server now; kube-proxy would not add it back while it is no endpoint)`,
      argv: cmd.split(' '),
      hosts: on,
      safe: false,
    });
  if (addressMissing)
    remediations.push({
      text: `kubectl -n kube-system logs daemonset/kube-proxy | grep -i ipvs; ip addr show ${KUBE_IPVS_DEVICE} (kube-proxy binds every service address there; a restart adds it back)`,
      safe: false,
    });
  if (noServer)
    remediations.push({
      text: 'kubectl -n kube-system logs daemonset/kube-proxy | grep -iE "ipvs|Failed to add"; lsmod | grep ip_vs (without the ip_vs modules kube-proxy cannot add IPVS services, kubernetes/kubernetes#92033)',
      safe: false,
    });
  remediations.push({ text: `upgrade where older: ${IPVS_FIX_VERSIONS}`, safe: false });
  return [
    {
      severity: 'fail',
      hosts,
      summary: `kube-proxy's IPVS table sends the CoreDNS service ${c.corednsIp} astray on ${hosts.join(', ')}: ${
        addressMissing && !staleCmds.size && !noServer
          ? `${KUBE_IPVS_DEVICE} lacks the address`
          : noServer && !staleCmds.size
            ? 'no real server to send it to'
            : 'real servers that are not CoreDNS endpoints'
      }`,
      evidence,
      remediations,
    },
  ];
}

export default defineDiagnosis({
  id: 'ipvs-stale-backend',
  explainsChecks: ['kube-proxy.ipvs', 'dns.*'],
  after: ['coredns-unreachable', ...OTHER_CAUSES],
  explains: ['coredns-service-unrouted', 'tcp-blocked', 'udp-blocked'],
  run: (v, ctx) =>
    ipvsStaleBackend(
      v,
      ctx.hosts('coredns-unreachable').length > 0,
      new Set(OTHER_CAUSES.flatMap((id) => ctx.hosts(id))),
    ),
});
