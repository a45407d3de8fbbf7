// Capture bundles (--record DIR) and their replay (`kubespray-validate replay DIR`). A bundle holds
// what a run saw, raw: per node the connection outcome and every command's output, exit code and
// timing; the endpoint lookup (it is a command on a control-plane node like the others); the
// resolved cluster model and options; the values the run read from the clock and the random
// source; and the report it printed. Never a password, key or vault value: targets keep only
// name, address, port, user and whether sudo was used; command lines and outputs carry no secret
// (the become password travels on stdin and is not recorded; stderr is redacted by the transport).
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type {
  ClusterModel,
  ExecOptions,
  ExecResult,
  NodeSession,
  Report,
  Target,
  TransportErrorKind,
} from '../types.js';
import { TransportError, UsageError, firstLine } from '../errors.js';
import type { RunEnv, Transport } from '../transport/transport.js';
import { VERSION } from '../version.js';

export const BUNDLE_FORMAT = 'kubespray-validate-bundle';
export const BUNDLE_VERSION = 1;

export interface RecordedOptions {
  limit: string | null;
  probeCount: number;
  probeTimeoutMs: number;
  externalName: string | null;
  strict: boolean;
  fix: boolean;
  forks: number;
  checks: string[];
  skips: string[];
  /** --pod-probes and --pod-image (absent in bundles from before them: existing) */
  podProbes?: 'existing' | 'create';
  podImage?: string | null;
}

export interface RecordedTarget {
  name: string;
  address: string;
  port: number;
  user: string;
  become: boolean;
}

type Outcome = { ok: true } | { ok: false; kind: TransportErrorKind | 'error'; message: string };

export interface RecordedExec {
  label: string;
  command: string;
  /** what was written to its stdin after it started (streamed probe lines), when anything was */
  input?: string;
  result: ({ ok: true } & ExecResult) | Extract<Outcome, { ok: false }>;
  ms: number;
}

export interface RecordedNode {
  connect: (Outcome & { ms: number }) | null;
  execs: RecordedExec[];
}

export interface Bundle {
  format: typeof BUNDLE_FORMAT;
  formatVersion: typeof BUNDLE_VERSION;
  tool: { name: 'kubespray-validate'; version: string };
  recordedAt: string;
  options: RecordedOptions;
  cluster: ClusterModel;
  targets: RecordedTarget[];
  controlPlane: RecordedTarget[];
  clock: number[];
  random: number[];
  interrupted: string | null;
  nodes: Record<string, RecordedNode>;
}

export function recordTarget(t: Target): RecordedTarget {
  return { name: t.name, address: t.address, port: t.port, user: t.user, become: t.become };
}

/** A Target to hand the pipeline in a replay: no key, no password, no jump host. */
export function replayTarget(t: RecordedTarget): Target {
  return {
    ...t,
    privateKeyFile: null,
    password: null,
    becomeMethod: 'sudo',
    becomeUser: 'root',
    becomePassword: null,
    jump: null,
    groups: [],
  };
}

function outcomeOf(err: unknown): Extract<Outcome, { ok: false }> {
  if (err instanceof TransportError) return { ok: false, kind: err.kind, message: err.message };
  return { ok: false, kind: 'error', message: firstLine(err) };
}

/** Wraps a live environment: every connection, command, clock reading and random draw is kept. */
export class Recorder {
  readonly nodes: Record<string, RecordedNode> = {};
  readonly clock: number[] = [];
  readonly random: number[] = [];
  private frozen = false;

  constructor(private readonly live: RunEnv) {}

  /** Stop recording (an interrupted run: what finishes after the report is not part of it). */
  freeze(): void {
    this.frozen = true;
  }

  private node(name: string): RecordedNode {
    return (this.nodes[name] ??= { connect: null, execs: [] });
  }

  env(): RunEnv {
    const transport: Transport = {
      connect: async (target) => {
        const t0 = Date.now();
        try {
          const s = await this.live.transport.connect(target);
          if (!this.frozen) this.node(target.name).connect = { ok: true, ms: Date.now() - t0 };
          return this.session(s);
        } catch (err) {
          if (!this.frozen) this.node(target.name).connect = { ...outcomeOf(err), ms: Date.now() - t0 };
          throw err;
        }
      },
    };
    return {
      transport,
      now: () => {
        const v = this.live.now();
        if (!this.frozen) this.clock.push(v);
        return v;
      },
      random: () => {
        const v = this.live.random();
        if (!this.frozen) this.random.push(v);
        return v;
      },
      sleep: (ms) => this.live.sleep(ms),
    };
  }

  private session(s: NodeSession): NodeSession {
    const node = this.node(s.target.name);
    return {
      target: s.target,
      close: () => s.close(),
      exec: async (command: string, opts: ExecOptions = {}) => {
        const t0 = Date.now();
        let input: string | undefined;
        const o = opts.input ? { ...opts, input: opts.input.then((x) => (input = x)) } : opts;
        const label = opts.label ?? 'command';
        try {
          const r = await s.exec(command, o);
          if (!this.frozen)
            node.execs.push({
              label,
              command,
              ...(input !== undefined ? { input } : {}),
              result: { ok: true, ...r },
              ms: Date.now() - t0,
            });
          return r;
        } catch (err) {
          if (!this.frozen)
            node.execs.push({
              label,
              command,
              ...(input !== undefined ? { input } : {}),
              result: outcomeOf(err),
              ms: Date.now() - t0,
            });
          throw err;
        }
      },
    };
  }

