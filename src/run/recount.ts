// The pod namespaces' counters read once more after every node's probes have ended. A UDP datagram
// with a bad checksum is counted where it is received: a query from another node in the CoreDNS
// pod's own namespace. Each node reads its counters around its own probes, and a node whose probes
// all answered ends its window while another node's queries to its pod may still be arriving (one
// every probe timeout). So when a UDP probe across the overlay failed while its TCP twin answered —
// the UDP form of checksum-offload, or a look-alike — the nodes hosting CoreDNS pods read their pod
// namespaces again on the connection they already have (one small read-only command each), and
// that reading ends their window for those counters. Nothing is run otherwise.
import type { EndpointLookup } from '../checks/module.js';
import { parsePodCounters } from '../collect/counters.js';
import { podCountersScript } from '../probe/program.js';
import type { ClusterModel, Counters, NodeSession, ProbeResult, Target } from '../types.js';

export interface RecountState {
  target: Target;
  session: NodeSession | null;
  error: string | null;
  before: Counters | null;
  after: Counters | null;
  probes: ProbeResult[];
}

export const RECOUNT_TIMEOUT_MS = 10_000;

/** A UDP probe that crosses the overlay (to a CoreDNS pod on another node, or to the service) got
 *  fewer good answers than its TCP twin, which answered every probe. */
export function udpLostAcrossOverlay(probes: ProbeResult[], lookup: EndpointLookup): boolean {
  const epNode = new Map((lookup.endpoints ?? []).map((e) => [e.ip, e.nodeName]));
  return probes.some((p) => {
    if (p.transport !== 'udp' || p.internal === false || (p.ok ?? 0) >= p.sent) return false;
    if (p.role === 'coredns-endpoint') {
      const n = epNode.get(p.server);
      if (!n || n === p.host) return false;
    } else if (p.role !== 'coredns-service') return false;
    return probes.some(
      (q) =>
        q.transport === 'tcp' &&
        q.host === p.host &&
        q.role === p.role &&
        q.server === p.server &&
        q.name === p.name &&
        q.type === p.type &&
        (q.ok ?? 0) === q.sent &&
        q.sent > 0,
    );
  });
}

/** Read the pod namespaces again on the nodes hosting CoreDNS endpoints that read them in the probe
 *  window (python3 there), and file the later reading as the window's end for those counters
 *  (`Netns.recounted` marks it). Errors leave the first reading in place. */
export async function recountPodNamespaces(
  states: RecountState[],
  lookup: EndpointLookup,
  cluster: ClusterModel,
): Promise<void> {
  const subnets = cluster.podsSubnets ?? [];
  if (!subnets.length || !(lookup.endpoints ?? []).length) return;
  // the node's own probes (a pod's cross the same overlay, but the window is the nodes')
  if (
    !udpLostAcrossOverlay(
      states.flatMap((s) => s.probes.filter((p) => p.from !== 'pod')),
      lookup,
    )
  )
    return;
  const hosting = new Set((lookup.endpoints ?? []).map((e) => e.nodeName).filter((n): n is string => !!n));
  const script = podCountersScript(subnets);
  await Promise.all(
    states
      .filter(
        (s) => hosting.has(s.target.name) && s.session && !s.error && s.before && s.after && 'Netns.pods' in s.after,
      )
      .map(async (s) => {
        try {
          const r = await s.session!.exec(script, { timeoutMs: RECOUNT_TIMEOUT_MS, label: 'podcounters' });
          if (r.code !== 0) return;
          const late = parsePodCounters(r.stdout);
          if (!('Netns.pods' in late)) return;
          s.before = { ...s.before!, 'Netns.recounted': 0 };
          s.after = { ...s.after!, ...late, 'Netns.recounted': 1 };
        } catch {
          // the first reading stands
        }
      }),
  );
}
