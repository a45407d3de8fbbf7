// The evidence for pod-to-host-blocked, node by node: what pods send to their own node is dropped.
// What counts is in pod-to-host-blocked.ts.
import type { IptablesRule } from '../types.js';
import { isParseError } from '../types.js';
import { inputDrop, stateAfterRaw, type Packet, type Verdict } from './host-input.js';
import { firewallOf, nodeRuleset, zoneOf, type HostFirewall } from '../netfilter/node.js';
import type { View } from './view.js';
import '../probe/pod.js';

export interface PodToHostSuspect {
  host: string;
  evidence: string[];
  /** why it is not named, when it is not */
  missing: string[];
  /** the host firewall whose rule drops it, and the zone the pod's interface falls in (firewalld) */
  firewall?: { manager: HostFirewall['manager']; zone: string | null };
}

const FELIX_MARK = /DefaultEndpointToHostAction/i;

function rulesOf(v: View, host: string): IptablesRule[] | null {
  const ipt = v.input.facts[host]?.iptables;
  return ipt && !isParseError(ipt) ? ipt.rules : null;
}

const where = (x: Verdict) =>
  `${x.rules[x.rules.length - 1]!.backend}, ${x.table} ${x.chain}${
    x.rules.length > 1
      ? ` via ${x.rules
          .slice(0, -1)
          .map((r) => r.target)
          .join(' → ')}`
      : ''
  }`;

/** Nodes whose pods NodeLocalDNS does not answer while the node itself gets answers, with the
 *  evidence for and against naming pod-to-host-blocked. */