  bundle(meta: {
    options: RecordedOptions;
    cluster: ClusterModel;
    targets: Target[];
    controlPlane: Target[];
    interrupted: string | null;
  }): Bundle {
    return {
      format: BUNDLE_FORMAT,
      formatVersion: BUNDLE_VERSION,
      tool: { name: 'kubespray-validate', version: VERSION },
      recordedAt: new Date(this.clock[0] ?? Date.now()).toISOString(),
      options: meta.options,
      cluster: meta.cluster,
      targets: meta.targets.map(recordTarget),
      controlPlane: meta.controlPlane.map(recordTarget),
      clock: this.clock,
      random: this.random,
      interrupted: meta.interrupted,
      nodes: this.nodes,
    };
  }
}

export function writeBundle(dir: string, bundle: Bundle, report: Report): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle, null, 1) + '\n');
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
}

export function readBundle(dir: string): Bundle {
  const file = existsSync(join(dir, 'bundle.json')) ? join(dir, 'bundle.json') : dir;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `replay: cannot read ${file}${code === 'ENOENT' ? ': no such bundle (expected a directory written by --record)' : code === 'EISDIR' ? ': a directory without bundle.json' : `: ${code ?? firstLine(err)}`}`,
    );
  }
  let b: Bundle;
  try {
    b = JSON.parse(text) as Bundle;
  } catch {
    throw new UsageError(`replay: ${file} is not JSON`);
  }
  if (!b || typeof b !== 'object' || b.format !== BUNDLE_FORMAT)
    throw new UsageError(`replay: ${file} is not a kubespray-validate capture bundle`);
  if (b.formatVersion !== BUNDLE_VERSION)
    throw new UsageError(
      `replay: ${file} is bundle format ${String(b.formatVersion)}; this version reads format ${BUNDLE_VERSION}`,
    );
  for (const k of ['options', 'cluster', 'targets', 'controlPlane', 'clock', 'random', 'nodes'] as const) {
    if (!b[k] || typeof b[k] !== 'object') throw new UsageError(`replay: ${file} has no ${k}`);
  }
  return b;
}

/** An environment that plays a bundle back: connections and commands answer as recorded (matched
 *  per node, in order, by what the command was for), the clock and the random source give the
 *  recorded values, sleeps return at once. What was never recorded (a run interrupted before it)
 *  never answers; `drained` resolves once everything recorded has been handed out. */
export class Player {
  private readonly used = new Map<string, number>();
  private handed = 0;
  private readonly total: number;
  private clockAt = 0;
  private randomAt = 0;
  private onDrained: (() => void) | null = null;
  readonly drained: Promise<void>;

  constructor(private readonly b: Bundle) {
    this.total = Object.values(b.nodes).reduce((a, n) => a + (n.connect ? 1 : 0) + n.execs.length, 0);
    this.drained = new Promise((r) => (this.onDrained = r));
    if (!this.total) queueMicrotask(() => this.onDrained?.());
  }

  private handOut(): void {
    if (++this.handed >= this.total) setImmediate(() => this.onDrained?.());
  }

  env(): RunEnv {
    const b = this.b;
    const never = <T>() => new Promise<T>(() => undefined);
    const transport: Transport = {
      connect: async (target) => {
        const rec = b.nodes[target.name]?.connect;
        if (!rec) return never<NodeSession>();
        this.handOut();
        if (!rec.ok) throw new TransportError(rec.kind === 'error' ? 'unreachable' : rec.kind, rec.message);
        return this.session(target);
      },
    };
    return {
      transport,
      now: () => b.clock[Math.min(this.clockAt++, b.clock.length - 1)] ?? 0,
      random: () => b.random[Math.min(this.randomAt++, b.random.length - 1)] ?? 0,
      sleep: () => Promise.resolve(),
    };
  }

  private session(target: Target): NodeSession {
    const node = this.b.nodes[target.name]!;
    return {
      target,
      close: () => undefined,
      exec: async (_command: string, opts: ExecOptions = {}) => {
        const label = opts.label ?? 'command';
        const key = `${target.name}\u0000${label}`;
        const n = this.used.get(key) ?? 0;
        const rec = node.execs.filter((e) => e.label === label)[n];
        if (!rec) return new Promise<ExecResult>(() => undefined);
        this.used.set(key, n + 1);
        // a live command ends only after what it was waiting for on stdin was written
        if (opts.input && rec.input !== undefined) await opts.input.catch(() => undefined);
        this.handOut();
        if (!rec.result.ok)
          throw new TransportError(rec.result.kind === 'error' ? 'disconnected' : rec.result.kind, rec.result.message);
        return { code: rec.result.code, stdout: rec.result.stdout, stderr: rec.result.stderr };
      },
    };
  }
}
