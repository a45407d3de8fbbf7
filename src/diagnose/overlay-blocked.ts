// overlay-blocked: a host firewall (firewalld, ufw, a hardened INPUT chain) or a cloud security
// group drops the encapsulated overlay traffic to one node (VXLAN UDP 4789 for Calico, 8472 for
// flannel and Cilium, IP protocol 4 for IP-in-IP). Named only with all of its evidence:
//  1. every DNS path that crosses that node's overlay (it is the client, or it hosts the CoreDNS
//     pod) fails on BOTH transports, and the failures are pinned to it: it never appears in a
//     working cross-node pair, while other cross-node pairs work;
//  2. paths that stay on the node (its own CoreDNS pod) work, where it has one;
//  3. no checksum errors were counted (that is checksum-offload's mark);
//  4. its overlay device received nothing during the probes while it sent (RX does not move while
//     TX does), or a rule drops the encapsulation on its way into the node (the netfilter model of
//     the node's iptables and native nftables tables: firewalld's, ufw's, a hand-written table),
//     named with the firewall, the zone the NIC falls in, and that firewall's own fix.
import { isParseError } from '../types.js';
import { expectedOverlay } from '../inventory/overlay.js';
import { inputDrop, type Verdict } from './host-input.js';
import { iptablesReader } from '../collect/iptables.js';
import { nftablesReader } from '../collect/nftables.js';
import { linksReader } from '../collect/iproute.js';
import { firewallOf, nodeRuleset, zoneOf } from '../netfilter/node.js';
import { firewallFixes } from '../netfilter/remedy.js';
import type { Remediation } from '../types.js';
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';

interface Encap {
  device: string;
  proto: string;
  port: number;
  label: string;
}

function encapOf(v: View): Encap | null {
  const c = v.input.cluster;
  const ov = expectedOverlay(c);
  if (!ov) return null;
  const declared = (ov as { port?: number | null }).port;
  if (ov.encap === 'ipip') return { device: ov.device, proto: 'ipencap', port: 0, label: 'IP protocol 4 (IP-in-IP)' };
  const port = declared ?? (c.networkPlugin === 'calico' ? c.calicoVxlanPort : 8472);
  return { device: ov.device, proto: 'udp', port, label: `UDP ${port} (VXLAN)` };
}

/** What surely drops the encapsulated traffic on its way into the node (from another node's
 *  address, on the overlay's parent NIC), with the NIC's name. */
function dropRule(v: View, host: string, enc: Encap): { verdict: Verdict; nic: string | null } | null {
  const facts = v.input.facts[host];
  if (!facts) return null;
  const address = v.addressOf(host) ?? '';
  const peer = v.input.hosts.find((h) => h.name !== host)?.address ?? null;
  const links = facts.links;
  const parent = links && !isParseError(links) ? (links.find((l) => l.name === enc.device)?.parent ?? null) : null;
  // the first packet of a flow the node never answered is NEW to conntrack
  const verdict = inputDrop(nodeRuleset(facts).ruleset, {
    proto: enc.proto,
    src: peer,
    dst: address,
    dport: enc.port || null,
    sport: null,
    inIface: parent,
    state: 'NEW',
    dstLocal: true,
  });
  return verdict ? { verdict, nic: parent } : null;
}

