// A synthetic cluster of N nodes answered from a recorded bundle: the whole validator (connect,
// round trip, parse, checks, diagnoses, the three reports and a comparison) runs against a
// transport that answers every node as one of the bundle's nodes did, renumbered per node, after a
// latency drawn from the bundle's own timings. Nothing leaves this process: no socket is opened.
//
//   node --import tsx bench/synthetic.ts --nodes 5000 --forks 200 [--bundle DIR] [--progress plain]
//
// Node k (0-based) is the bundle's node k for k < the bundle's node count (they keep their names,
// addresses and CoreDNS pods: the endpoint lookup answers as recorded); every further node copies
// a recorded worker (not a control-plane node) in turn and gets its own name (`node<k+1>`), its own
// address (198.18.1.0 + k)
// and its own /30 of pod addresses (198.19.0.0 + 4k, the pods' subnet widened to 198.19.0.0/16),
// so no two nodes claim one address. The CoreDNS endpoints stay the recorded ones: every copy probes
// the same pods, as every node of a real cluster does. Prints one JSON line on stdout: the counters
// the bench reads (peak sessions open at once, report sizes, exit code).
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBundle, replayTarget, type Bundle, type RecordedExec, type RecordedTarget } from '../src/record/bundle.js';
import { Validator, type RunOptions } from '../src/run/validator.js';
import { selectChecks } from '../src/checks/registry.js';
import { Progress, type ProgressMode } from '../src/report/progress.js';
import { renderHuman } from '../src/report/human.js';
import { writeJsonFile } from '../src/report/json.js';
import { renderJunit } from '../src/report/junit.js';
import { compareReports } from '../src/compare/index.js';
import { TransportError } from '../src/errors.js';
import type { RunEnv, Transport } from '../src/transport/transport.js';
import type { ExecOptions, ExecResult, NodeSession, Target } from '../src/types.js';

/** mulberry32: a seeded draw, so two runs of one size see the same latencies */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ip4 = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const str4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const POD_BASE = ip4('198.19.0.0');
const NODE_BASE = ip4('198.18.1.0');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface SyntheticNode {
  target: RecordedTarget;
  /** the recorded node it answers as */
  like: string;
  /** recorded text -> this node's text, applied to every output */
  renumber: (text: string) => string;
}

export interface Synthetic {
  bundle: Bundle;
  nodes: SyntheticNode[];
  env: RunEnv;
  /** sessions open now and at most at once (what file descriptors a live run would hold) */
  open: { now: number; peak: number; total: number };
}

/** The per-node renaming: the node's address, and every pod address in its recorded /30 (the
 *  CoreDNS endpoints' addresses stay as probe targets; only where the node names its own pod
 *  namespace — `ns` and `@@podsnmp` lines — does an endpoint address become the copy's own). */
function renumberer(from: RecordedTarget, toAddress: string, fromIndex: number, k: number, endpoints: Set<string>) {
  if (fromIndex === k) return (t: string) => t;
  const own = new Map<string, string>([[from.address, toAddress]]);
  const ownPod = new Map<string, string>();
  for (let o = 0; o < 4; o++) {
    const a = str4(POD_BASE + 4 * fromIndex + o);
    const b = str4(POD_BASE + 4 * k + o);
    if (endpoints.has(a)) ownPod.set(a, b);
    else own.set(a, b);
  }
  const re = new RegExp(`(?<![\\d.])(${[...own.keys()].map(escape).join('|')})(?![\\d])`, 'g');
  const podRe = ownPod.size
    ? new RegExp(`^((?:ns |@@podsnmp ).*?)(?<![\\d.])(${[...ownPod.keys()].map(escape).join('|')})(?![\\d])`, 'gm')
    : null;
  return (t: string) => {
    let s = t.replace(re, (m) => own.get(m) ?? m);
    if (podRe) s = s.replace(podRe, (_m, pre: string, a: string) => pre + (ownPod.get(a) ?? a));
    return s;
  };
}

