// A node's one round trip: the root check, everything the registered readers read, the kernel
// counters, the DNS probes (the endpoint probes streamed in while it runs), the counters again —
// one command, its output split at markers and parsed. Pure but for building the probe program.
import type { Reader, ReaderContext } from '../checks/module.js';
import { gatherScript, parseGather } from '../collect/gather.js';
import { parseCounters, podKey } from '../collect/counters.js';
import type { PodOutcome } from '../probe/pod.js';
import { rootProblem } from '../transport/ssh.js';
import type { Counters, ExecResult, NodeFacts, ProbeResult, Target } from '../types.js';
import { isParseError } from '../types.js';
import type { ProbeProgram } from '../probe/program.js';
import type { TransportError } from '../errors.js';

// the effective uid without starting a process (`id -u` where /proc is missing)
const UID_SH =
  'u=; while read -r k r e x; do if [ "$k" = Uid: ]; then u=$e; break; fi; done 2>/dev/null </proc/self/status; if [ -n "$u" ]; then echo "$u"; else id -u; fi';
export const MARK = {
  uid: '#KSV-UID',
  gather: '#KSV-GATHER',
  before: '#KSV-COUNTERS-BEFORE',
  probes: '#KSV-PROBES',
  after: '#KSV-COUNTERS-AFTER',
  pod: '#KSV-POD',
};
/** the pod side's section and its program's own markers (probe/pod.ts) */
export const POD_MARK = {
  section: MARK.pod,
  before: '#KSV-POD-BEFORE',
  probes: '#KSV-POD-PROBES',
  after: '#KSV-POD-AFTER',
};

/** Split the node's round trip output at its markers (a missing part is an empty string). */
export function splitMarked(stdout: string): {
  uid: string;
  gather: string;
  before: string;
  probes: string;
  after: string;
  pod: string;
} {
  const order = [MARK.uid, MARK.gather, MARK.before, MARK.probes, MARK.after, MARK.pod];
  const pos = order.map((m) => stdout.indexOf(`${m}\n`));
  const part = (k: number) => {
    const start = pos[k]!;
    if (start < 0) return '';
    const from = start + order[k]!.length + 1;
    const next = pos.slice(k + 1).find((x) => x > start);
    return stdout.slice(from, next ?? undefined);
  };
  return { uid: part(0), gather: part(1), before: part(2), probes: part(3), after: part(4), pod: part(5) };
}

/** The command: root check, the readers' gather script, then the probe program (which prints the
 *  counters around the probes with the markers). */
export function roundTripScript(readers: readonly Reader[], ctx: ReaderContext, probe: ProbeProgram | null): string {
  return [
    `echo '${MARK.uid}'`,
    UID_SH,
    `echo '${MARK.gather}'`,
    gatherScript(readers, ctx),
    ...(probe ? [probe.script] : []),
  ].join('\n');
}

export interface NodeOutcome {
  facts: NodeFacts;
  before: Counters | null;
  after: Counters | null;
  /** the node's probes, then those from its pod's namespace (`from: "pod"`) */
  probes: ProbeResult[];
}

/** The pod namespace's own Tcp/Udp counters, filed with the node's under its address as the pod
 *  namespaces' are (`Pod.<addr>.<counter>`, collect/counters.ts) where the node's reading has no
 *  such key: checksum errors counted inside the pod are evidence for the offload diagnoses too.
 *  The readings are the round trip's own (just parsed): they are added to in place. */
function withPodCounters(
  before: Counters | null,
  after: Counters | null,
  pod: PodOutcome,
): [Counters | null, Counters | null] {
  if (!before || !after || !pod.before || !pod.after || !pod.netns) return [before, after];
  const b = before;
  const a = after;
  for (const addr of pod.netns.addresses) {
    for (const k in pod.after) {
      if (!k.startsWith('Tcp.') && !k.startsWith('Udp.')) continue;
      const key = podKey(addr, k);
      const was = pod.before[k];
      if (typeof was !== 'number' || key in b || key in a) continue;
      b[key] = was;
      a[key] = pod.after[k]!;
    }
  }
  return [b, a];
}

function counters(text: string): Counters | null {
  const c = parseCounters(text);
  return isParseError(c) ? null : c;
}

/** The parsed round trip, or the reason the node does not count as inspected (not root). */
export function parseRoundTrip(
  target: Target,
  r: ExecResult,
  readers: readonly Reader[],
  ctx: ReaderContext,
  probe: ProbeProgram | null,
): NodeOutcome | TransportError {
  const parts = splitMarked(r.stdout);
  const notRoot = rootProblem(target, r.code === null ? null : 0, parts.uid, r.stderr);
  if (notRoot) return notRoot;
  const facts = parseGather(target.name, parts.gather, readers, ctx);
  const before = counters(parts.before);
  const after = counters(parts.after);
  facts.counters = before ?? {
    parseError: probe ? 'could not read /proc/net/snmp before the probes' : 'not read: no probes ran',
  };
  const probes = probe ? probe.decode(target.name, parts.probes) : [];
  // the pod side: absent from a recording made before it existed (the facts then say nothing)
  if (!probe || !r.stdout.includes(`${MARK.pod}\n`)) return { facts, before, after, probes };
  const pod = probe.decodePod(target.name, parts.pod);
  facts.podProbe = { netns: pod.netns, skipped: pod.skipped, error: pod.error };
  const [b, a] = withPodCounters(before, after, pod);
  return { facts, before: b, after: a, probes: [...probes, ...pod.probes] };
}
