#!/usr/bin/env node
// yargs commands and options -> run -> exit code. Nothing else lives here.
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError, firstLine } from './errors.js';
import { isDomainName, isImageRef } from './inventory/validate.js';
import { VERSION_LINE } from './version.js';
import { EXIT } from './report/summary.js';

const PROG = 'kubespray-validate';

function fail(message: string): never {
  process.stderr.write(`${PROG}: error: ${firstLine(message)}\n`);
  process.exit(EXIT.usage);
}

function positiveInt(name: string, v: unknown, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be a whole number >= ${min} (got ${String(v)})`);
  return n;
}

/** An option given twice: the last one wins (as for ssh and ansible-playbook), except the
 *  repeatable -i and -e, which collect. */
function lastWins(argv: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(argv))
    out[k] =
      Array.isArray(v) && !['inventory', 'i', 'extra-vars', 'e', 'check', 'skip', '_'].includes(k)
        ? v[v.length - 1]
        : v;
  return out;
}

function externalName(v: unknown): string | null {
  if (v === undefined || v === '' || v === 'none') return v === undefined ? 'kubernetes.io' : null;
  const name = String(v).replace(/\.$/, '');
  if (!isDomainName(name) || !name.includes('.'))
    throw new UsageError(`--external-name "${name.slice(0, 80)}" is not a domain name`);
  return name;
}

/** ANSIBLE_HOST_KEY_CHECKING=False turns checking off, as it does for Ansible. */
function hostKeyChecking(flag: string | undefined): 'strict' | 'accept-new' | 'off' {
  if (flag) return flag as 'strict' | 'accept-new' | 'off';
  const env = process.env.ANSIBLE_HOST_KEY_CHECKING;
  if (env !== undefined && /^(false|no|0|off|n)$/i.test(env.trim())) return 'off';
  return 'accept-new';
}

function common(y: Argv) {
  return y
    .option('inventory', {
      alias: 'i',
      type: 'string',
      array: true,
      describe: 'inventory file or directory (repeatable)',
      requiresArg: true,
    })
    .option('extra-vars', {
      alias: 'e',
      type: 'string',
      array: true,
      describe: 'override inventory variables: k=v, JSON/YAML, or @file (repeatable)',
      requiresArg: true,
    })
    .option('limit', {
      alias: 'l',
      type: 'string',
      describe: 'Ansible host pattern: node1,node2 | kube_node | !etcd',
      requiresArg: true,
    });
}

/** --latency-factor and --latency-increase-ms: when a DNS path's p50 counts as a regression. */
function thresholds(argv: Record<string, unknown>): import('./types.js').Thresholds {
  const num = (name: string, min: number) => {
    const v = argv[name];
    const n = Number(v);
    if (typeof v === 'boolean' || !Number.isFinite(n) || n < min)
      throw new UsageError(`--${name} must be a number >= ${min} (got ${String(v)})`);
    return n;
  };
  return { latencyFactor: num('latency-factor', 1), latencyIncreaseMs: num('latency-increase-ms', 0) };
}

function compareOptions(y: Argv) {
  return y
    .option('latency-factor', {
      type: 'number',
      default: 3,
      describe: "a DNS path's p50 latency is a regression when it grew this many times …",
    })
    .option('latency-increase-ms', {
      type: 'number',
      default: 5,
      describe: '… and by more than this many milliseconds',
    });
}

function podImage(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!isImageRef(s))
    throw new UsageError(`--pod-image "${s.slice(0, 80)}" is not an image reference (registry/name:tag)`);
  return s;
}

/** SIGINT/SIGTERM: abort the run (a partial report is still written), a second one ends it. */
function onSignals(): AbortController {
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`${PROG}: interrupted (${sig}): closing connections, writing what was found so far\n`);
    abort.abort(sig);
    // a second signal, or a run that does not wind down at once, ends the process anyway
    setTimeout(() => process.exit(130), 2000).unref();
    process.once(sig, () => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return abort;
}

function progressMode(argv: Record<string, unknown>): 'tty' | 'plain' | 'none' {
  const interactive = Boolean(process.stderr.isTTY) && !process.env.CI && argv.progress !== 'plain';
  return argv.progress === 'none' || argv.quiet ? 'none' : interactive ? 'tty' : 'plain';
}

/** Where the report goes: the options of `validate` and `replay` alike. */
const REPORT_OPTIONS = {
  output: {
    alias: 'o',
    choices: ['human', 'json', 'junit'],
    default: 'human',
    describe: 'what goes to stdout',
  },
  report: { type: 'string', describe: 'also write the JSON report to FILE', requiresArg: true },
  html: {
    type: 'string',
    describe: 'also write a self-contained HTML page to FILE: diagnoses, fixes, the node x server DNS path matrix',
    requiresArg: true,
  },
} as const;

/** The run's exit code once its report is being printed (a closed pipe ends the process with it). */
let outcome: number = EXIT.usage;

/** Write the pieces to a stream, waiting while it is full (a pipe's reader is slower than the
 *  writer: the pieces would pile up in memory otherwise). */
async function writeOut(stream: NodeJS.WritableStream, pieces: Iterable<string>): Promise<void> {
  for (const piece of pieces) {
    if (stream.write(piece)) continue;
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off('drain', done);
        stream.off('close', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
    });
    if ((stream as { destroyed?: boolean }).destroyed) return;
  }
}

/** Write the report where asked and print it as asked; the exit code. */
async function output(
  report: import('./types.js').Report,
  argv: Record<string, unknown>,
  strict: boolean,
): Promise<number> {
  const { renderHuman } = await import('./report/human.js');
  const { jsonChunks, writeJsonFile } = await import('./report/json.js');
  const { renderJunit } = await import('./report/junit.js');
  if (argv.html) {
    const { renderHtml } = await import('./report/html.js');
    try {
      writeFileSync(String(argv.html), renderHtml(report));
    } catch (err) {
      process.stderr.write(`${PROG}: could not write --html ${String(argv.html)}: ${firstLine(err)}\n`);
    }
  }
  if (argv.report) {
    try {
      writeJsonFile(report, String(argv.report));
    } catch (err) {
      process.stderr.write(`${PROG}: could not write --report ${String(argv.report)}: ${firstLine(err)}\n`);
    }
  }
  outcome = report.interrupted ? 130 : report.summary.exitCode;
  const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  const out = String(argv.output ?? 'human');
  if (out === 'json') await writeOut(process.stdout, jsonChunks(report));
  else if (out === 'junit') process.stdout.write(renderJunit(report, strict));
  else process.stdout.write(renderHuman(report, { color, strict, verbose: Boolean(argv.verbose) }));
  return outcome;
}

const list = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String));

async function runValidate(argv: Record<string, unknown>): Promise<number> {
  // a bad --baseline is a usage error before anything connects
  const baseline =
    argv.baseline === undefined
      ? null
      : (await import('./compare/load.js')).readReport(String(argv.baseline), `--baseline ${String(argv.baseline)}`);
  const limits = thresholds(argv);
  const { validate } = await import('./validate.js');
  const strict = Boolean(argv.strict);
  const abort = onSignals();
  let report = await validate({
    inventory: (argv.inventory as string[] | undefined) ?? [],
    limit: argv.limit as string | undefined,
    user: argv.user as string | undefined,
    privateKey: argv['private-key'] as string | undefined,
    knownHosts: (argv['known-hosts'] as string | undefined) ?? join(homedir(), '.ssh', 'known_hosts'),
    hostKeyChecking: hostKeyChecking(argv['host-key-checking'] as string | undefined),
    forks: positiveInt('forks', argv.forks),
    timeoutSec: positiveInt('timeout', argv.timeout),
    probeCount: positiveInt('probe-count', argv['probe-count']),
    probeTimeoutMs: positiveInt('probe-timeout', argv['probe-timeout'], 50),
    extraVars: (argv['extra-vars'] as string[] | undefined) ?? [],
    externalName: externalName(argv['external-name']),
    strict,
    fix: Boolean(argv.fix),
    progress: progressMode(argv),
    checks: list(argv.check),
    skips: list(argv.skip),
    record: argv.record === undefined ? undefined : String(argv.record),
    podProbes: argv['pod-probes'] === 'create' ? 'create' : 'existing',
    podImage: podImage(argv['pod-image']),
    signal: abort.signal,
  });
  if (baseline) {
    const { compareReports, withComparison } = await import('./compare/index.js');
    report = withComparison(report, compareReports(baseline, report, limits), strict);
  }
  return output(report, argv, strict);
}

async function runReplay(argv: Record<string, unknown>): Promise<number> {
  const { replay } = await import('./validate.js');
  const dir = String(argv.bundle ?? '');
  if (!dir) throw new UsageError('replay needs the bundle directory written by --record DIR');
  const strict = argv.strict === undefined ? undefined : Boolean(argv.strict);
  const { report, bundle } = await replay(dir, { progress: progressMode(argv), strict });
  return output(report, argv, strict ?? bundle.options.strict);
}

async function runDiff(argv: Record<string, unknown>): Promise<number> {
  const { readReport } = await import('./compare/load.js');
  const { compareReports } = await import('./compare/index.js');
  const { renderComparison, when } = await import('./compare/render.js');
  const limits = thresholds(argv);
  const base = readReport(String(argv.old));
  const now = readReport(String(argv.new));
  const c = compareReports(base, now, limits);
  if (argv.output === 'json') process.stdout.write(JSON.stringify(c, null, 2) + '\n');
  else {
    const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
    const lines = renderComparison(c, color);
    lines.push(
      '',
      `${String(argv.new)} (${when(now.startedAt)}) against ${String(argv.old)}: ${c.regressions.length} regression(s), ${c.resolved.length} resolved — exit ${c.regressions.length ? 1 : 0}`,
    );
    process.stdout.write(lines.join('\n') + '\n');
  }
  return c.regressions.length ? 1 : 0;
}

async function runInventory(argv: Record<string, unknown>): Promise<number> {
  const { loadInventory } = await import('./inventory/load.js');
  const { parseExtraVars } = await import('./inventory/extra-vars.js');
  const { inventoryListing } = await import('./inventory/listing.js');
  const sources = (argv.inventory as string[] | undefined) ?? [];
  if (!sources.length) throw new UsageError('no inventory given: use -i PATH (file or directory)');
  const inv = loadInventory(sources, parseExtraVars((argv['extra-vars'] as string[] | undefined) ?? []));
  process.stdout.write(
    JSON.stringify(inventoryListing(inv, { showSecrets: Boolean(argv['show-secrets']) }), null, 4) + '\n',
  );
  return 0;
}

async function main(): Promise<void> {
  let code = EXIT.usage as number;
  // a reader that stops early (`| head`) closes the pipe: stop there, with no stack trace
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') process.stderr.write(`${PROG}: cannot write the output: ${firstLine(err)}\n`);
    process.exit(err.code === 'EPIPE' ? outcome : EXIT.usage);
  });
  const parser = yargs(hideBin(process.argv))
    .scriptName(PROG)
    .usage(
      `$0 [validate] -i INVENTORY [options]\n\nChecks a Kubespray cluster's node networking and DNS (NodeLocalDNS, CoreDNS, the Calico overlay) from every node, names the root cause and its fix, and exits 0 (all passed), 1 (a check failed), 2 (usage/inventory error) or 3 (a node could not be inspected).`,
    )
    .command(
      ['validate', '$0'],
      'validate the cluster (default command)',
      (y) =>
        compareOptions(common(y))
          .option('user', {
            alias: 'u',
            type: 'string',
            describe: 'remote user where the inventory sets none',
            requiresArg: true,
          })
          .option('private-key', {
            type: 'string',
            describe: 'SSH key where the inventory sets none (ssh-agent is used when SSH_AUTH_SOCK is set)',
            requiresArg: true,
          })
          .option('known-hosts', {
            type: 'string',
            describe: 'known_hosts file [default: ~/.ssh/known_hosts]',
            requiresArg: true,
          })
          .option('host-key-checking', {
            choices: ['strict', 'accept-new', 'off'],
            describe: 'host key policy [default: accept-new; ANSIBLE_HOST_KEY_CHECKING=False means off]',
          })
          .option('forks', { alias: 'f', type: 'number', default: 20, describe: 'nodes inspected at once' })
          .option('timeout', { type: 'number', default: 10, describe: 'SSH connect timeout, seconds' })
          .option('probe-count', { type: 'number', default: 5, describe: 'DNS probes per path' })
          .option('probe-timeout', { type: 'number', default: 1000, describe: 'per-probe timeout, milliseconds' })
          .option('external-name', {
            type: 'string',
            default: 'kubernetes.io',
            describe: "external name probed through NodeLocalDNS and CoreDNS ('none' to skip)",
          })
          .options(REPORT_OPTIONS)
          .option('strict', {
            type: 'boolean',
            default: false,
            describe: 'warnings (and, with --baseline, regressions) fail the run',
          })
          .option('fix', {
            type: 'boolean',
            default: false,
            describe: 'apply the safe remediations the diagnoses name, then check again',
          })
          .option('record', {
            type: 'string',
            describe: 'also write a capture bundle (raw node output, no secrets) to DIR for `replay`',
            requiresArg: true,
          })
          .option('pod-probes', {
            choices: ['existing', 'create'],
            default: 'existing',
            describe:
              "probe DNS from a pod's network namespace on every node: the pods already there, or also make a short-lived pause pod (kubectl, nodeName, no image pull; always deleted) on nodes without one",
          })
          .option('pod-image', {
            type: 'string',
            describe:
              'with --pod-probes create: the pause image the kubelet already has [default: pod_infra_image_repo:pod_infra_image_tag, else registry.k8s.io/pause:3.10]',
            requiresArg: true,
          })
          .option('check', {
            type: 'string',
            array: true,
            describe: 'run only these checks (id or prefix*, repeatable; see `checks`)',
            requiresArg: true,
          })
          .option('skip', {
            type: 'string',
            array: true,
            describe: 'leave out these checks (id or prefix*, repeatable)',
            requiresArg: true,
          })
          .option('baseline', {
            type: 'string',
            describe:
              'compare with an earlier JSON report (--report FILE of a good run): the report gains `comparison`; with --strict a regression fails the run',
            requiresArg: true,
          })
          .option('progress', {
            choices: ['auto', 'plain', 'none'],
            default: 'auto',
            describe: 'progress display on stderr (auto: live on a terminal, plain lines otherwise)',
          })
          .option('verbose', {
            alias: 'v',
            type: 'boolean',
            default: false,
            describe: "each node's results and DNS paths, warnings with their evidence; nothing cut",
          })
          .group(['baseline', 'latency-factor', 'latency-increase-ms'], 'Compare with an earlier run:'),
      async (argv) => {
        code = await runValidate(lastWins(argv as Record<string, unknown>));
      },
    )
    .command(
      'replay <bundle>',
      're-run checks, diagnoses and the report from a capture bundle (--record DIR), connecting to nothing',
      (y) =>
        y
          .positional('bundle', { type: 'string', describe: 'the directory written by --record' })
          .options(REPORT_OPTIONS)
          .option('strict', { type: 'boolean', describe: 'warnings fail the run [default: as recorded]' })
          .option('progress', {
            choices: ['auto', 'plain', 'none'],
            default: 'none',
            describe: 'progress display on stderr',
          })
          .option('verbose', {
            alias: 'v',
            type: 'boolean',
            default: false,
            describe: "each node's results and DNS paths, warnings with their evidence; nothing cut",
          }),
      async (argv) => {
        code = await runReplay(lastWins(argv as Record<string, unknown>));
      },
    )
    .command(
      'checks',
      'list the check ids (for --check/--skip) with what each verifies',
      (y) => y,
      async () => {
        const { CHECKS } = await import('./checks/registry.js');
        for (const m of CHECKS) process.stdout.write(`${m.ids.join(', ')}\n    ${m.title}\n`);
        code = 0;
      },
    )
    .command(
      'diff <old> <new>',
      'compare two JSON reports, connecting to nothing: exit 1 with regressions, 0 without, 2 when a file is not a report',
      (y) =>
        compareOptions(
          y
            .positional('old', { type: 'string', describe: 'the earlier report (the baseline)' })
            .positional('new', { type: 'string', describe: 'the later report' })
            .option('output', {
              alias: 'o',
              choices: ['human', 'json'],
              default: 'human',
              describe: 'what goes to stdout (json: the comparison object)',
            }),
        ),
      async (argv) => {
        code = await runDiff(lastWins(argv as Record<string, unknown>));
      },
    )
    .command(
      'inventory',
      'print the resolved inventory as `ansible-inventory --list` does',
      (y) =>
        common(y)
          .option('list', { type: 'boolean', default: true, describe: 'print the whole inventory (the only mode)' })
          .option('show-secrets', {
            type: 'boolean',
            default: false,
            describe: 'print passwords and keys instead of "<redacted>"',
          }),
      async (argv) => {
        code = await runInventory(lastWins(argv as Record<string, unknown>));
      },
    )
    .strictOptions()
    .strictCommands()
    .version(VERSION_LINE)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg);
    });
  try {
    await parser.parseAsync();
    // --help/--version print and set nothing: that is a success.
    if (process.argv.slice(2).some((a) => ['--help', '-h', '--version', '-V'].includes(a))) code = 0;
  } catch (err) {
    if (err instanceof UsageError) fail(err.message);
    if (process.env.KSV_DEBUG) process.stderr.write(String((err as Error).stack) + '\n');
    fail(`internal error: ${(err as Error)?.message ?? String(err)} (set KSV_DEBUG=1 for details)`);
  }
  process.exitCode = code;
}

// No top-level await: the single-file build (npm run build:binary) is CommonJS. Should the event
// loop ever empty before main() settles, exit 13 as an unsettled top-level await would, never 0.
process.exitCode = 13;
void main();