export function synthesize(b: Bundle, n: number, seed = 1): Synthetic {
  const rec = b.targets;
  if (!rec.length) throw new Error('the bundle has no nodes');
  const endpointExec = Object.values(b.nodes)
    .flatMap((x) => x.execs)
    .find((e) => e.label === 'endpoints');
  const endpoints = new Set(
    endpointExec && endpointExec.result.ok ? (endpointExec.result.stdout.match(/198\.19\.\d+\.\d+/g) ?? []) : [],
  );
  // copies are of the recorded nodes that are not control-plane nodes: the first of those carries
  // the run's one-off extras in its round trip (the wildcard search-domain probes), numbered into its
  // probe paths
  const cp = new Set(b.controlPlane.map((t) => t.name));
  const pool = rec.map((t, i) => (cp.has(t.name) ? -1 : i)).filter((i) => i >= 0);
  if (!pool.length) pool.push(...rec.map((_t, i) => i));
  const nodes: SyntheticNode[] = [];
  for (let k = 0; k < n; k++) {
    const i = k < rec.length ? k : pool[(k - rec.length) % pool.length]!;
    const from = rec[i]!;
    const target = k < rec.length ? from : { ...from, name: `node${k + 1}`, address: str4(NODE_BASE + k) };
    nodes.push({ target, like: from.name, renumber: renumberer(from, target.address, i, k, endpoints) });
  }
  const byName = new Map(nodes.map((x) => [x.target.name, x]));
  const draw = prng(seed);
  const connectMs = Object.values(b.nodes)
    .map((x) => x.connect?.ms)
    .filter((x): x is number => typeof x === 'number');
  const pick = <T>(xs: T[]) => xs[Math.floor(draw() * xs.length)]!;
  const open = { now: 0, peak: 0, total: 0 };
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  // the recorded seeds, drawn in inventory order: node k draws what its recorded node drew; the
  // draws after them (the wildcard search-domain names) are the recorded ones after the seeds
  let randomAt = 0;
  const random = () => {
    const k = randomAt++;
    const i = k < n ? rec.findIndex((t) => t.name === nodes[k]!.like) : rec.length + (k - n);
    return b.random[i] ?? draw();
  };

  const session = (target: Target, node: SyntheticNode): NodeSession => {
    const recorded = b.nodes[node.like]!;
    const used = new Map<string, number>();
    let closed = false;
    return {
      target,
      close: () => {
        if (closed) return;
        closed = true;
        open.now--;
      },
      exec: async (_command: string, opts: ExecOptions = {}): Promise<ExecResult> => {
        if (closed) throw new TransportError('disconnected', `connection to ${target.name} closed`);
        const label = opts.label ?? 'command';
        const at = used.get(label) ?? 0;
        const r: RecordedExec | undefined = recorded.execs.filter((e) => e.label === label)[at];
        // a command the recorded node never ran (a step its run did not need): it fails at once
        if (!r) throw new TransportError('disconnected', `${node.like} ran no ${label} command in the recording`);
        used.set(label, at + 1);
        await Promise.all([sleep(r.ms), opts.input?.catch(() => undefined)]);
        if (!r.result.ok)
          throw new TransportError(r.result.kind === 'error' ? 'disconnected' : r.result.kind, r.result.message);
        return { code: r.result.code, stdout: node.renumber(r.result.stdout), stderr: node.renumber(r.result.stderr) };
      },
    };
  };

  const transport: Transport = {
    connect: async (target) => {
      const node = byName.get(target.name);
      const c = node ? b.nodes[node.like]?.connect : null;
      if (!node || !c) throw new TransportError('unreachable', `${target.name}: not in the synthetic cluster`);
      await sleep(c.ok ? pick(connectMs) : c.ms);
      if (!c.ok) throw new TransportError(c.kind === 'error' ? 'unreachable' : c.kind, c.message);
      open.now++;
      open.total++;
      open.peak = Math.max(open.peak, open.now);
      return session(target, node);
    },
  };
  return {
    bundle: b,
    nodes,
    open,
    env: { transport, now: () => Date.now(), random, sleep },
  };
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

async function main(): Promise<void> {
  const dir = arg('bundle', join(import.meta.dirname, '..', 'test', 'fixtures', 'bundles', 'healthy'));
  const n = Number(arg('nodes', '1000'));
  const forks = Number(arg('forks', '50'));
  const mode = arg('progress', 'plain') as ProgressMode;
  const b = readBundle(dir);
  const syn = synthesize(b, n);
  const cluster = { ...b.cluster, podsSubnets: ['198.19.0.0/16'], nodes: syn.nodes.map((x) => x.target.name) };
  const p = {
    cluster,
    targets: syn.nodes.map((x) => replayTarget(x.target)),
    controlPlane: b.controlPlane.map(replayTarget),
  };
  const rec = b.options;
  const opts: RunOptions = {
    forks,
    probeCount: rec.probeCount,
    probeTimeoutMs: rec.probeTimeoutMs,
    externalName: rec.externalName,
    strict: rec.strict,
    fix: false,
    selection: selectChecks(rec.checks, rec.skips),
    podProbes: 'existing',
  };
  let peakHeap = 0;
  const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 50);
  const t0 = performance.now();
  const report = await new Validator(opts, p, syn.env, new Progress(mode, forks)).run();
  const tRun = performance.now();
  // with --expose-gc: what the run keeps (not what it has not collected yet)
  (globalThis as { gc?: () => void }).gc?.();
  const heapAfterRun = process.memoryUsage().heapUsed;
  const only = arg('reports', 'json,human,junit,compare').split(',');
  const work = mkdtempSync(join(tmpdir(), 'ksv-synthetic-'));
  try {
    const lap = (() => {
      let t = performance.now();
      return () => {
        const now = performance.now();
        const d = +((now - t) / 1000).toFixed(2);
        t = now;
        return d;
      };
    })();
    // as the CLI writes --report: in pieces, never one string
    writeJsonFile(report, join(work, 'report.json'));
    const jsonBytes = statSync(join(work, 'report.json')).size;
    const jsonS = lap();
    const human = only.includes('human')
      ? renderHuman(report, { color: false, strict: rec.strict, verbose: false })
      : '';
    const humanS = lap();
    const junit = only.includes('junit') ? renderJunit(report, rec.strict) : '';
    const junitS = lap();
    // --baseline: the run compared with an earlier one (here: itself, read back)
    const cmp = only.includes('compare')
      ? compareReports(JSON.parse(readFileSync(join(work, 'report.json'), 'utf8')) as typeof report, report)
      : null;
    const compareS = lap();
    process.stdout.write(
      JSON.stringify({
        nodes: n,
        forks,
        exitCode: report.summary.exitCode,
        inspected: report.hosts.filter((h) => h.inspected).length,
        diagnoses: report.diagnoses.length,
        results: report.results.length,
        probes: report.probes.length,
        peakSessions: syn.open.peak,
        sessions: syn.open.total,
        jsonMiB: +(jsonBytes / 2 ** 20).toFixed(1),
        humanLines: human.split('\n').length,
        junitMiB: +(junit.length / 2 ** 20).toFixed(1),
        regressions: cmp?.regressions.length ?? null,
        runS: +((tRun - t0) / 1000).toFixed(2),
        heapAfterRunMiB: Math.round(heapAfterRun / 2 ** 20),
        peakHeapMiB: Math.round(peakHeap / 2 ** 20),
        rssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        reportS: +((performance.now() - tRun) / 1000).toFixed(2),
        jsonS,
        humanS,
        junitS,
        compareS,
      }) + '\n',
    );
  } finally {
    clearInterval(sampler);
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((err) => {
    process.stderr.write(`synthetic: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
