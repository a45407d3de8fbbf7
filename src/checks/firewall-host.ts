// firewall.host: a host firewall on the node (firewalld, ufw, a native nftables table of its own)
// and whether it lets Kubespray's traffic through: pods to NodeLocalDNS on their own node, the
// overlay's encapsulation from the other nodes, and forwarding to the node's pods. Each is a
// question to the netfilter model of the node's whole ruleset (iptables-legacy, iptables-nft and
// the native nft tables, every base chain of each hook in priority order): `warn` names what a
// firewall surely drops and by which rule; `pass` says what it saw; `skip` when there is none.
import { defineCheck } from './module.js';
import { iptablesReader } from '../collect/iptables.js';
import { nftablesReader } from '../collect/nftables.js';
import { linksReader } from '../collect/iproute.js';
import { isParseError, type ClusterModel, type NodeFacts } from '../types.js';
import { expectedOverlay } from '../inventory/overlay.js';
import { nodeRuleset, hostFirewalls, firewallOf, firewalldZones, zoneOf } from '../netfilter/node.js';
import { describe, evaluate, type Packet } from '../netfilter/evaluate.js';
import { firewallFixes } from '../netfilter/remedy.js';
import type { Ruleset } from '../netfilter/model.js';

interface Question {
  what: string;
  need: 'pods' | 'overlay';
  packet: Packet;
}

/** A name a pod interface of this plugin has (the model matches wildcards against it). */
function podIface(c: ClusterModel): string | null {
  return c.networkPlugin === 'calico'
    ? 'cali0000000000a'
    : c.networkPlugin === 'flannel'
      ? 'cni0'
      : c.networkPlugin === 'cilium'
        ? 'lxc0000000000a'
        : null;
}

/** The pods' first address and a second one (another pod), from kube_pods_subnet. */
function podAddrs(c: ClusterModel): [string, string] | null {
  const s = c.podsSubnets?.find((x) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(x));
  if (!s) return null;
  const [a, b, cc] = s.split('/')[0]!.split('.').map(Number) as [number, number, number];
  return [`${a}.${b}.${cc}.5`, `${a}.${b}.${cc + 1}.7`];
}

export function questions(c: ClusterModel, facts: NodeFacts, address: string, peer: string | null): Question[] {
  const out: Question[] = [];
  const pif = podIface(c);
  const pods = podAddrs(c);
  const base = { ct: 'new', dnat: false, sport: 40000 } as const;
  if (c.nodelocaldnsEnabled && pif)
    for (const proto of ['udp', 'tcp'])
      out.push({
        what: `${proto}/53 from the pods (${pif.replace(/0+a$/, '…')}) to NodeLocalDNS ${c.nodelocaldnsIp}`,
        need: 'pods',
        packet: {
          ...base,
          path: ['prerouting', 'input'],
          iif: pif,
          saddr: pods?.[0] ?? null,
          daddr: c.nodelocaldnsIp,
          l4proto: proto,
          dport: 53,
          localDaddr: true,
        },
      });
  const ov = expectedOverlay(c);
  if (ov) {
    const links = facts.links;
    const nic = !isParseError(links) ? (links.find((l) => l.name === ov.device)?.parent ?? null) : null;
    const port = ov.port ?? null;
    out.push({
      what: `the overlay's ${ov.encap === 'ipip' ? 'IP-in-IP (IP protocol 4)' : `VXLAN (udp/${port})`} from the other nodes${nic ? ` on ${nic}` : ''}`,
      need: 'overlay',
      packet: {
        ...base,
        path: ['prerouting', 'input'],
        iif: nic,
        saddr: peer,
        daddr: address,
        l4proto: ov.encap === 'ipip' ? 'ipencap' : 'udp',
        dport: ov.encap === 'ipip' ? null : port,
        localDaddr: true,
      },
    });
    if (pif && pods)
      out.push({
        what: `pod traffic from ${ov.device} forwarded to the node's pods`,
        need: 'pods',
        packet: {
          ...base,
          path: ['prerouting', 'forward', 'postrouting'],
          iif: ov.device,
          oif: pif,
          saddr: pods[1],
          daddr: pods[0],
          l4proto: 'udp',
          dport: 53,
          localDaddr: false,
        },
      });
  }
  return out;
}

