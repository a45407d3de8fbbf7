// checksum-offload: the seed's root cause. Named only with all of its evidence:
//  1. DNS over TCP fails (or is intermittent) on paths that cross the overlay, while UDP on the
//     same paths works (or, for "all traffic" breakage, same-node paths work and checksum error
//     counters rose);
//  2. the failing paths are pinned to a node: each failing cross-node pair (client node, node of
//     the CoreDNS pod) has an end that never appears in a clean cross-node pair;
//  3. tx/rx checksum offload is on for that node's overlay interface;
//  4. retransmissions, TCP timeouts or checksum errors rose during the probe window.
import type { ProbeResult } from '../types.js';
import { expectedOverlay } from '../inventory/overlay.js';
import { offloadReader } from '../collect/ethtool.js';
import { defineDiagnosis, type Draft } from './module.js';
import { checksumOffload } from '../collect/ethtool.js';
import { isParseError } from '../types.js';
import { fmtCounters, type View } from './view.js';

export interface Suspect {
  host: string;
  evidence: string[];
  /** why it is not named checksum-offload, when it is not */
  missing: string[];
}

interface Pair {
  client: string;
  server: string; // node hosting the endpoint
  ip: string;
  tcp: ProbeResult[];
  udp: ProbeResult[];
}

export function offloadOn(v: View, host: string): { on: boolean | null; device: string } {
  const ov = expectedOverlay(v.input.cluster);
  const device = ov?.device ?? 'vxlan.calico';
  const f = v.input.facts[host];
  const o = f?.offload[device];
  if (!o || isParseError(o)) return { on: null, device };
  const cs = checksumOffload(o);
  return { on: !!(cs.tx || cs.rx), device };
}

