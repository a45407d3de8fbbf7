// The validate and replay commands: plan (or read a bundle), pick the environment (SSH live,
// recorded with --record, or a bundle played back), run the Validator, race it against SIGINT/
// SIGTERM. The pipeline itself lives in run/.
import { plan, type PlanInput } from './run/prepare.js';
import { Validator, type RunOptions } from './run/validator.js';
import { selectChecks } from './checks/registry.js';
import { Progress, type ProgressMode } from './report/progress.js';
import { liveEnv, sshTransport, type RunEnv } from './transport/transport.js';
import {
  Player,
  Recorder,
  readBundle,
  replayTarget,
  writeBundle,
  type Bundle,
  type RecordedOptions,
} from './record/bundle.js';
import type { Report } from './types.js';
import { firstLine } from './errors.js';

export interface ValidateOptions extends PlanInput {
  knownHosts: string;
  hostKeyChecking: 'strict' | 'accept-new' | 'off';
  forks: number;
  timeoutSec: number;
  probeCount: number;
  probeTimeoutMs: number;
  externalName: string | null;
  strict: boolean;
  fix: boolean;
  progress: ProgressMode;
  checks?: string[];
  skips?: string[];
  /** write a capture bundle here */
  record?: string;
  /** --pod-probes create: make a pod to probe from on nodes without one */
  podProbes?: 'existing' | 'create';
  podImage?: string;
  signal?: AbortSignal;
}

/** Runs the validator and races it against the abort signal (a partial report on abort). */
// on a signal, the pods made by --pod-probes create are deleted within this (the CLI ends the
// process 2 s after the signal whatever happens)
const SHUTDOWN_MS = 1500;

async function runRace(v: Validator, signal: AbortSignal | undefined, onAbort?: () => void): Promise<Report> {
  if (signal?.aborted) {
    const r = v.partial(String(signal.reason ?? 'interrupted'));
    onAbort?.();
    await v.shutdown(SHUTDOWN_MS);
    return r;
  }
  let listener = () => {};
  let cut = false;
  const aborted = new Promise<Report>((resolve) => {
    listener = () => {
      cut = true;
      const r = v.partial(String(signal?.reason ?? 'interrupted'));
      // what the closed connections report after this is not part of the run
      onAbort?.();
      void v.shutdown(SHUTDOWN_MS).then(() => resolve(r));
    };
    signal?.addEventListener('abort', listener, { once: true });
  });
  try {
    const r = await Promise.race([v.run(), aborted]);
    // closing the connections on a signal may let the run itself finish first, its nodes cut off:
    // the run was still interrupted, and it ends once the shutdown (the probe pods' deletion) is done
    return cut ? await aborted : r;
  } finally {
    signal?.removeEventListener('abort', listener);
  }
}

export async function validate(opts: ValidateOptions): Promise<Report> {
  const selection = selectChecks(opts.checks, opts.skips);
  const p = plan(opts);
  const live = liveEnv(
    sshTransport({
      timeoutMs: opts.timeoutSec * 1000,
      knownHostsFile: opts.knownHosts,
      hostKeyChecking: opts.hostKeyChecking,
      agentSocket: process.env.SSH_AUTH_SOCK ?? null,
      execTimeoutMs: 60_000,
      checkRoot: false,
    }),
  );
  const recorder = opts.record ? new Recorder(live) : null;
  const env: RunEnv = recorder ? recorder.env() : live;
  const runOpts: RunOptions = {
    forks: opts.forks,
    probeCount: opts.probeCount,
    probeTimeoutMs: opts.probeTimeoutMs,
    externalName: opts.externalName,
    strict: opts.strict,
    fix: opts.fix,
    selection,
    podProbes: opts.podProbes,
    podImage: opts.podImage,
  };
  const v = new Validator(runOpts, p, env, new Progress(opts.progress, opts.forks));
  const report = await runRace(v, opts.signal, () => recorder?.freeze());
  if (v.pods && v.podsLeft)
    process.stderr.write(
      `kubespray-validate: the probe pods (-n default -l kubespray-validate/run=${v.pods.run}) may be left: ${v.podsLeft}; each stops by itself within 10 minutes (activeDeadlineSeconds)\n`,
    );
  if (recorder && opts.record) {
    recorder.freeze();
    const options: RecordedOptions = {
      limit: opts.limit ?? null,
      probeCount: opts.probeCount,
      probeTimeoutMs: opts.probeTimeoutMs,
      externalName: opts.externalName,
      strict: opts.strict,
      fix: opts.fix,
      forks: opts.forks,
      checks: opts.checks ?? [],
      skips: opts.skips ?? [],
      podProbes: opts.podProbes ?? 'existing',
      podImage: opts.podImage ?? null,
    };
    try {
      writeBundle(
        opts.record,
        recorder.bundle({
          options,
          cluster: p.cluster,
          targets: p.targets,
          controlPlane: p.controlPlane,
          interrupted: report.interrupted ?? null,
        }),
        report,
      );
    } catch (err) {
      process.stderr.write(`kubespray-validate: could not write --record ${opts.record}: ${firstLine(err)}\n`);
    }
  }
  return report;
}

export interface ReplayOptions {
  progress: ProgressMode;
  /** override the recorded --strict */
  strict?: boolean;
}

/** Re-run checks, diagnoses and the report from a bundle, connecting to nothing. */
export async function replay(dir: string, o: ReplayOptions): Promise<{ report: Report; bundle: Bundle }> {
  const b = readBundle(dir);
  const rec = b.options;
  const selection = selectChecks(rec.checks, rec.skips);
  const player = new Player(b);
  // a bundle from another version: read only what its round trips ran
  const trips = Object.values(b.nodes).flatMap((n) => n.execs.filter((e) => e.label === 'roundtrip'));
  const commands = trips.map((e) => e.command);
  const printed = (section: string) =>
    trips.some(
      (e) =>
        e.result.ok && (e.result.stdout.includes(`\n@@${section}\n`) || e.result.stdout.includes(`\n@@${section} `)),
    );
  const recordedCommand = (script: string, sections: readonly string[] = []) =>
    !commands.length || commands.some((c) => c.includes(script)) || sections.some(printed);
  const runOpts: RunOptions = {
    forks: rec.forks,
    probeCount: rec.probeCount,
    probeTimeoutMs: rec.probeTimeoutMs,
    externalName: rec.externalName,
    strict: o.strict ?? rec.strict,
    fix: rec.fix,
    selection,
    recordedCommand,
    podProbes: rec.podProbes,
    podImage: rec.podImage ?? undefined,
    replay: true,
  };
  const p = {
    cluster: b.cluster,
    targets: b.targets.map(replayTarget),
    controlPlane: b.controlPlane.map(replayTarget),
  };
  const v = new Validator(runOpts, p, player.env(), new Progress(o.progress, rec.forks));
  // an interrupted recording ends where the live run was cut short: once everything it holds was
  // played, the same signal
  const abort = new AbortController();
  if (b.interrupted) void player.drained.then(() => abort.abort(b.interrupted));
  const report = await runRace(v, abort.signal);
  return { report, bundle: b };
}
