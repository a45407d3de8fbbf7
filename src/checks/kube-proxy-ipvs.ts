// kube-proxy.ipvs: the CoreDNS service as kube-proxy's IPVS sees it (kube_proxy_mode ipvs,
// Kubespray's default). NodeLocalDNS forwards the cluster zone to the CoreDNS service over TCP,
// pods ask it over UDP; IPVS balances both over real servers kube-proxy keeps equal to the CoreDNS
// endpoints, and only for an address bound to the kube-ipvs0 dummy device. Read without ipvsadm
// (which may load the ip_vs module: a change on the node): the CoreDNS virtual services of
// /proc/net/ip_vs, the flows of /proc/net/ip_vs_conn to them, /proc/sys/net/ipv4/vs/ — in two
// processes, only in IPVS mode and only where the module is loaded. kube-ipvs0's addresses come
// from the links. The pure judgement (corednsIpvs) is shared with the ipvs-stale-backend diagnosis.
import { defineCheck, type Reader } from './module.js';
import type { Endpoint, LinkFacts, NodeFacts, ParseError, Parsed } from '../types.js';
import { isParseError } from '../types.js';
import { canonicalIp, findService, parseProcIpVs, type IpvsService, type IpvsTable } from '../collect/ipvs.js';
import { connsByDest, parseProcIpVsConn, type IpvsConnTable } from '../collect/ipvs-conn.js';
import { IPVS_SYSCTL_DIR, parseIpvsSysctls, type IpvsSysctls } from '../collect/ipvs-sysctl.js';
import { isIPv6 } from '../inventory/validate.js';
import { shQuote } from '../transport/quote.js';
import { firstLine } from '../errors.js';

/** What was read of IPVS on a node. */
export interface IpvsFacts {
  /** /proc/net/ip_vs exists: the ip_vs module is loaded */
  loaded: boolean;
  /** the CoreDNS service's entries of /proc/net/ip_vs (the header and its UDP/TCP :53 services) */
  table: Parsed<IpvsTable> | null;
  /** the flows of /proc/net/ip_vs_conn to the CoreDNS service */
  conns: Parsed<IpvsConnTable> | null;
  /** more flows than were read (the first MAX_FLOWS only) */
  connsTruncated: boolean;
  sysctls: IpvsSysctls;
}

declare module '../types.js' {
  interface NodeFacts {
    /** IPVS as read in IPVS mode; null when kube_proxy_mode is not ipvs (nothing read) */
    ipvs?: Parsed<IpvsFacts> | null;
  }
}

export const KUBE_IPVS_DEVICE = 'kube-ipvs0';
export const DNS_PORT = 53;
/** at most this many flows of the CoreDNS service are read (a busy node holds many thousands) */
export const MAX_FLOWS = 2000;
const SYSCTLS = ['conntrack', 'conn_reuse_mode', 'expire_nodest_conn'];

