// The evidence for checksum-offload, node by node, in its TCP form and its UDP mirror image
// (projectcalico/calico#11197, coredns/coredns#6076, kubespray#12076), on whichever overlay device
// the inventory's network plugin creates (vxlan.calico, vxlan-v6.calico, tunl0, flannel.<vni>,
// cilium_vxlan). checksum-offload is named only with all of its evidence:
//  1. DNS over one transport fails (or is intermittent) on paths that cross the overlay while the
//     other transport on the same paths works (or, for "all traffic" breakage, same-node paths work
//     and checksum errors were counted);
//  2. the failing paths are pinned to a node: each failing cross-node pair (client node, node of
//     the CoreDNS pod) has an end that never appears in a clean cross-node pair, and the same
//     transport works where it does not cross the overlay;
//  3. TX checksum offload is on for that node's overlay device (TX off with RX on is Felix's own
//     fix: such a node is not blamed);
//  4. the loss shows in the counters: for TCP, retransmissions, timeouts or checksum errors during
//     the probes; for UDP (nothing is retransmitted), Udp.InCsumErrors where the bad datagrams
//     arrive — the CoreDNS pod's own network namespace for queries (read by the probe program
//     through /proc), the client node for replies. Where those counters could not be read, the
//     diagnosis is not named and dns-unexplained says exactly which were missing.
import type { ProbeResult } from '../types.js';
import { isParseError } from '../types.js';
import { expectedOverlay, noOverlayReason } from '../inventory/overlay.js';
import { checksumOffload } from '../collect/ethtool.js';
import { podKey } from '../collect/counters.js';
import { fmtCounters, type View } from './view.js';

export type Form = 'tcp' | 'udp';

export interface Suspect {
  host: string;
  /** which transport(s) the overlay loses on the paths through the node */
  forms: Form[];
  evidence: string[];
  /** why it is not named checksum-offload, when it is not */
  missing: string[];
  /** true when everything is there but counters that could not be read (not: counters read and
   *  clean) — a rule that would blame a firewall for the same failures stands aside */
  onlyUnread: boolean;
}

interface Pair {
  client: string;
  server: string; // node hosting the endpoint
  ip: string;
  tcp: ProbeResult[];
  udp: ProbeResult[];
}

export interface OffloadState {
  /** TX checksum offload on the node's overlay device (true: on; null: unknown) */
  on: boolean | null;
  device: string;
  rx: boolean | null;
  /** the overlay devices with TX on (what the fix turns off) */
  txOn: string[];
  /** no overlay is configured: why */
  none?: string;
}

/** TX checksum offload on the node's overlay devices: the first device the plugin creates decides. */
export function offloadOn(v: View, host: string): OffloadState {
  const c = v.input.cluster;
  const ov = expectedOverlay(c);
  if (!ov) return { on: null, device: '-', rx: null, txOn: [], none: noOverlayReason(c) };
  const f = v.input.facts[host];
  const states = ov.devices.map((d) => {
    const o = f?.offload[d.device];
    if (!o || isParseError(o)) return { device: d.device, tx: null, rx: null };
    const cs = checksumOffload(o);
    return { device: d.device, tx: cs.tx, rx: cs.rx };
  });
  const first = states.find((s) => s.tx !== null) ?? states[0]!;
  return {
    on: first.tx,
    device: first.device,
    rx: first.rx,
    txOn: states.filter((s) => s.tx === true).map((s) => s.device),
  };
}

const sum = (ps: ProbeResult[]) => ps.reduce((a, p) => a + p.sent - (p.ok ?? 0), 0);

/** Checksum errors counted on a node, its own and in its pods' namespaces. */
function csumAll(v: View, host: string): number {
  const d = v.input.counterDeltas[host] ?? {};
  let n = (d['Tcp.InCsumErrors'] ?? 0) + (d['Udp.InCsumErrors'] ?? 0);
  for (const [k, x] of Object.entries(d)) if (/^Pod\..+\.(Tcp|Udp)\.InCsumErrors$/.test(k) && x > 0) n += x;
  return n;
}

/** Why the pod namespace holding `ip` on `node` has no counters in the window. */
function podUnread(v: View, node: string, ip: string): string {
  const d = v.input.counterDeltas[node];
  if (!(node in v.input.facts)) return `${node} was not inspected`;
  if (!d) return `${node}'s counters were not read before and after the probes`;
  if (!(v.input.cluster.podsSubnets ?? []).length)
    return 'kube_pods_subnet could not be read from the inventory, so no pod namespace was looked for';
  if (!('Netns.pods' in d))
    return `${node} ran the bash fallback of the probe program (no python3), which reads only the node's own counters`;
  return `no process in a network namespace holding ${ip} and linked to ${node} was found`;
}