function ask(rs: Ruleset, q: Question) {
  return evaluate(rs, q.packet);
}

export default defineCheck({
  ids: ['firewall.host'],
  title: "a host firewall (firewalld, ufw, a native nftables table) lets Kubespray's traffic through",
  rank: 14,
  scope: 'node',
  readers: [iptablesReader, nftablesReader, linksReader],
  evaluate({ host, cluster: c, facts, connection }, emit) {
    const id = 'firewall.host';
    if (!facts) return [emit(id, host, 'error', 'the node was not read')];
    const node = nodeRuleset(facts);
    const nft = facts.nftables;
    if (nft && isParseError(nft) && isParseError(facts.iptables))
      return [emit(id, host, 'error', `no ruleset could be read: ${nft.parseError}`)];
    const fws = hostFirewalls(node.ruleset);
    const seen = { read: node.read, ...(node.unread.length ? { unread: node.unread } : {}) };
    if (!fws.length)
      return [
        emit(
          id,
          host,
          'skip',
          `no host firewall (no firewalld, ufw or native nftables filter table) in ${node.read.join(', ') || 'the rules read'}${node.unread.length ? `; not read: ${node.unread.join('; ')}` : ''}`,
          seen,
        ),
      ];
    const blocked: string[] = [];
    const maybe: string[] = [];
    const passed: string[] = [];
    const fixes = new Map<string, ReturnType<typeof firewallFixes>>();
    for (const q of questions(c, facts, hostAddress(facts) || connection.address, null)) {
      const r = ask(node.ruleset, q);
      if (r.verdict === 'drop' && r.by) {
        const manager = firewallOf(r.by);
        const zone = manager === 'firewalld' ? zoneOf(r.by, q.packet.iif ?? null) : null;
        blocked.push(`${q.what}: dropped by ${describe(r.by)}${zone ? `; ${zone.why}` : ''}`);
        if (manager)
          for (const f of firewallFixes(
            manager,
            c,
            { what: q.need, port: q.packet.dport ?? null, proto: q.packet.l4proto ?? 'udp', zone: zone?.zone ?? null },
            [host],
          ))
            fixes.set(f.text, [f]);
      } else if (r.verdict === 'maybe-drop' && r.by) maybe.push(`${q.what}: may be dropped by ${describe(r.by)}`);
      else passed.push(q.what);
    }
    const zones = fws.some((f) => f.manager === 'firewalld') ? firewalldZones(node.ruleset) : [];
    const ev = {
      firewalls: fws.map((f) => `${f.manager} (${f.where})`),
      ...(zones.length ? { firewalldZones: zones } : {}),
      ...seen,
      ...(blocked.length ? { blocked } : {}),
      ...(maybe.length ? { maybe } : {}),
      ...(passed.length ? { passes: passed } : {}),
    };
    const names = [...new Set(fws.map((f) => f.manager))].join(', ');
    if (blocked.length)
      return [
        emit(
          id,
          host,
          'warn',
          `${names} drops Kubespray's traffic: ${blocked.map((b) => b.split(': dropped by')[0]).join('; ')}`,
          ev,
          [...fixes.values()].flat()[0] ?? { text: 'open it in the host firewall named above', safe: false },
        ),
      ];
    return [
      emit(
        id,
        host,
        'pass',
        `${names} lets Kubespray's traffic through (${passed.join('; ') || 'nothing to ask'})${maybe.length ? `; may drop: ${maybe.join('; ')}` : ''}`,
        ev,
      ),
    ];
  },
});

/** The node's own address: where the overlay's packets are sent (the host's inventory address is
 *  not in the facts; the overlay's parent NIC's first IPv4 address is). */
function hostAddress(facts: NodeFacts): string {
  const links = facts.links;
  if (isParseError(links)) return '';
  const ov = links.find((l) => l.kind === 'vxlan' && l.parent);
  const nic = links.find((l) => l.name === ov?.parent) ?? links.find((l) => l.name !== 'lo' && l.addresses?.length);
  return nic?.addresses?.find((a) => !a.includes(':'))?.split('/')[0] ?? '';
}
