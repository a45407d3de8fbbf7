// The IPVS replay bundles (test/fixtures/bundles/ipvs-*). This kernel has no IPVS and the lab runs
// kube-proxy's iptables-mode rules, so a lab run with kube_proxy_mode ipvs reads no IPVS table
// (its nodes answer "no /proc/net/ip_vs"). The recording is made with the lab fault that does on
// the wire what each IPVS state does (faults.ts: ipvs-stale, ipvs-no-real-server, ipvs-no-address),
// then each node's IPVS sections are replaced by the tables kube-proxy's IPVS holds in that state,
// in the kernel's /proc formats (net/netfilter/ipvs/ip_vs_ctl.c, ip_vs_conn.c), shaped after the
// public captures in test/fixtures/ipvs/ (kubespray#4357's CoreDNS service, kubernetes#76664's
// UDP flow pinned to a replaced pod, calico#4851's SYN_RECV flows) with the lab's addresses; and
// kube-ipvs0, which kube-proxy's IPVS proxier creates, is added to the links as `ip -d -j addr`
// prints a stand-in device made in a scratch namespace. The report is then the replay's.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nsRead, sh, quiet } from './sys.js';
import type { LabEndpoint } from './topology.js';
import { replay } from '../../src/validate.js';

export interface IpvsServer {
  ip: string;
  weight: number;
  active: number;
  inactive: number;
}
export interface IpvsFlow {
  proto: 'UDP' | 'TCP';
  client: string;
  cport: number;
  dest: string;
  state: string;
  expires: number;
}
/** One node's IPVS state: the CoreDNS service's real servers (null: the service is not there),
 *  its flows, and the addresses kube-ipvs0 holds. */
export interface NodeIpvs {
  udp: IpvsServer[] | null;
  tcp: IpvsServer[] | null;
  flows: IpvsFlow[];
  kubeIpvs0: string[];
}

const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
const ipHex = (a: string) =>
  hex(
    a.split('.').reduce((n, o) => n * 256 + Number(o), 0),
    8,
  );
const pad = (s: string | number, w: number) => String(s).padEnd(w);

/** /proc/net/ip_vs as the kernel prints it (ip_vs_info_seq_show). */
export function procIpVs(vip: string, n: NodeIpvs): string {
  let out =
    'IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n' +
    '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n';
  for (const [proto, servers] of [
    ['TCP', n.tcp],
    ['UDP', n.udp],
  ] as const) {
    if (!servers) continue;
    out += `${proto}  ${ipHex(vip)}:0035 rr  \n`;
    for (const s of servers)
      out += `  -> ${ipHex(s.ip)}:0035      ${pad('Masq', 7)} ${pad(s.weight, 6)} ${pad(s.active, 10)} ${pad(s.inactive, 10)}\n`;
  }
  return out;
}

/** /proc/net/ip_vs_conn (ip_vs_conn_seq_show, kernel 2.6.37+ header). */
export function procIpVsConn(vip: string, flows: IpvsFlow[]): string {
  let out = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n';
  for (const f of flows)
    out += `${pad(f.proto, 3)} ${ipHex(f.client)} ${hex(f.cport, 4)} ${ipHex(vip)} 0035 ${ipHex(f.dest)} 0035 ${pad(f.state, 11)} ${String(f.expires).padStart(7)}\n`;
  return out;
}

/** What kube-proxy sets (kubernetes/kubernetes#93297): conntrack and expire_nodest_conn 1; on a
 *  5.9+ kernel conn_reuse_mode is left at its default, 1. */
const SYSCTLS = ['conntrack:1', 'conn_reuse_mode:1', 'expire_nodest_conn:1']
  .map((x) => `/proc/sys/net/ipv4/vs/${x}`)
  .join('\n');

/** kube-ipvs0 as `ip -d -j addr show` prints it, made in a scratch namespace as the lab makes its
 *  stand-in devices (this kernel has no dummy driver: a bridge, as the lab's nodelocaldns), with the
 *  flags kube-proxy leaves it with (kubernetes/kubernetes#77077: <BROADCAST,NOARP>, state DOWN). */
export function kubeIpvs0Json(addresses: string[]): Record<string, unknown> {
  const ns = `ksvipvs${process.pid}`;
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['-n', ns, 'link', 'add', 'kube-ipvs0', 'type', 'bridge']);
    sh('ip', ['-n', ns, 'link', 'set', 'kube-ipvs0', 'arp', 'off']);
    for (const a of addresses) sh('ip', ['-n', ns, 'addr', 'add', `${a}/32`, 'dev', 'kube-ipvs0']);
    const [dev] = JSON.parse(nsRead(ns, 'ip', '-d', '-j', 'addr', 'show', 'kube-ipvs0')) as Record<string, unknown>[];
    return dev!;
  } finally {
    quiet('ip', ['netns', 'del', ns]);
  }
}