/** Nodes the one-transport-across-the-overlay failures point at, with the evidence for and against. */
export function checksumSuspects(v: View, epNode: ReadonlyMap<string, string | null>): Suspect[] {
  const hosts = v.inspected();
  const clean = new Set<string>();
  const bad: Record<Form, Pair[]> = { tcp: [], udp: [] };
  const allLost: Pair[] = [];
  const sameNodeOk = new Set<string>();
  const sameNodeFails: Record<Form, Set<string>> = { tcp: new Set(), udp: new Set() };
  for (const h of hosts) {
    for (const ip of new Set(v.probes(h, 'coredns-endpoint').map((p) => p.server))) {
      const tcp = v.probes(h, 'coredns-endpoint', 'tcp', ip);
      const udp = v.probes(h, 'coredns-endpoint', 'udp', ip);
      const node = epNode.get(ip) ?? null;
      if (!node) continue;
      if (node === h) {
        if (v.allOk(tcp) && v.allOk(udp)) sameNodeOk.add(h);
        if (v.someBad(tcp)) sameNodeFails.tcp.add(h);
        if (v.someBad(udp)) sameNodeFails.udp.add(h);
        continue;
      }
      const pair = { client: h, server: node, ip, tcp, udp };
      if (v.allOk(tcp) && v.allOk(udp)) {
        clean.add(h);
        clean.add(node);
      } else if (v.someBad(tcp) && v.allOk(udp)) bad.tcp.push(pair);
      else if (v.someBad(udp) && v.allOk(tcp)) bad.udp.push(pair);
      else if (v.someBad(tcp) && v.someBad(udp)) allLost.push(pair);
    }
  }
  interface Found {
    pairs: string[];
    forms: Set<Form>;
    allTraffic: boolean;
    lost: Record<Form, number>;
    via: Pair[];
  }
  const found = new Map<string, Found>();
  const entry = (n: string) => {
    let e = found.get(n);
    if (!e) found.set(n, (e = { pairs: [], forms: new Set(), allTraffic: false, lost: { tcp: 0, udp: 0 }, via: [] }));
    return e;
  };
  const blame = (p: Pair, forms: Form[], allTraffic: boolean) => {
    for (const n of [p.client, p.server].filter((x) => !clean.has(x))) {
      const e = entry(n);
      e.allTraffic ||= allTraffic;
      for (const f of forms) {
        e.forms.add(f);
        e.lost[f] += sum(p[f]);
      }
      e.via.push(p);
      const dir =
        n === p.client
          ? `from ${n} to the CoreDNS pod ${p.ip} on ${p.server}`
          : `from ${p.client} to the CoreDNS pod ${p.ip} on ${n}`;
      const [a, b] = forms.length === 1 && forms[0] === 'udp' ? (['udp', 'tcp'] as const) : (['tcp', 'udp'] as const);
      e.pairs.push(`DNS over ${a.toUpperCase()} ${dir}: ${v.ratio(p[a])}; over ${b.toUpperCase()} ${v.ratio(p[b])}`);
    }
  };
  bad.tcp.forEach((p) => blame(p, ['tcp'], false));
  bad.udp.forEach((p) => blame(p, ['udp'], false));
  // "all traffic" breakage needs hard evidence: checksum errors counted on one of the ends
  allLost
    .filter(
      (p) => csumAll(v, p.client) + csumAll(v, p.server) > 0 && (sameNodeOk.has(p.client) || sameNodeOk.has(p.server)),
    )
    .forEach((p) => blame(p, ['tcp', 'udp'], true));

  // Without endpoints (discovery failed): the service over one transport vs the other from the node.
  if (!(v.input.endpoints ?? []).length) {
    for (const h of hosts) {
      const tcp = v.probes(h, 'coredns-service', 'tcp');
      const udp = v.probes(h, 'coredns-service', 'udp');
      for (const [f, a, b] of [
        ['tcp', tcp, udp],
        ['udp', udp, tcp],
      ] as const) {
        if (!v.someBad(a) || !v.allOk(b)) continue;
        const e = entry(h);
        e.forms.add(f);
        e.lost[f] += sum(a);
        e.pairs.push(
          `DNS over ${f.toUpperCase()} from ${h} to the CoreDNS service ${v.input.cluster.corednsIp}: ${v.ratio(a)}; over ${f === 'tcp' ? 'UDP' : 'TCP'} ${v.ratio(b)}`,
        );
      }
    }
  }

  const out: Suspect[] = [];
  for (const [host, f] of found) {
    const forms = [...f.forms].sort() as Form[];
    const evidence = f.pairs.slice(0, 4);
    if (f.pairs.length > 4) evidence.push(`… and ${f.pairs.length - 4} more failing path(s)`);
    const missing: string[] = [];
    const unread: string[] = [];
    for (const form of forms) {
      const T = form.toUpperCase();
      // one lost probe on a busy network is noise; the broken offload loses them consistently
      if (!f.allTraffic && f.lost[form] < 2)
        missing.push(
          `only ${f.lost[form]} ${T} probe was lost on the paths through ${host}: too few to tell from noise`,
        );
      if (sameNodeFails[form].has(host))
        missing.push(
          `DNS over ${T} also fails from ${host} to its own CoreDNS pod, a path that does not cross the overlay`,
        );
      else if (sameNodeFails[form].size)
        missing.push(
          `DNS over ${T} also fails where it does not cross the overlay (from ${[...sameNodeFails[form]].join(', ')} to the CoreDNS pod on the same node), so the overlay is not what breaks it`,
        );
      if (!clean.size && !sameNodeOk.size && (v.input.endpoints ?? []).length)
        missing.push(`DNS over ${T} works on no path at all, so the overlay is not what sets the failing paths apart`);
    }
    const off = offloadOn(v, host);
    if (off.none) missing.push(`the inventory configures no overlay (${off.none}), so no path crosses one`);
    else if (off.on === true)
      evidence.push(
        `${host}: TX checksum offload is on for ${off.device} (ethtool -k: tx-checksumming on, rx-checksumming ${off.rx ? 'on' : 'off'})`,
      );
    else if (off.on === false)
      missing.push(
        `TX checksum offload is already off for ${off.device} on ${host}${off.rx ? ' (RX on, as Felix leaves it)' : ''}`,
      );
    else
      missing.push(
        `the offload state of ${off.device} on ${host} is unknown${host in v.input.facts ? '' : ' (not inspected)'}`,
      );

    const partners = new Set<string>([host]);
    for (const p of f.via) partners.add(p.client).add(p.server);
    if (forms.includes('tcp')) {
      const rises = [...partners].map((n) => ({ n, c: v.lossCounters(n) })).filter((x) => Object.keys(x.c).length);
      if (rises.length) evidence.push(...rises.map((x) => `${x.n}: ${fmtCounters(x.c)} during the probes`));
      else missing.push('no retransmissions, TCP timeouts or checksum errors were counted during the probes');
    }
    if (forms.includes('udp')) {
      // where a corrupt datagram is counted: a query from the node in the CoreDNS pod's namespace on
      // the other node, a reply from the node's own pod on the client node
      const counted: string[] = [];
      const notRead: string[] = [];
      const udpVia = f.via.filter((p) => bad.udp.includes(p) || allLost.includes(p));
      for (const p of udpVia) {
        if (p.client === host) {
          const d = v.input.counterDeltas[p.server];
          const k = podKey(p.ip, 'Udp.InCsumErrors');
          if (d && k in d) {
            if (d[k]! > 0)
              counted.push(
                `the CoreDNS pod ${p.ip} on ${p.server}: Udp.InCsumErrors +${d[k]} in its network namespace during the probes${d['Netns.recounted'] ? ` (read again on ${p.server} after every node's probes had ended)` : ''}`,
              );
          } else
            notRead.push(
              `the network namespace of the CoreDNS pod ${p.ip} on ${p.server} was not read: ${podUnread(v, p.server, p.ip)}`,
            );
        } else {
          const d = v.input.counterDeltas[p.client];
          if (!d) notRead.push(`${p.client}'s counters were not read before and after the probes`);
          else if ((d['Udp.InCsumErrors'] ?? 0) > 0)
            counted.push(
              `${p.client}: Udp.InCsumErrors +${d['Udp.InCsumErrors']} during the probes (replies from the CoreDNS pod ${p.ip} on ${host})`,
            );
        }
      }
      if (!udpVia.length) {
        // service probes only: any UDP checksum error in the cluster, node or pod
        for (const n of v.inspected()) {
          const d = v.input.counterDeltas[n] ?? {};
          const pods = Object.entries(d)
            .filter(([k, x]) => /^Pod\..+\.Udp\.InCsumErrors$/.test(k) && x > 0)
            .reduce((a, [, x]) => a + x, 0);
          const own = d['Udp.InCsumErrors'] ?? 0;
          if (own + pods > 0)
            counted.push(
              `${n}: Udp.InCsumErrors +${own}${pods ? `, +${pods} in its pods' namespaces` : ''} during the probes`,
            );
        }
      }
      if (counted.length) evidence.push(...[...new Set(counted)].slice(0, 6));
      else {
        const nr = [...new Set(notRead)];
        const m = `no UDP checksum errors were counted where the failing datagrams arrive${nr.length ? `, and not every place they arrive could be read: ${nr.slice(0, 3).join('; ')}` : ''}`;
        missing.push(m);
        if (nr.length) unread.push(m);
      }
    }
    if (!f.allTraffic && clean.size)
      evidence.push(
        `cross-node paths without ${host} work over both transports (${[...clean].filter((n) => n !== host).join(', ') || 'none'})`,
      );
    out.push({
      host,
      forms,
      evidence,
      missing,
      onlyUnread: missing.length > 0 && missing.every((m) => unread.includes(m)),
    });
  }
  return out;
}