/** Nodes the TCP-across-the-overlay failures point at, with the evidence for and against. */
export function checksumSuspects(v: View): Suspect[] {
  const hosts = v.inspected();
  const epNode = new Map((v.input.endpoints ?? []).map((e) => [e.ip, e.nodeName]));
  const clean = new Set<string>();
  const tcpOnly: Pair[] = [];
  const allLost: Pair[] = [];
  const sameNodeOk = new Set<string>();
  const sameNodeTcpFails = new Set<string>();
  for (const h of hosts) {
    for (const ip of new Set(v.probes(h, 'coredns-endpoint').map((p) => p.server))) {
      const tcp = v.probes(h, 'coredns-endpoint', 'tcp', ip);
      const udp = v.probes(h, 'coredns-endpoint', 'udp', ip);
      const node = epNode.get(ip) ?? null;
      if (!node) continue;
      if (node === h) {
        if (v.allOk(tcp) && v.allOk(udp)) sameNodeOk.add(h);
        else if (v.someBad(tcp) && v.allOk(udp)) sameNodeTcpFails.add(h);
        continue;
      }
      const pair = { client: h, server: node, ip, tcp, udp };
      if (v.allOk(tcp) && v.allOk(udp)) {
        clean.add(h);
        clean.add(node);
      } else if (v.someBad(tcp) && v.allOk(udp)) tcpOnly.push(pair);
      else if (v.someBad(tcp) && v.someBad(udp)) allLost.push(pair);
    }
  }
  const found = new Map<string, { pairs: string[]; allTraffic: boolean; lost: number }>();
  const blame = (p: Pair, allTraffic: boolean) => {
    const ends = [p.client, p.server].filter((n) => !clean.has(n));
    for (const n of ends) {
      const e = found.get(n) ?? { pairs: [], allTraffic, lost: 0 };
      e.lost += v.sentCount(p.tcp) - v.okCount(p.tcp);
      const dir = n === p.client ? `from ${n} to the CoreDNS pod ${p.ip} on ${p.server}` : `from ${p.client} to the CoreDNS pod ${p.ip} on ${n}`;
      e.pairs.push(`DNS over TCP ${dir}: ${v.ratio(p.tcp)}; over UDP ${v.ratio(p.udp)}`);
      found.set(n, e);
    }
  };
  tcpOnly.forEach((p) => blame(p, false));
  // "all traffic" breakage needs hard evidence: checksum errors counted on one of the ends
  allLost.filter((p) => v.csumErrors(p.client) + v.csumErrors(p.server) > 0 && (sameNodeOk.has(p.client) || sameNodeOk.has(p.server))).forEach((p) => blame(p, true));

  // Without endpoints (discovery failed): the service over TCP vs UDP from the node itself.
  if (!(v.input.endpoints ?? []).length) {
    for (const h of hosts) {
      const tcp = v.probes(h, 'coredns-service', 'tcp');
      const udp = v.probes(h, 'coredns-service', 'udp');
      if (v.someBad(tcp) && v.allOk(udp)) found.set(h, { pairs: [`DNS over TCP from ${h} to the CoreDNS service ${v.input.cluster.corednsIp}: ${v.ratio(tcp)}; over UDP ${v.ratio(udp)}`], allTraffic: false, lost: v.sentCount(tcp) - v.okCount(tcp) });
    }
  }

  const out: Suspect[] = [];
  for (const [host, f] of found) {
    const evidence = f.pairs.slice(0, 4);
    if (f.pairs.length > 4) evidence.push(`… and ${f.pairs.length - 4} more failing path(s)`);
    const missing: string[] = [];
    // one lost segment on a busy network is noise; the broken offload loses them consistently
    if (f.lost < 2) missing.push(`only ${f.lost} TCP probe was lost on the paths through ${host}: too few to tell from noise`);
    if (sameNodeTcpFails.has(host)) missing.push(`DNS over TCP also fails from ${host} to its own CoreDNS pod, a path that does not cross the overlay`);
    else if (sameNodeTcpFails.size) missing.push(`DNS over TCP also fails where it does not cross the overlay (from ${[...sameNodeTcpFails].join(', ')} to the CoreDNS pod on the same node), so the overlay is not what breaks it`);
    if (!clean.size && !sameNodeOk.size && (v.input.endpoints ?? []).length) missing.push('DNS over TCP works on no path at all, so the overlay is not what sets the failing paths apart');
    const off = offloadOn(v, host);
    if (off.on === true) evidence.push(`${host}: tx/rx checksum offload is on for ${off.device} (ethtool -k)`);
    else if (off.on === false) missing.push(`checksum offload is already off for ${off.device} on ${host}`);
    else missing.push(`the offload state of ${off.device} on ${host} is unknown${host in v.input.facts ? '' : ' (not inspected)'}`);
    const partners = new Set<string>([host]);
    for (const p of [...tcpOnly, ...allLost]) if (p.client === host || p.server === host) { partners.add(p.client); partners.add(p.server); }
    const rises = [...partners].map((n) => ({ n, c: v.lossCounters(n) })).filter((x) => Object.keys(x.c).length);
    if (rises.length) evidence.push(...rises.map((x) => `${x.n}: ${fmtCounters(x.c)} during the probes`));
    else missing.push('no retransmissions, TCP timeouts or checksum errors were counted during the probes');
    if (!f.allTraffic && clean.size) evidence.push(`cross-node paths without ${host} work over TCP (${[...clean].filter((n) => n !== host).join(', ') || 'none'})`);
    out.push({ host, evidence, missing });
  }
  return out;
}

export function checksumOffloadDiagnosis(v: View): Draft[] {
  const confirmed = checksumSuspects(v).filter((s) => !s.missing.length);
  if (!confirmed.length) return [];
  const hosts = confirmed.map((s) => s.host);
  const device = offloadOn(v, hosts[0]!).device;
  return [{
    id: 'checksum-offload',
    severity: 'fail',
    hosts,
    summary: `DNS over TCP across the overlay fails while UDP works: checksum offload on ${device} corrupts segments on ${hosts.join(', ')}`,
    evidence: confirmed.flatMap((s) => s.evidence),
    remediations: [
      { text: `on ${hosts.join(', ')}: ethtool --offload ${device} rx off tx off   (safe; --fix applies it; lasts until reboot or Calico recreates ${device})`, argv: ['ethtool', '--offload', device, 'rx', 'off', 'tx', 'off'], hosts, safe: true },
      { text: 'lasting: set calico_feature_detect_override: "ChecksumOffloadBroken=true" in group_vars/k8s_cluster/k8s-net-calico.yml and re-run cluster.yml', safe: false },
      { text: `or now: kubectl patch felixconfiguration default --type merge -p '{"spec":{"featureDetectOverride":"ChecksumOffloadBroken=true"}}'`, safe: false },
    ],
  }];
}

export default defineDiagnosis({ id: 'checksum-offload', rank: 40, explains: ['dns.*', 'kernel.counters', 'overlay.offload'], readers: [offloadReader], run: (v) => checksumOffloadDiagnosis(v) });