/** Replace one node's IPVS sections (and add kube-ipvs0 to its links) in a round trip's output. */
export function spliceRoundtrip(stdout: string, vip: string, n: NodeIpvs, kubeIpvs0: Record<string, unknown>): string {
  const lines = stdout.split('\n');
  const at = lines.indexOf('@@ipvs');
  if (at < 0 || lines[at + 1] !== '@@rc 2')
    throw new Error('ipvs bundles: the round trip has no "@@ipvs / @@rc 2" section');
  const ipvs = [
    '@@ipvs',
    ...procIpVs(vip, n).trimEnd().split('\n'),
    '@@rc 0',
    '@@ipvs-conn',
    ...procIpVsConn(vip, n.flows).trimEnd().split('\n'),
    '@@rc 0',
    '@@ipvs-sysctl',
    ...SYSCTLS.split('\n'),
    '@@rc 0',
  ];
  lines.splice(at, 2, ...ipvs);
  const li = lines.indexOf('@@link');
  if (li < 0) throw new Error('ipvs bundles: the round trip has no @@link section');
  const links = JSON.parse(lines[li + 1]!) as Record<string, unknown>[];
  links.push({ ...kubeIpvs0, ifindex: Math.max(...links.map((l) => Number(l.ifindex) || 0)) + 1 });
  lines[li + 1] = JSON.stringify(links);
  return lines.join('\n');
}

interface BundleFile {
  nodes: Record<string, { execs: { label: string; result: { ok: boolean; stdout?: string } }[] }>;
}

/** Splice every node of a recorded bundle, then write the replay's report as the bundle's report. */
export async function spliceBundle(dir: string, vip: string, state: Record<string, NodeIpvs>): Promise<void> {
  const file = join(dir, 'bundle.json');
  const b = JSON.parse(readFileSync(file, 'utf8')) as BundleFile;
  for (const [host, n] of Object.entries(state)) {
    const rt = b.nodes[host]?.execs.find((e) => e.label === 'roundtrip');
    if (!rt?.result.ok || rt.result.stdout === undefined) throw new Error(`ipvs bundles: no round trip of ${host}`);
    rt.result.stdout = spliceRoundtrip(rt.result.stdout, vip, n, kubeIpvs0Json(n.kubeIpvs0));
  }
  writeFileSync(file, JSON.stringify(b, null, 1) + '\n');
  const { report } = await replay(dir, { progress: 'none' });
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
}

/** The four states, for a lab's nodes and CoreDNS endpoints. */
export function ipvsStates(
  nodes: { name: string; address: string }[],
  endpoints: LabEndpoint[],
  vip: string,
  gone: string,
): Record<'healthy' | 'stale' | 'noRealServer' | 'noAddress', (node: string) => NodeIpvs> {
  const apiVip = vip.replace(/\.\d+$/, '.1');
  const live = (): IpvsServer[] => endpoints.map((e) => ({ ip: e.ip, weight: 1, active: 0, inactive: 0 }));
  const healthy = (): NodeIpvs => ({ udp: live(), tcp: live(), flows: [], kubeIpvs0: [apiVip, vip] });
  const addr = (node: string) => nodes.find((x) => x.name === node)!.address;
  const ep = (i: number) => endpoints[i % endpoints.length]!.ip;
  return {
    healthy: () => healthy(),
    // node2: a replaced CoreDNS pod still a real server at weight 1 (kube-proxy not syncing), new
    // flows sent to it: a UDP flow to it as kubernetes#76664 prints one, a TCP one stuck in
    // SYN_RECV as calico#4851 prints them, beside flows to the live pods
    stale: (node) =>
      node !== 'node2'
        ? healthy()
        : {
            udp: [...live(), { ip: gone, weight: 1, active: 0, inactive: 1 }],
            tcp: [
              ...live().map((s, i) => (i === 1 % endpoints.length ? { ...s, active: 1 } : s)),
              { ip: gone, weight: 1, active: 0, inactive: 1 },
            ],
            flows: [
              { proto: 'UDP', client: addr(node), cport: 44117, dest: gone, state: 'UDP', expires: 264 },
              { proto: 'UDP', client: addr(node), cport: 42898, dest: ep(0), state: 'UDP', expires: 252 },
              { proto: 'TCP', client: addr(node), cport: 59623, dest: gone, state: 'SYN_RECV', expires: 57 },
              { proto: 'TCP', client: addr(node), cport: 59622, dest: ep(1), state: 'ESTABLISHED', expires: 899 },
            ],
            kubeIpvs0: [apiVip, vip],
          },
    // every node: the service is there with no real server, as kubespray#4357 prints services
    // without one ("IPVS: rr: UDP …:53 - no destination available" in the kernel log)
    noRealServer: () => ({ udp: [], tcp: [], flows: [], kubeIpvs0: [apiVip, vip] }),
    // node3: the table is right, kube-ipvs0 holds the API service only
    noAddress: (node) => (node !== 'node3' ? healthy() : { ...healthy(), kubeIpvs0: [apiVip] }),
  };
}
