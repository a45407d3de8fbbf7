// The validate command: inventory -> targets -> transport -> collect -> checks + probes ->
// diagnose -> report. Every phase runs on all nodes at once (bounded by --forks); a node's
// failure is a value carried to the report, never an exception that stops the others.
import { loadInventory } from './inventory/load.js';
import { parseExtraVars } from './inventory/extra-vars.js';
import { selectHosts } from './inventory/limit.js';
import { clusterModel, effectiveHostVars, kubesprayGroups } from './inventory/kubespray.js';
import { buildTargets } from './transport/targets.js';
import { connect, rootProblem, type ConnectOptions } from './transport/ssh.js';
import { gatherScript, parseGather } from './collect/gather.js';
import { parseCounters, counterDelta } from './collect/counters.js';
import { nodeChecks, counterCheck } from './checks/index.js';
import { dnsChecks } from './checks/dns.js';
import { planProbes } from './probe/plan.js';
import { probeScript } from './probe/script.js';
import { endpointsCommand, parseEndpoints } from './probe/endpoints.js';
import { diagnose } from './diagnose/index.js';
import { safeFixes } from './fix/index.js';
import { summarize } from './report/summary.js';
import { Progress } from './report/progress.js';
import { UsageError } from './errors.js';
import { isParseError } from './types.js';
import type {
  CheckResult, ClusterModel, Counters, DiagnoseInput, Endpoint, HostReport, Inventory, NodeFacts,
  NodeSession, ProbeResult, Report, Target, Vars,
} from './types.js';
import { VERSION } from './version.js';

export interface ValidateOptions {
  inventory: string[];
  limit?: string;
  user?: string;
  privateKey?: string;
  knownHosts: string;
  hostKeyChecking: 'strict' | 'accept-new' | 'off';
  forks: number;
  timeoutSec: number;
  probeCount: number;
  probeTimeoutMs: number;
  extraVars: string[];
  externalName: string | null;
  strict: boolean;
  fix: boolean;
  progress: 'tty' | 'plain' | 'none';
  signal?: AbortSignal;
}

/** Everything resolved from the inventory before any connection is made. Throws UsageError. */
export interface Plan {
  inventory: Inventory;
  cluster: ClusterModel;
  targets: Target[];
  /** control-plane targets to ask for CoreDNS endpoints (may lie outside --limit) */
  controlPlane: Target[];
}

export function plan(opts: ValidateOptions): Plan {
  if (!opts.inventory.length) throw new UsageError('no inventory given: use -i PATH (file or directory)');
  const inventory = loadInventory(opts.inventory, parseExtraVars(opts.extraVars));
  const groups = kubesprayGroups(inventory);
  const base = groups.k8sCluster.filter((h) => h !== groups.bastion);
  if (!base.length) throw new UsageError('the inventory has no Kubernetes nodes (kube_control_plane, kube_node or k8s_cluster hosts)');
  const selected = selectHosts(inventory, opts.limit, base);
  const cluster = clusterModel(inventory, selected);
  const needed = [...new Set([...selected, ...groups.controlPlane])];
  const vars: Record<string, Vars> = {};
  for (const h of needed) vars[h] = effectiveHostVars(inventory, h);
  for (const h of groups.bastion ? [groups.bastion] : []) vars[h] = effectiveHostVars(inventory, h);
  const all = buildTargets(vars, needed, { user: opts.user, privateKey: opts.privateKey }, groups.bastion);
  const byName = new Map(all.map((t) => [t.name, t]));
  return {
    inventory,
    cluster,
    targets: selected.map((h) => byName.get(h)!),
    controlPlane: groups.controlPlane.map((h) => byName.get(h)!).filter(Boolean),
  };
}

interface HostState {
  target: Target;
  session: NodeSession | null;
  error: string | null;
  facts: NodeFacts | null;
  before: Counters | null;
  after: Counters | null;
  probes: ProbeResult[];
  /** the one connection attempt, shared by the node's task and the endpoint lookup */
  connecting: Promise<NodeSession | null> | null;
}

type EpResult = { endpoints: Endpoint[] | null; error: string | null; results: CheckResult[] };

interface PassResult {
  report: Omit<Report, 'fix'>;
  input: DiagnoseInput;
}

const SLACK_MS = 5_000;
const GATHER_MS = 10_000;
const FIX_SETTLE_MS = 1500;
// the effective uid without starting a process (`id -u` where /proc is missing)
const uidScript = 'u=; while read -r k r e x; do if [ "$k" = Uid: ]; then u=$e; break; fi; done 2>/dev/null </proc/self/status; if [ -n "$u" ]; then echo "$u"; else id -u; fi';
const MARK = { uid: '#KSV-UID', gather: '#KSV-GATHER', before: '#KSV-COUNTERS-BEFORE', probes: '#KSV-PROBES', after: '#KSV-COUNTERS-AFTER' };