export function overlayBlocked(v: View, epNode: ReadonlyMap<string, string | null>): Draft[] {
  const enc = encapOf(v);
  const eps = v.input.endpoints ?? [];
  if (!enc || !eps.length) return [];
  const hosts = v.inspected();
  const clean = new Set<string>();
  const dead: { client: string; server: string; ip: string }[] = [];
  const sameNode = new Map<string, boolean>();
  for (const h of hosts) {
    for (const ip of new Set(v.probes(h, 'coredns-endpoint').map((p) => p.server))) {
      const node = epNode.get(ip);
      if (!node) continue;
      const tcp = v.probes(h, 'coredns-endpoint', 'tcp', ip);
      const udp = v.probes(h, 'coredns-endpoint', 'udp', ip);
      if (node === h) {
        sameNode.set(h, v.allOk(tcp) && v.allOk(udp));
        continue;
      }
      if (v.allOk(tcp) && v.allOk(udp)) {
        clean.add(h);
        clean.add(node);
      } else if (v.allDead(tcp) && v.allDead(udp)) dead.push({ client: h, server: node, ip });
    }
  }
  if (!clean.size) return [];
  const suspects = new Set(dead.flatMap((p) => [p.client, p.server]).filter((n) => !clean.has(n) && hosts.includes(n)));
  const named: string[] = [];
  const evidence: string[] = [];
  // the host firewalls whose rule drops it, by firewall and zone, with their nodes
  const firewalls = new Map<
    string,
    { manager: 'firewalld' | 'ufw' | 'nftables'; zone: string | null; hosts: string[] }
  >();
  for (const x of suspects) {
    const mine = dead.filter((p) => p.client === x || p.server === x);
    // every cross-node pair through x failed on both transports
    const through = hosts
      .flatMap((h) =>
        [...new Set(v.probes(h, 'coredns-endpoint').map((p) => p.server))].map((ip) => ({
          h,
          ip,
          node: epNode.get(ip),
        })),
      )
      .filter((p) => p.node && p.node !== p.h && (p.h === x || p.node === x));
    if (through.length !== mine.length) continue;
    if (sameNode.get(x) === false) continue;
    const csum = [x, ...new Set(mine.flatMap((p) => [p.client, p.server]))].reduce((a, n) => a + v.csumErrors(n), 0);
    if (csum > 0) continue;
    const d = v.input.counterDeltas[x] ?? {};
    const rx = d[`Link.${enc.device}.rx_packets`];
    const tx = d[`Link.${enc.device}.tx_packets`];
    const frozen = rx === 0 && (tx ?? 0) > 0;
    const rule = dropRule(v, x, enc);
    if (!frozen && !rule) continue;
    named.push(x);
    for (const p of mine.slice(0, 4))
      evidence.push(
        `DNS from ${p.client} to the CoreDNS pod ${p.ip} on ${p.server}: ${v.ratio(v.probes(p.client, 'coredns-endpoint', 'udp', p.ip))} over UDP, ${v.ratio(v.probes(p.client, 'coredns-endpoint', 'tcp', p.ip))} over TCP`,
      );
    if (mine.length > 4)
      evidence.push(`… and ${mine.length - 4} more path(s) through ${x}, all failing on both transports`);
    if (sameNode.get(x)) evidence.push(`${x} reaches its own CoreDNS pod (no overlay crossed) on both transports`);
    evidence.push(`cross-node paths without ${x} work (${[...clean].join(', ')})`);
    if (rx !== undefined && tx !== undefined)
      evidence.push(
        `${x}: ${enc.device} received ${rx} packet(s) and sent ${tx} during the probes${frozen ? ': nothing comes in' : ''}`,
      );
    if (rule) {
      const last = rule.verdict.rules[rule.verdict.rules.length - 1]!;
      const d = rule.verdict.decision;
      const via = d.path.length > 1 ? ` via ${[...new Set(d.path.slice(1).map((s) => s.chain))].join(' → ')}` : '';
      evidence.push(`${x}: "${last.line}" (${last.backend}, ${d.table} ${d.chain}${via}) drops ${enc.label}`);
      const manager = firewallOf(d);
      if (manager) {
        const zone = manager === 'firewalld' ? zoneOf(d, rule.nic) : null;
        evidence.push(
          `${x}: the rule is ${manager === 'nftables' ? `the native nftables table ${d.family} ${d.table}` : manager}'s${zone ? `: ${zone.why}` : ''}`,
        );
        const key = `${manager} ${zone?.zone ?? ''}`;
        const same = firewalls.get(key) ?? { manager, zone: zone?.zone ?? null, hosts: [] };
        same.hosts.push(x);
        firewalls.set(key, same);
      }
    }
    evidence.push(`${x}: no checksum errors counted (not checksum offload)`);
  }
  if (!named.length) return [];
  return [
    {
      severity: 'fail',
      hosts: named,
      summary: `the overlay's encapsulated traffic (${enc.label}) does not reach ${named.join(', ')}: every path across its overlay fails on both transports`,
      evidence,
      remediations: [
        ...[...firewalls.values()].flatMap((f): Remediation[] =>
          firewallFixes(
            f.manager,
            v.input.cluster,
            { what: 'overlay', port: enc.port || null, proto: enc.proto, zone: f.zone },
            f.hosts,
          ),
        ),
        {
          text: `open ${enc.label} between all nodes on ${named.join(', ')} — host firewall (firewall-cmd --permanent --add-port=${enc.port ? `${enc.port}/udp` : '…'}; ufw allow ${enc.port ? `${enc.port}/udp` : 'proto ipip'}; the INPUT rule named above) and the cloud security group; Kubespray's network port requirements list it`,
          safe: false,
        },
        {
          text: `check it: tcpdump -ni any ${enc.port ? `udp port ${enc.port}` : 'ip proto 4'} on ${named[0]} while a pod on another node resolves a name`,
          safe: false,
        },
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'overlay-blocked',
  explainsChecks: ['dns.*'],
  explains: ['tcp-blocked', 'udp-blocked'],
  readers: [iptablesReader, nftablesReader, linksReader],
  run: (v, ctx) => overlayBlocked(v, ctx.facts.epNode),
});
