// DNS as a pod sees it: what the probe program reports about the pod network namespace it probed
// from (probe/node/pod_probe.py), as data. A pod's query crosses what a query from the node
// never does: the pod's veth (cali…), Calico's workload-to-host policy, node-cache's NOTRACK rules
// in raw PREROUTING (the node's own queries take OUTPUT), and a host firewall that trusts lo and
// the NIC but not pod interfaces. Pure; never throws.
import type { Counters, ProbeResult } from '../types.js';
import { parseCounters } from '../collect/counters.js';
import { isIP } from '../inventory/validate.js';
import type { CreatedPod } from '../kubectl/pods.js';

/** The pod network namespace a node's pod-side probes ran in. */
export interface PodNetns {
  /** its name under /var/run/netns (containerd and CRI-O name them cni-<uuid>); null when unnamed */
  name: string | null;
  /** a process in it (the pod's pause process, typically) */
  pid: number;
  /** its addresses in the pods' subnets (kube_pods_subnet) */
  addresses: string[];
  /** the node's interface towards it (cali… for Calico, cni0 for a bridge), from the node's routes */
  hostIf: string | null;
  /** how the probe program got into it: `setns` (its own sockets made there, one process), or
   *  `nsenter (<why setns could not>)` (a second program); absent in recordings from before */
  entered?: string;
}

/** The pod side of a node's round trip, without its probes (those go with the node's, `from: "pod"`). */
export interface PodProbeFacts {
  netns: PodNetns | null;
  /** why no pod namespace was probed from: none on the node, no python3, no kube_pods_subnet */
  skipped: string | null;
  /** the pod-side program did not run through (nsenter failed, stopped past its time) */
  error: string | null;
  /** with --pod-probes create: the pod made for this node (or why none runs); absent otherwise */
  created?: CreatedPod;
}

export interface PodOutcome extends PodProbeFacts {
  probes: ProbeResult[];
  /** the pod namespace's own counters (/proc/net/snmp, netstat read inside it) around its probes */
  before: Counters | null;
  after: Counters | null;
}

declare module '../types.js' {
  interface NodeFacts {
    /** the pod side of the probes; absent when none was asked for (or a recording from before it) */
    podProbe?: PodProbeFacts;
  }
}

export const NO_PYTHON = "no python3 on the node: the probes from a pod's network namespace need the python prober";

export interface PodMarkers {
  section: string;
  before: string;
  probes: string;
  after: string;
}

const clean = (s: string) => s.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);

/** Cut `text` at `mark` lines: what lies between `from` and the next of `marks`. */
function between(text: string, from: string, marks: string[]): string | null {
  const lines = text.split('\n');
  const i = lines.indexOf(from);
  if (i < 0) return null;
  const rest = lines.slice(i + 1);
  const j = rest.findIndex((l) => marks.includes(l));
  return (j < 0 ? rest : rest.slice(0, j)).join('\n');
}

function counters(text: string | null): Counters | null {
  if (text === null) return null;
  const c = parseCounters(text);
  return 'parseError' in c ? null : c;
}

/** The pod section of a round trip (the text after its section marker): its header, the pod
 *  program's exit and its own output, decoded with the pod side's encoder. */
export function parsePodSection(
  host: string,
  section: string,
  m: PodMarkers | null,
  decode: (host: string, probes: string) => ProbeResult[],
): PodOutcome {
  const none = (skipped: string | null, error: string | null): PodOutcome => ({
    netns: null,
    skipped,
    error,
    probes: [],
    before: null,
    after: null,
  });
  if (!m) return none('not asked for', null);
  const lines = section.split('\n');
  const head = (lines[0] ?? '').trim();
  if (head.startsWith('none ')) return none(clean(head.slice(5)), null);
  const f = head.split(/\s+/);
  if (f[0] !== 'ns' || f.length < 5 || !/^\d+$/.test(f[2]!))
    return none(null, `the pod side printed no namespace (${clean(head) || 'no output'})`);
  const addresses = f[3]!.split(',').filter((a) => isIP(a));
  const netns: PodNetns = {
    name: f[1] === '-' ? null : clean(f[1]!),
    pid: Number(f[2]),
    addresses,
    hostIf: f[4] === '-' ? null : clean(f[4]!),
  };
  let exit: string | null = null;
  let note: string | null = null;
  let k = 1;
  for (; k < lines.length && k < 5; k++) {
    const l = lines[k]!;
    if (l.startsWith('exit ')) exit = l.slice(5).trim();
    else if (l.startsWith('how ')) netns.entered = clean(l.slice(4));
    else if (l.startsWith('note ')) note = clean(l.slice(5));
    else break;
  }
  const body = lines.slice(k).join('\n');
  const all = [m.before, m.probes, m.after];
  const probeText = between(body, m.probes, all);
  const probes =
    probeText === null ? [] : decode(host, probeText).map((p) => ({ ...p, netns: netns.name, podIp: addresses[0] }));
  const where = netns.name ?? `the network namespace of process ${netns.pid}`;
  let error: string | null = null;
  if (note) error = `the probe program in ${where}: ${note}`;
  else if (probeText === null || exit !== '0') {
    const said = body
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l && !all.includes(l) && !/^[RE] \d/.test(l) && !l.startsWith('@@'));
    error = `the probe program in ${where} ${exit && exit !== '-' ? `exited ${exit}` : 'did not finish'}${said ? `: ${clean(said)}` : ''}`;
  }
  return {
    netns,
    skipped: null,
    error,
    probes,
    before: counters(between(body, m.before, all)),
    after: counters(between(body, m.after, all)),
  };
}
