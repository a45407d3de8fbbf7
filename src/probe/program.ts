// Assembly of what a node runs in its one round trip: the probe program (src/probe/node/probe.py
// where python3 is present — every Ansible-managed node has it —, else probe.sh, bash's /dev/udp and
// /dev/tcp with coreutils) with its arguments, the probe lines the DNS encoder built on its stdin,
// and the kernel counters read around the probes. Every path runs in parallel, its probes one after
// another, each bounded by the probe timeout. Every value given to the node's shell is quoted by
// shQuote; the program texts are inlined at build time (programs.gen.ts).
import type { ProbeResult } from '../types.js';
import type { ProbePath } from './paths.js';
import { shQuote } from '../transport/quote.js';
import { countersScript } from '../collect/counters.js';
import { isIP, parseCidr } from '../inventory/validate.js';
import { NO_PYTHON, parsePodSection, type PodOutcome } from './pod.js';
import { probeEncoder } from './dns-wire.js';
import { POD_COUNTERS_PY, PROBE_PY, PROBE_SH } from './programs.gen.js';

export interface ProbeOptions {
  count: number;
  timeoutMs: number;
  /** 'auto' (python3 when present, else bash) or force one; tests use 'bash' */
  runner?: 'auto' | 'bash' | 'python3';
  /** print these markers with the kernel counters (/proc/net/snmp, netstat) before and after the probes */
  markers?: { before: string; probes: string; after: string };
  /** first DNS id (the rest follow); random when not given. A replay passes the recorded one. */
  idSeed?: number;
  /** wait up to this long for more paths on fd 4 (extend()), ended by a line END; 0: none */
  lateWaitMs?: number;
  /** more files read with the counters (collect/counters.ts: counterFiles) */
  counterFiles?: { section: string; path: string }[];
  /** the pods' subnets (kube_pods_subnet): with them the python prober also reads the UDP/TCP
   *  counters of the node's pod network namespaces around the probes (node/pod_netns.py) */
  podSubnets?: string[];
  /** also probe from one of the node's pod network namespaces (needs markers and podSubnets; python3
   *  only): the same paths, encoded by a second encoder with its own ids, run by the same program
   *  started under nsenter in that namespace (node/pod_probe.py: start_pod). Decoded by decodePod(). */
  pod?: PodProbeOptions;
}

export interface PodProbeOptions {
  /** first DNS id of the pod side (a replay passes the recorded one) */
  idSeed?: number;
  /** the markers of the pod section and of the pod program's own counters and probes */
  markers: { section: string; before: string; probes: string; after: string };
  /** pod addresses to probe from when the node has them (pods created by --pod-probes create) */
  prefer?: string[];
}

/** The pod namespaces' counters read once more, as a command of their own (python3 only): a node's
 *  own window closes when its probes end, while another node's queries to its CoreDNS pod may still
 *  be arriving (run/recount.ts). node/pod_counters.py; read-only, like the probe program. */
export function podCountersScript(podSubnets: string[]): string {
  const subnets = podSubnets
    .map((x) => parseCidr(x))
    .filter((x) => x !== null)
    .map((x) => `${x.address}/${x.prefix}`);
  return `python3 -I -S -c ${shQuote(POD_COUNTERS_PY)} ${shQuote(subnets.join(',') || '-')}`;
}

export interface ProbeProgram {
  script: string;
  /** Paths found while the program runs (lateWaitMs > 0): the lines to write to its fd 4, END included. */
  extend(paths: ProbePath[]): string;
  decode(host: string, stdout: string): ProbeResult[];
  /** The pod side's section of the output (from its section marker on; see probe/pod.ts). */
  decodePod(host: string, section: string): PodOutcome;
}

export function probeScript(initial: ProbePath[], o: ProbeOptions): ProbeProgram {
  const own = probeEncoder(o.count, o.idSeed);
  const m = o.markers;
  // the pod side needs the markers (its output is cut out of the node's by them)
  const pod = o.pod && m ? probeEncoder(o.count, o.pod.idSeed) : null;
  const lines = [...own.encode(initial), ...(pod ? pod.encode(initial).map((l) => `P ${l}`) : [])];
  // the pod's lines first: the node's program stops relaying at END
  const extend = (more: ProbePath[]) =>
    [...(pod ? pod.encode(more).map((l) => `P ${l}`) : []), ...own.encode(more), 'END'].join('\n') + '\n';
  const input = lines.join('\n');
  const t = `${o.timeoutMs} ${Math.max(0, Math.round(o.lateWaitMs ?? 0))}`;
  const runner = o.runner ?? 'auto';
  const pyTest = runner === 'bash' ? 'false' : runner === 'python3' ? 'true' : 'command -v python3 >/dev/null 2>&1';
  const files = o.counterFiles ?? [];
  const subnets = (o.podSubnets ?? [])
    .map((x) => parseCidr(x))
    .filter((x) => x !== null)
    .map((x) => `${x.address}/${x.prefix}`);
  const pm = pod ? o.pod!.markers : null;
  const prefer = (o.pod?.prefer ?? []).filter((x) => isIP(x));
  const podSpec = pm ? [pm.section, pm.before, pm.probes, pm.after, prefer.join(',')].join('|') : '-';
  const marks = m
    ? ` ${shQuote(m.before)} ${shQuote(m.probes)} ${shQuote(m.after)} ${shQuote(subnets.join(',') || '-')} ${shQuote(podSpec)}${files.map((f) => ` ${shQuote(`@@${f.section}`)} ${shQuote(f.path)}`).join('')}`
    : '';
  const shCounters = countersScript(files);
  const script = [
    `if ${pyTest}; then python3 -I -S -c ${shQuote(PROBE_PY)} ${t}${marks} 4<&0 <<'KSV_PROBES'`,
    input,
    'KSV_PROBES',
    'else',
    ...(m ? [`echo ${shQuote(m.before)}`, shCounters, `echo ${shQuote(m.probes)}`] : []),
    `bash -c ${shQuote(PROBE_SH)} probe ${t} 4<&0 <<'KSV_PROBES'`,
    input,
    'KSV_PROBES',
    ...(m ? [`echo ${shQuote(m.after)}`, shCounters] : []),
    ...(pm ? [`echo ${shQuote(pm.section)}`, `echo ${shQuote(`none ${NO_PYTHON}`)}`] : []),
    'fi',
  ].join('\n');
  const decodePod = (host: string, section: string): PodOutcome =>
    parsePodSection(host, section, pm, (h, out) => (pod ? pod.decode(h, out, 'pod') : []));
  return { script, extend, decode: (host, stdout) => own.decode(host, stdout), decodePod };
}