export function podToHostSuspects(v: View): PodToHostSuspect[] {
  const c = v.input.cluster;
  if (!c.nodelocaldnsEnabled) return [];
  const out: PodToHostSuspect[] = [];
  for (const h of v.inspected()) {
    if (v.check(h, 'nodelocaldns.iptables')?.status === 'fail') continue;
    const podNl = v.podProbes(h, 'nodelocaldns');
    const hostNl = v.probes(h, 'nodelocaldns');
    if (!v.allDead(podNl)) continue;
    const hostOk = v.okCount(hostNl) > 0;
    const ns = v.input.facts[h]?.podProbe?.netns ?? null;
    const podIp = ns?.addresses[0] ?? podNl[0]?.podIp ?? null;
    const nsName = ns?.name ?? (ns ? `/proc/${ns.pid}/ns/net` : null);
    const errs = [...new Set(podNl.flatMap((p) => Object.keys(p.errors ?? {})))];
    const evidence = [
      `${h}: from the pod ${podIp ?? '?'}${nsName ? ` (network namespace ${nsName}${ns?.hostIf ? `, behind ${ns.hostIf}` : ''})` : ''}, NodeLocalDNS ${c.nodelocaldnsIp} answered ${v.ratio(podNl)} over UDP and TCP${errs.length ? ` (${errs.join(', ')})` : ''}`,
      ...(hostOk ? [`${h}: the node itself gets answers from NodeLocalDNS: ${v.ratio(hostNl)}`] : []),
    ];
    const missing: string[] = [];
    const rules = rulesOf(v, h);
    const facts = v.input.facts[h];
    const node = facts ? nodeRuleset(facts) : null;
    const rs = node?.ruleset ?? null;
    const found: string[] = [];
    let firewall: PodToHostSuspect['firewall'];
    if (rules && rs) {
      const verdicts = (['udp', 'tcp'] as const).map((proto) => {
        const pk: Packet = {
          proto,
          src: podIp,
          dst: c.nodelocaldnsIp,
          dport: 53,
          sport: null,
          inIface: ns?.hostIf ?? null,
          dstLocal: true,
        };
        return { proto, verdict: inputDrop(rs, { ...pk, state: stateAfterRaw(rs, pk) }) };
      });
      const dropping = verdicts.filter((x) => x.verdict);
      const seen = new Set<string>();
      for (const { verdict } of dropping) {
        const last = verdict!.rules[verdict!.rules.length - 1]!;
        if (seen.has(last.line)) continue;
        seen.add(last.line);
        found.push(
          `${h}: "${last.line}" (${where(verdict!)}) drops ${dropping
            .filter((x) => x.verdict!.rules[x.verdict!.rules.length - 1]!.line === last.line)
            .map((x) => `${x.proto}/53`)
            .join(' and ')} arriving on ${ns?.hostIf ?? "the pod's interface"} for ${c.nodelocaldnsIp}`,
        );
        const manager = firewallOf(verdict!.decision);
        if (manager && !firewall) {
          const zone = manager === 'firewalld' ? zoneOf(verdict!.decision, ns?.hostIf ?? null) : null;
          firewall = { manager, zone: zone?.zone ?? null };
          found.push(
            `${h}: the rule is ${manager === 'nftables' ? `the native nftables table ${verdict!.decision.family} ${verdict!.decision.table}` : manager}'s${zone ? `: ${zone.why}` : ''}`,
          );
        }
      }
      const felix = rules.filter(
        (r) =>
          r.table === 'filter' &&
          (r.target === 'DROP' || r.target === 'REJECT') &&
          FELIX_MARK.test(r.comment ?? r.line),
      );
      for (const r of felix)
        if (!seen.has(r.line))
          found.push(
            `${h}: Felix drops what workloads send to the host: "${r.line}" (${r.backend}, ${r.table} ${r.chain}: DefaultEndpointToHostAction is DROP)`,
          );
      // the replies of the node's CoreDNS pods to the node itself arrive the same way: on the probed
      // pod's interface, or on the bridge every pod of the node sits on (flannel's cni0)
      const hostAddr = v.addressOf(h) ?? null;
      const bridge = ns?.hostIf ? isBridge(v, h, ns.hostIf) : false;
      const repliesDropped: string[] = [];
      if (ns?.hostIf && dropping.length && hostAddr) {
        for (const e of (v.input.endpoints ?? []).filter((x) => x.nodeName === h)) {
          const inIface = ns.addresses.includes(e.ip) || bridge ? ns.hostIf : null;
          const reply: Packet = {
            proto: 'udp',
            src: e.ip,
            dst: hostAddr,
            dport: null,
            sport: 53,
            inIface,
            state: 'ESTABLISHED',
            dstLocal: true,
          };
          if (!inputDrop(rs, reply)) continue;
          repliesDropped.push(`${e.ip}${e.podName ? ` (${e.podName})` : ''}`);
          const own = v.probes(h, 'coredns-endpoint', undefined, e.ip);
          if (!own.length || !v.allDead(own)) continue;
          const others = v.probes(undefined, 'coredns-endpoint', undefined, e.ip).filter((p) => p.host !== h);
          const reach = v.okCount(others) > 0 ? ` (not a dead pod: other nodes reach it, ${v.ratio(others)})` : '';
          evidence.push(
            `${h}: its own probes to its CoreDNS pod ${e.ip}${e.podName ? ` (${e.podName})` : ''} fail too (${v.ratio(own)}): the pod's replies arrive on ${inIface} and are dropped the same way${reach}`,
          );
        }
      }
      // NodeLocalDNS forwards the cluster zone to the CoreDNS service: when that picks a pod on this
      // node, its replies are dropped too, so the node's own queries may fail as well — that does
      // not speak against the cache, but anything else would
      if (!hostOk) {
        // a cache that is not there says so itself: its interface is gone, or nothing listens (refused)
        const refused = hostNl.some((p) => (p.errors?.refused ?? 0) > 0 || (p.errors?.econnrefused ?? 0) > 0);
        if (repliesDropped.length && !refused && v.check(h, 'nodelocaldns.interface')?.status !== 'fail')
          evidence.push(
            `${h}: the node's own queries to NodeLocalDNS fail too (${v.ratio(hostNl)}): it forwards to the CoreDNS service, and the replies of the CoreDNS pod(s) on ${h} (${repliesDropped.join(', ')}) are dropped by the same rule`,
          );
        else
          missing.push(
            `${h} itself gets no answer from NodeLocalDNS either (${v.ratio(hostNl)}${refused ? ', connection refused: nothing listens' : ''}), which this rule does not explain: the cache itself may be down`,
          );
      }
    } else {
      missing.push(`the iptables rules of ${h} could not be read`);
      if (!hostOk) missing.push(`${h} itself gets no answer from NodeLocalDNS either (${v.ratio(hostNl)})`);
    }
    if (c.networkPlugin === 'calico' && (c.calicoEndpointToHostAction ?? 'RETURN') === 'DROP')
      found.push(
        `the inventory sets calico_endpoint_to_host_action: "DROP" (Felix's DefaultEndpointToHostAction): Calico drops what pods send to their own node`,
      );
    if (found.length) evidence.push(...found);
    else if (rules)
      missing.push(
        `no rule or policy that drops pod traffic to ${c.nodelocaldnsIp} was found on ${h} (the rules read — ${node?.read.join(', ') || 'none'} — let it through or cannot be judged${node?.unread.length ? `; not read: ${node.unread.join('; ')}` : ''}; eBPF programs are not read)`,
      );
    out.push({ host: h, evidence, missing, ...(firewall ? { firewall } : {}) });
  }
  return out;
}

/** The node's interface is a bridge (every pod of the node behind it), from the node's links. */
function isBridge(v: View, h: string, dev: string): boolean {
  const links = v.input.facts[h]?.links;
  return !!links && !isParseError(links) && links.some((l) => l.name === dev && l.kind === 'bridge');
}