/** Split the node's round trip output at its markers (a missing part is an empty string). */
export function splitMarked(stdout: string): { uid: string; gather: string; before: string; probes: string; after: string } {
  const order = [MARK.uid, MARK.gather, MARK.before, MARK.probes, MARK.after];
  const pos = order.map((m) => stdout.indexOf(`${m}\n`));
  const part = (k: number) => {
    const start = pos[k]!;
    if (start < 0) return '';
    const from = start + order[k]!.length + 1;
    const next = pos.slice(k + 1).find((x) => x > start);
    return stdout.slice(from, next ?? undefined);
  };
  return { uid: part(0), gather: part(1), before: part(2), probes: part(3), after: part(4) };
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

export class Validator {
  private readonly states: HostState[];
  private readonly extraSessions = new Map<string, NodeSession>();
  private readonly connectOpts: ConnectOptions;
  private lastEp: EpResult = { endpoints: null, error: 'not discovered yet', results: [] };
  private startedAt = new Date();

  constructor(
    private readonly opts: ValidateOptions,
    private readonly p: Plan,
    private readonly progress: Progress,
  ) {
    this.states = p.targets.map((target) => ({ target, session: null, error: null, facts: null, before: null, after: null, probes: [], connecting: null }));
    this.connectOpts = {
      timeoutMs: opts.timeoutSec * 1000,
      knownHostsFile: opts.knownHosts,
      hostKeyChecking: opts.hostKeyChecking,
      agentSocket: process.env.SSH_AUTH_SOCK ?? null,
      execTimeoutMs: 60_000,
      checkRoot: false,
    };
  }

  /** Run one validation pass, then (with --fix) apply the safe fixes and run a second one. */
  async run(): Promise<Report> {
    const startedAt = new Date();
    this.startedAt = startedAt;
    try {
      const first = await this.pass(startedAt);
      if (!this.opts.fix) return first.report;
      const actions = safeFixes(first.report.diagnoses, first.input);
      const applied: NonNullable<Report['fix']>['applied'] = [];
      await this.progress.phase(`Apply ${actions.length} safe fix(es)`, actions, (a) => `${a.host}: ${a.command}`, async (a) => {
        const s = this.states.find((x) => x.target.name === a.host)?.session;
        if (!s) {
          applied.push({ host: a.host, diagnosis: a.diagnosis, command: a.command, ok: false, output: 'not connected' });
          throw new Error('not connected');
        }
        const r = await s.exec(a.command, { timeoutMs: 30_000 });
        const ok = r.code === 0;
        applied.push({ host: a.host, diagnosis: a.diagnosis, command: a.command, ok, output: (r.stderr || r.stdout).trim().split('\n')[0] ?? '' });
        if (!ok) throw new Error(`exit ${r.code}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
      });
      // let caches notice: node-cache's forward plugin health-checks its upstream every 0.5 s
      if (applied.some((a) => a.ok)) await new Promise((r) => setTimeout(r, FIX_SETTLE_MS));
      const second = await this.pass(new Date());
      return { ...second.report, startedAt: startedAt.toISOString(), durationMs: Date.now() - startedAt.getTime(), fix: { applied, before: first.report } };
    } finally {
      this.close();
    }
  }

  /** The report as it stands, hosts not finished marked so (SIGINT/SIGTERM). */
  partial(signal: string): Report {
    this.close();
    const r = this.assemble(this.startedAt, this.lastEp, signal).report;
    return { ...r, interrupted: signal };
  }

  close(): void {
    for (const s of this.states) s.session?.close();
    for (const s of this.extraSessions.values()) s.close();
  }

  /** Hosts that were inspected, with their report line. */
  private hostReports(): HostReport[] {
    return this.states.map((s) => ({ name: s.target.name, address: s.target.address, inspected: s.session !== null && s.error === null, error: s.error }));
  }

  /** Connect once; every caller shares the same attempt. Resolves to null when it failed. */
  private ensureConnected(s: HostState): Promise<NodeSession | null> {
    if (s.session && !s.error) return Promise.resolve(s.session);
    if (s.error) return Promise.resolve(null);
    s.connecting ??= connect(s.target, this.connectOpts).then(
      (session) => {
        s.session = session;
        return session;
      },
      (err) => {
        s.error = oneLine(err);
        return null;
      },
    );
    return s.connecting;
  }

  private async pass(startedAt: Date): Promise<PassResult> {
    const { cluster } = this.p;
    const overlay = overlayInterfaces(cluster);
    for (const s of this.states) {
      s.facts = null; s.before = null; s.after = null; s.probes = [];
    }
    // A pipeline per node (at most --forks at once): connect, wait for the probe plan (it needs the
    // CoreDNS endpoints, asked of the first control-plane node, connected at once for it), then ONE
    // round trip: the root check, everything the checks read, counters, the probes, counters again.
    // Probe windows of all nodes overlap, so errors a node counts while serving another node's
    // probes fall inside its own window too.
    const byName = new Map(this.states.map((s) => [s.target.name, s]));
    const epPromise = this.discoverEndpoints((name) => {
      const st = byName.get(name);
      return st ? this.ensureConnected(st) : null;
    });
    const planPromise = epPromise.then((ep) => {
      const paths = planProbes(cluster, ep.endpoints, { externalName: this.opts.externalName });
      const probe = probeScript(paths, { count: this.opts.probeCount, timeoutMs: this.opts.probeTimeoutMs, markers: { before: MARK.before, probes: MARK.probes, after: MARK.after } });
      const script = [
        `echo '${MARK.uid}'`, uidScript,
        `echo '${MARK.gather}'`, gatherScript({ overlayInterfaces: overlay }),
        probe.script,
      ].join('\n');
      return { paths, probe, script };
    });
    const budget = this.opts.probeCount * this.opts.probeTimeoutMs + GATHER_MS + SLACK_MS;
    // control-plane nodes first: the endpoint lookup waits for one of them to be connected
    const cp = new Set(this.p.controlPlane.map((t) => t.name));
    const order = [...this.states].sort((x, y) => Number(cp.has(y.target.name)) - Number(cp.has(x.target.name)));
    const verb = this.opts.fix && this.states.some((s) => s.session) ? 'Check again' : 'Validate';
    await this.progress.phase(`${verb} ${this.states.length} node(s): connect, inspect, probe DNS over UDP and TCP`, order, (s) => s.target.name, async (s) => {
      if (!(await this.ensureConnected(s)) || s.error) throw new Error(s.error ?? 'not connected');
      const { probe, script } = await planPromise;
      const r = await this.exec(s, script, budget);
      const parts = splitMarked(r.stdout);
      const notRoot = rootProblem(s.target, r.code === null ? null : 0, parts.uid, r.stderr);
      if (notRoot) {
        s.error = notRoot.message;
        throw notRoot;
      }
      s.facts = parseGather(s.target.name, parts.gather);
      s.before = counters({ stdout: parts.before });
      s.probes = probe.decode(s.target.name, parts.probes);
      s.after = counters({ stdout: parts.after });
      s.facts.counters = s.before ?? { parseError: 'could not read /proc/net/snmp before the probes' };
      const bad = s.probes.filter((p) => (p.ok ?? 0) < p.sent).length;
      return bad ? `${bad} of ${s.probes.length} DNS paths failed` : `${s.probes.length} DNS paths answered`;
    });
    const ep = await epPromise;

    this.lastEp = ep;
    return this.assemble(startedAt, ep);
  }

  /** Results, diagnoses and the report from the hosts' state (also for a partial, interrupted run). */
  private assemble(startedAt: Date, ep: EpResult, interrupted: string | null = null): PassResult {
    const { cluster } = this.p;
    // a node is finished once its round trip was parsed (facts are set together with its probes)
    if (interrupted) for (const s of this.states) if (!s.facts && !s.error) s.error = `interrupted (${interrupted}) before ${s.target.name} was finished`;
    const hosts = this.hostReports();
    const results: CheckResult[] = [];
    const facts: Record<string, NodeFacts> = {};
    const counterDeltas: Record<string, Counters> = {};
    const probes: ProbeResult[] = [];
    for (const s of this.states) {
      const name = s.target.name;
      if (!s.session || s.error) {
        results.push({ check: 'ssh.reachable', host: name, status: 'error', summary: s.error ?? 'not connected', evidence: { address: `${s.target.address}:${s.target.port}`, user: s.target.user } });
        continue;
      }
      results.push({ check: 'ssh.reachable', host: name, status: 'pass', summary: `connected as ${s.target.user}${s.target.become ? ' (sudo)' : ''}, root commands work`, evidence: { address: `${s.target.address}:${s.target.port}` } });
      if (s.facts) {
        facts[name] = s.facts;
        results.push(...nodeChecks(s.facts, cluster));
      }
      const delta = s.before && s.after ? counterDelta(s.before, s.after) : null;
      if (delta) counterDeltas[name] = delta;
      results.push(counterCheck(name, delta));
      results.push(...dnsChecks(name, s.probes));
      probes.push(...s.probes);
    }
    results.push(...ep.results);

    const input: DiagnoseInput = { cluster, hosts, results, probes, facts, counterDeltas, endpoints: ep.endpoints, endpointError: ep.error };
    const diagnoses = diagnose(input);
    const report: Omit<Report, 'fix'> = {
      schemaVersion: 1,
      tool: { name: 'kubespray-validate', version: VERSION },
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      cluster: {
        dnsDomain: cluster.dnsDomain,
        nodelocaldnsIp: cluster.nodelocaldnsEnabled ? cluster.nodelocaldnsIp : null,
        corednsIp: cluster.corednsIp,
        networkPlugin: cluster.networkPlugin,
        calicoBackend: cluster.networkPlugin === 'calico' ? cluster.calicoBackend : null,
        kubeProxyMode: cluster.kubeProxyMode,
      },
      hosts,
      results,
      probes,
      diagnoses,
      summary: summarize(hosts, results, this.opts.strict),
    };
    return { report, input };
  }

  /** exec on a node; a dropped connection or timeout marks the node as not (fully) inspected. */
  private async exec(s: HostState, command: string, timeoutMs: number) {
    try {
      return await s.session!.exec(command, { timeoutMs });
    } catch (err) {
      s.error = oneLine(err);
      throw new Error(s.error);
    }
  }

  /** Ask a control-plane node for the coredns Endpoints, as Kubespray's own kubectl would: the
   *  first selected one as soon as its connection is up, else one outside --limit. */
  private async discoverEndpoints(sessionOf: (name: string) => Promise<NodeSession | null> | null): Promise<EpResult> {
    const { cluster, controlPlane } = this.p;
    let endpoints: Endpoint[] | null = null;
    const tried: string[] = [];
    let host = controlPlane[0]?.name ?? '*';
    for (const t of controlPlane) {
      host = t.name;
      try {
        let session: NodeSession | null;
        const selected = sessionOf(t.name);
        if (selected) {
          session = await selected;
          if (!session) {
            tried.push(`${t.name}: not reachable`);
            continue;
          }
        } else {
          session = this.extraSessions.get(t.name) ?? null;
          if (!session) {
            session = await connect(t, this.connectOpts);
            this.extraSessions.set(t.name, session);
          }
        }
        const r = await session.exec(endpointsCommand(cluster), { timeoutMs: 30_000 });
        if (r.code !== 0) {
          tried.push(`${t.name}: kubectl exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`);
          continue;
        }
        const parsed = parseEndpoints(r.stdout);
        if (isParseError(parsed)) {
          tried.push(`${t.name}: ${parsed.parseError}`);
          continue;
        }
        endpoints = parsed;
        break;
      } catch (err) {
        tried.push(`${t.name}: ${oneLine(err)}`);
      }
    }
    if (endpoints) {
      const list = endpoints as Endpoint[];
      return {
        endpoints: list,
        error: null,
        results: [{ check: 'coredns.endpoints', host, status: list.length ? 'pass' : 'fail', summary: list.length ? `${list.length} CoreDNS endpoint(s) listed` : 'the coredns Endpoints object lists no addresses', evidence: { endpoints: list.map((e) => `${e.ip}:${e.port} ${e.podName ?? ''} on ${e.nodeName ?? '?'}${e.ready ? '' : ' (not ready)'}`) } }],
      };
    }
    const error = tried.length ? tried.join('; ') : 'no control-plane host in the inventory';
    return {
      endpoints: null,
      error,
      results: [{ check: 'coredns.endpoints', host, status: 'warn', summary: 'could not list CoreDNS endpoints; probing NodeLocalDNS and the service only', evidence: { tried } }],
    };
  }
}

function counters(r: { stdout: string }): Counters | null {
  const c = parseCounters(r.stdout);
  return isParseError(c) ? null : c;
}

/** The overlay devices Calico creates for the configured backend (both, when unsure). */
export function overlayInterfaces(cluster: ClusterModel): string[] {
  if (cluster.networkPlugin !== 'calico') return [];
  return ['vxlan.calico', 'tunl0'];
}

export async function validate(opts: ValidateOptions): Promise<Report> {
  const p = plan(opts);
  const progress = new Progress(opts.progress, opts.forks);
  const v = new Validator(opts, p, progress);
  if (opts.signal?.aborted) return v.partial(String(opts.signal.reason ?? 'interrupted'));
  let onAbort = () => {};
  const aborted = new Promise<Report>((resolve) => {
    onAbort = () => resolve(v.partial(String(opts.signal?.reason ?? 'interrupted')));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([v.run(), aborted]);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