/** An IPv6 address with every group written out, as the kernel's %pI6 prints it. */
export function fullIpv6(a: string): string {
  const [head, tail] = a.toLowerCase().split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** The service address:port as /proc/net/ip_vs prints it ("0AE90003:0035", "[fd00:…:000a]:0035"),
 *  and the address and port as /proc/net/ip_vs_conn does (" 0AE90003 0035 "). */
export function procKeys(ip: string, port: number): { service: string; conn: string } {
  const p = port.toString(16).toUpperCase().padStart(4, '0');
  if (isIPv6(ip)) return { service: `[${fullIpv6(ip)}]:${p}`, conn: ` ${fullIpv6(ip)} ${p} ` };
  const hex = ip
    .split('.')
    .map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0'))
    .join('');
  return { service: `${hex}:${p}`, conn: ` ${hex} ${p} ` };
}

export const ipvsReader: Reader<'ipvs'> = {
  key: 'ipvs',
  // nothing at all outside IPVS mode; one awk for both /proc tables (they exist together), one grep
  // for the sysctls (a shell `read` of an integer sysctl is not reliable, see sysctl.forwarding)
  script: ({ cluster }) => {
    if (cluster.kubeProxyMode !== 'ipvs') return '';
    const k = procKeys(cluster.corednsIp, DNS_PORT);
    const awk = [
      'FILENAME == "/proc/net/ip_vs" { if ($1 ~ /^(TCP|UDP|SCTP|FWM)$/) p = ($2 == s); if (FNR <= 3 || p) print; next }',
      'FNR == 1 { print "@@rc 0"; print "@@ipvs-conn"; print; next }',
      'index($0, c) { if (n < m) print; n++ }',
      'END { print "@@rc " (n > m ? 3 : 0) }',
    ].join(' ');
    return [
      'echo @@ipvs',
      `if [ -r /proc/net/ip_vs ]; then awk -v s=${shQuote(k.service)} -v c=${shQuote(k.conn)} -v m=${MAX_FLOWS} ${shQuote(awk)} /proc/net/ip_vs /proc/net/ip_vs_conn 2>&1;`,
      `echo @@ipvs-sysctl; grep -H '' ${SYSCTLS.map((x) => `${IPVS_SYSCTL_DIR}/${x}`).join(' ')} 2>/dev/null; echo "@@rc 0";`,
      'else echo "@@rc 2"; fi',
    ].join('\n');
  },
  parse(sections, ctx): NodeFacts['ipvs'] {
    if (ctx.cluster?.kubeProxyMode !== 'ipvs') return null;
    const t = sections.find((s) => s.name === 'ipvs');
    if (!t) return { parseError: 'IPVS: no output' };
    if (t.code === 2)
      return {
        loaded: false,
        table: null,
        conns: null,
        connsTruncated: false,
        sysctls: parseIpvsSysctls(''),
      };
    if (t.code !== 0) return { parseError: `reading /proc/net/ip_vs failed: ${firstLine(t.body.trim())}` };
    const c = sections.find((s) => s.name === 'ipvs-conn');
    const sy = sections.find((s) => s.name === 'ipvs-sysctl');
    return {
      loaded: true,
      table: parseProcIpVs(t.body),
      conns: c ? parseProcIpVsConn(c.body) : { parseError: '/proc/net/ip_vs_conn: no output' },
      connsTruncated: c?.code === 3,
      sysctls: parseIpvsSysctls(sy?.body ?? ''),
    };
  },
};

// ---------------------------------------------------------------- the judgement

export const IPVS_PROTOCOLS = ['UDP', 'TCP'] as const;
export type IpvsProtocol = (typeof IPVS_PROTOCOLS)[number];

export interface IpvsServerView {
  address: string;
  port: number;
  weight: number;
  activeConn: number;
  inactConn: number;
  /** this node's flows the connection table sends to this server */
  flows: number;
  /** a ready CoreDNS endpoint; null when the endpoints are not known */
  endpoint: boolean | null;
}

export interface IpvsServiceView {
  protocol: IpvsProtocol;
  present: boolean;
  scheduler: string | null;
  servers: IpvsServerView[];
  /** ready endpoints that are not among the real servers */
  missing: string[];
}

/** What is wrong, each with the severity it carries on its own. */
export type IpvsFault =
  | { kind: 'no-service'; protocol: IpvsProtocol; severity: 'fail' }
  | { kind: 'no-real-server'; protocol: IpvsProtocol; severity: 'fail' }
  /** a server that is not a CoreDNS endpoint, at a weight above 0: new flows go to it */
  | { kind: 'stale-live'; protocol: IpvsProtocol; server: IpvsServerView; severity: 'fail' }
  /** a server that is not an endpoint, at weight 0, still holding flows (graceful termination that
   *  does not end: a client reusing its source port keeps being sent to it) */
  | { kind: 'stale-draining'; protocol: IpvsProtocol; server: IpvsServerView; severity: 'warn' }
  | { kind: 'endpoint-missing'; protocol: IpvsProtocol; address: string; severity: 'warn' }
  | { kind: 'endpoint-weight-0'; protocol: IpvsProtocol; server: IpvsServerView; severity: 'warn' }
  /** kube-ipvs0 is missing or does not hold the service address: IPVS never sees the traffic */
  | { kind: 'address-missing'; device: boolean; severity: 'fail' };

export interface CorednsIpvs {
  vip: string;
  services: IpvsServiceView[];
  faults: IpvsFault[];
  /** kube-ipvs0 as the links show it; null when the links could not be read */
  device: { present: boolean; addresses: string[]; hasAddress: boolean } | null;
  /** every server address the connection table sends the service's flows to, with the count */
  flows: Record<string, number>;
  connsTruncated: boolean;
  /** the connection table could not be parsed (its error) */
  connsError: string | null;
  sysctls: IpvsSysctls;
  endpointsKnown: boolean;
}

const server = (s: IpvsServerView) => `${s.address}:${s.port}`;

/** The CoreDNS service in a node's IPVS table against the endpoints the control plane lists. */
export function corednsIpvs(
  ipvs: IpvsFacts & { table: IpvsTable },
  links: LinkFacts[] | ParseError,
  corednsIp: string,
  endpoints: readonly Endpoint[] | null,
): CorednsIpvs {
  const vip = canonicalIp(corednsIp);
  const ready = endpoints ? endpoints.filter((e) => e.ready) : null;
  const conns = ipvs.conns && !isParseError(ipvs.conns) ? ipvs.conns : null;
  const faults: IpvsFault[] = [];
  const flowsAll: Record<string, number> = {};
  const services: IpvsServiceView[] = IPVS_PROTOCOLS.map((protocol) => {
    const svc: IpvsService | null = findService(ipvs.table, protocol, vip, DNS_PORT);
    const flows = conns ? connsByDest(conns, protocol, vip, DNS_PORT) : new Map<string, number>();
    for (const [a, n] of flows) flowsAll[a] = (flowsAll[a] ?? 0) + n;
    const isEp = (a: string, port: number) =>
      ready ? ready.some((e) => canonicalIp(e.ip) === a && (e.port === port || port === DNS_PORT)) : null;
    const servers = (svc?.realServers ?? []).map((r) => ({
      address: r.address,
      port: r.port,
      weight: r.weight,
      activeConn: r.activeConn,
      inactConn: r.inactConn,
      flows: flows.get(r.address) ?? 0,
      endpoint: isEp(r.address, r.port),
    }));
    const missing = ready
      ? [...new Set(ready.map((e) => canonicalIp(e.ip)))].filter((a) => !servers.some((s) => s.address === a))
      : [];
    if (!svc) faults.push({ kind: 'no-service', protocol, severity: 'fail' });
    else {
      if (!servers.some((s) => s.weight > 0)) faults.push({ kind: 'no-real-server', protocol, severity: 'fail' });
      for (const s of servers) {
        if (s.endpoint === false && s.weight > 0)
          faults.push({ kind: 'stale-live', protocol, server: s, severity: 'fail' });
        else if (s.endpoint === false && s.activeConn + s.inactConn + s.flows > 0)
          faults.push({ kind: 'stale-draining', protocol, server: s, severity: 'warn' });
        else if (s.endpoint === true && s.weight === 0)
          faults.push({ kind: 'endpoint-weight-0', protocol, server: s, severity: 'warn' });
      }
      // with no server at all, "no real server" says it
      if (servers.length)
        for (const a of missing) faults.push({ kind: 'endpoint-missing', protocol, address: a, severity: 'warn' });
    }
    return { protocol, present: !!svc, scheduler: svc?.scheduler ?? null, servers, missing };
  });
  let device: CorednsIpvs['device'] = null;
  if (!isParseError(links)) {
    const dev = links.find((l) => l.name === KUBE_IPVS_DEVICE);
    const addresses = dev?.addresses ?? [];
    const hasAddress = addresses.some((a) => canonicalIp(a.split('/')[0]!) === vip);
    device = { present: !!dev, addresses, hasAddress };
    if (!hasAddress) faults.push({ kind: 'address-missing', device: !!dev, severity: 'fail' });
  }
  return {
    vip,
    services,
    faults,
    device,
    flows: flowsAll,
    connsTruncated: ipvs.connsTruncated,
    connsError: ipvs.conns && isParseError(ipvs.conns) ? ipvs.conns.parseError : null,
    sysctls: ipvs.sysctls,
    endpointsKnown: ready !== null,
  };
}

/** One fault in words. */
export function describeFault(f: IpvsFault, vip: string): string {
  const svc = (p: IpvsProtocol) => `${p} ${vip}:${DNS_PORT}`;
  const counts = (s: IpvsServerView) =>
    `weight ${s.weight}, ActiveConn ${s.activeConn}, InActConn ${s.inactConn}${s.flows ? `, ${s.flows} flow(s) of this node in the connection table` : ''}`;
  switch (f.kind) {
    case 'no-service':
      return `no IPVS virtual service ${svc(f.protocol)}: kube-proxy did not add it`;
    case 'no-real-server':
      return `${svc(f.protocol)} has no real server at a weight above 0: IPVS drops its traffic ("no destination available")`;
    case 'stale-live':
      return `${svc(f.protocol)} sends new flows to ${server(f.server)}, which is not a CoreDNS endpoint (${counts(f.server)})`;
    case 'stale-draining':
      return `${svc(f.protocol)} keeps ${server(f.server)}, which is not a CoreDNS endpoint, with flows still sent to it (${counts(f.server)})`;
    case 'endpoint-missing':
      return `${svc(f.protocol)} lacks the CoreDNS endpoint ${f.address}`;
    case 'endpoint-weight-0':
      return `${svc(f.protocol)} holds the ready endpoint ${server(f.server)} at weight 0`;
    case 'address-missing':
      return f.device
        ? `${KUBE_IPVS_DEVICE} does not hold ${vip}: traffic to the service address is not delivered to IPVS`
        : `there is no ${KUBE_IPVS_DEVICE} device: kube-proxy's IPVS proxier is not running on the node`;
  }
}

/** The table in lines for evidence: "UDP 10.233.0.3:53 rr -> 10.233.80.3:53 w1 0/0 (endpoint)". */
export function describeServices(s: CorednsIpvs): string[] {
  return s.services.map((v) => {
    if (!v.present) return `${v.protocol} ${s.vip}:${DNS_PORT}: not in the IPVS table`;
    const list = v.servers.map(
      (r) =>
        `${server(r)} w${r.weight} ${r.activeConn}/${r.inactConn}${r.flows ? ` flows ${r.flows}` : ''}${
          r.endpoint === null ? '' : r.endpoint ? ' (endpoint)' : ' (not an endpoint)'
        }`,
    );
    return `${v.protocol} ${s.vip}:${DNS_PORT} ${v.scheduler ?? ''} -> ${list.join(', ') || 'no real server'}`;
  });
}

export const KUBE_PROXY_RESTART = 'kubectl -n kube-system rollout restart daemonset kube-proxy';

export default defineCheck({
  ids: ['kube-proxy.ipvs'],
  title:
    "the CoreDNS service in kube-proxy's IPVS table: UDP and TCP :53 with exactly the endpoints, kube-ipvs0 holds the address",
  rank: 60,
  scope: 'node',
  readers: [ipvsReader],
  evaluate({ host, cluster, facts, endpoints }, emit) {
    const id = 'kube-proxy.ipvs';
    if (cluster.kubeProxyMode !== 'ipvs')
      return [
        emit(
          id,
          host,
          'skip',
          cluster.kubeProxyMode === 'nftables'
            ? 'kube_proxy_mode is nftables: the service path lives in the nft table ip kube-proxy, not IPVS'
            : `kube_proxy_mode is ${cluster.kubeProxyMode}: no IPVS to read`,
        ),
      ];
    const v = facts!.ipvs;
    if (!v) return [emit(id, host, 'error', 'IPVS was not read')];
    if (isParseError(v)) return [emit(id, host, 'error', v.parseError)];
    if (!v.loaded)
      return [
        emit(
          id,
          host,
          'skip',
          'IPVS is not in the kernel (no /proc/net/ip_vs): kube-proxy cannot use IPVS mode on this node',
          {},
        ),
      ];
    if (!v.table) return [emit(id, host, 'error', '/proc/net/ip_vs was not read')];
    if (isParseError(v.table)) return [emit(id, host, 'error', v.table.parseError)];
    const list = endpoints?.endpoints ?? null;
    const s = corednsIpvs({ ...v, table: v.table }, facts!.links, cluster.corednsIp, list);
    const evidence: Record<string, unknown> = {
      services: describeServices(s),
      [KUBE_IPVS_DEVICE]: s.device ? (s.device.present ? s.device.addresses : 'no such device') : 'links not read',
      sysctls: s.sysctls.all,
    };
    if (list) evidence.endpoints = list.filter((e) => e.ready).map((e) => `${e.ip}:${e.port}`);
    else evidence.endpoints = `not listed (${endpoints?.error ?? 'no lookup'}): real servers not compared`;
    if (Object.keys(s.flows).length) evidence.flows = s.flows;
    if (s.connsTruncated) evidence.flowsTruncated = `only the first ${MAX_FLOWS} flows were read`;
    if (s.connsError) evidence.connsError = s.connsError;
    const bad = s.faults.filter((f) => f.severity === 'fail');
    const warn = s.faults.filter((f) => f.severity === 'warn');
    if (bad.length || warn.length) {
      const worst = bad.length ? bad : warn;
      evidence.faults = s.faults.map((f) => describeFault(f, s.vip));
      return [
        emit(id, host, bad.length ? 'fail' : 'warn', describeFault(worst[0]!, s.vip), evidence, {
          text: `${KUBE_PROXY_RESTART} (kube-proxy rebuilds the IPVS table and ${KUBE_IPVS_DEVICE} from the endpoints)`,
          safe: false,
        }),
      ];
    }
    const n = s.services[0]!.servers.length;
    return [
      emit(
        id,
        host,
        'pass',
        `${s.vip}:${DNS_PORT} in IPVS over UDP and TCP: ${n} real server(s)${s.endpointsKnown ? ', exactly the CoreDNS endpoints' : ''}, ${KUBE_IPVS_DEVICE} holds the address`,
        evidence,
      ),
    ];
  },
});
