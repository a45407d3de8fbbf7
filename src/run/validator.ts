// The orchestrator: connection state and phases. A pass runs a pipeline per node (at most --forks at
// once): connect, then ONE round trip that starts at once — root check, what the registered readers
// read, counters, the probes to NodeLocalDNS and the CoreDNS service, counters again — while the
// first control-plane node is asked for the CoreDNS endpoints; their probes are streamed to the
// running probe program when the list arrives. With --fix: plan the safe remediations, apply them,
// wait for caches to notice, and run a second pass. Everything on a node goes through the
// RunEnv's transport (SSH live, a bundle in a replay).
import type { EndpointLookup, Reader } from '../checks/module.js';
import { checkReaders, type Selection } from '../checks/registry.js';
import { diagnosisReaders } from '../diagnose/index.js';
import { uniqueReaders } from '../collect/gather.js';
import { basePaths, endpointPaths } from '../probe/paths.js';
import { probeScript, type ProbeProgram } from '../probe/program.js';
import { safeFixes } from '../fix/index.js';
import { counterFiles } from '../collect/counters.js';
import { overlayDevices } from '../inventory/overlay.js';
import type { Progress } from '../report/progress.js';
import { firstLine } from '../errors.js';
import type { NodeSession, Report, Target } from '../types.js';
import type { RunEnv } from '../transport/transport.js';
import { assemble, type NodeState } from './assemble.js';
import { lookupEndpoints, LOOKUP_TIMEOUT_MS } from './endpoint-lookup.js';
import { MARK, POD_MARK, parseRoundTrip, roundTripScript } from './roundtrip.js';
import { recountPodNamespaces } from './recount.js';
import { externalFailsOn, resolverStep, wildcardPaths, wildcardResults, type ResolverRun } from './resolver-probes.js';
import { resolverFacts, type WildcardProbe } from '../collect/resolver.js';
import type { Plan } from './prepare.js';
import { ProbePods } from './probe-pods.js';
import { DEFAULT_POD_IMAGE, type CreatedPod } from '../kubectl/pods.js';

export interface RunOptions {
  forks: number;
  probeCount: number;
  probeTimeoutMs: number;
  externalName: string | null;
  strict: boolean;
  fix: boolean;
  selection: Selection;
  /** replay: keep only the readers the recorded command ran (a bundle from another version) */
  recordedCommand?: (readerScript: string, sections?: readonly string[]) => boolean;
  /** --pod-probes: probe from the pods already on a node (default), or also make one where there
   *  is none (run/probe-pods.ts) */
  podProbes?: 'existing' | 'create';
  /** --pod-image: the pause image for the pods made */
  podImage?: string;
  /** a replay: nothing is cleaned up after an interruption (nothing was made) */
  replay?: boolean;
}

interface HostState extends NodeState {
  session: NodeSession | null;
  /** the one connection attempt, shared by the node's task and the endpoint lookup */
  connecting: Promise<NodeSession | null> | null;
}

const SLACK_MS = 5_000;
const GATHER_MS = 10_000;
const LINGER_MS = 1_250;
const FIX_SETTLE_MS = 1500;
const NO_LOOKUP: EndpointLookup = { endpoints: null, error: 'not discovered yet', askedOn: '*', tried: [] };

export class Validator {
  private readonly states: HostState[];
  private readonly extra = new Map<string, Promise<NodeSession | null>>();
  private readonly extraSessions: NodeSession[] = [];
  private lastLookup: EndpointLookup = NO_LOOKUP;
  private lastResolver: ResolverRun | undefined;
  private startedAt = 0;
  private readonly readers: Reader[];
  private readonly unread = new Set<string>();
  private readonly controlPlane: ReadonlySet<string>;
  /** --pod-probes create: the pods made (and always deleted) */
  readonly pods: ProbePods | null;
  /** why the pods made could not be deleted, once tried */
  podsLeft: string | null = null;

  constructor(
    private readonly opts: RunOptions,
    private readonly p: Plan,
    private readonly env: RunEnv,
    private readonly progress: Progress,
  ) {
    this.states = p.targets.map((target) => ({
      target,
      session: null,
      connected: false,
      error: null,
      facts: null,
      before: null,
      after: null,
      probes: [],
      connecting: null,
    }));
    this.controlPlane = new Set(p.controlPlane.map((t) => t.name));
    const all = uniqueReaders([...checkReaders(opts.selection), ...diagnosisReaders()]);
    const ctx = { cluster: p.cluster };
    this.readers = opts.recordedCommand ? all.filter((r) => opts.recordedCommand!(r.script(ctx), r.sections)) : all;
    for (const r of all) if (!this.readers.includes(r)) this.unread.add(r.key);
    const podSide = opts.selection.modules.some((m) => m.podProbes);
    this.pods =
      opts.podProbes === 'create' && podSide
        ? new ProbePods(
            p.cluster,
            p.controlPlane,
            (t) => this.sessionFor(t),
            env,
            opts.podImage ?? p.cluster.podInfraImage ?? DEFAULT_POD_IMAGE,
          )
        : null;
  }

  /** Run one validation pass, then (with --fix) apply the safe fixes and run a second one. */
  async run(): Promise<Report> {
    this.startedAt = this.env.now();
    try {
      const first = await this.pass(this.startedAt);
      if (!this.opts.fix) return first.report;
      const actions = safeFixes(first.report.diagnoses, first.input);
      const applied: NonNullable<Report['fix']>['applied'] = [];
      await this.progress.phase(
        `Apply ${actions.length} safe fix(es)`,
        actions,
        (a) => `${a.host}: ${a.command}`,
        async (a) => {
          const s = this.states.find((x) => x.target.name === a.host)?.session;
          if (!s) {
            applied.push({
              host: a.host,
              diagnosis: a.diagnosis,
              command: a.command,
              ok: false,
              output: 'not connected',
            });
            throw new Error('not connected');
          }
          let ok = false;
          let output = '';
          try {
            const r = await s.exec(a.command, { timeoutMs: 30_000, label: 'fix' });
            ok = r.code === 0;
            output = firstLine((r.stderr || r.stdout).trim());
            if (!ok) output = `exit ${r.code}: ${output}`;
          } catch (err) {
            output = firstLine(err);
          }
          applied.push({ host: a.host, diagnosis: a.diagnosis, command: a.command, ok, output });
          if (!ok) throw new Error(output);
        },
      );
      // let caches notice: node-cache's forward plugin health-checks its upstream every 0.5 s
      if (applied.some((a) => a.ok)) await this.env.sleep(FIX_SETTLE_MS);
      const second = await this.pass(this.env.now());
      return {
        ...second.report,
        startedAt: new Date(this.startedAt).toISOString(),
        durationMs: this.env.now() - this.startedAt,
        fix: { applied, before: first.report },
      };
    } finally {
      await this.removePods();
      this.close();
    }
  }

  private async removePods(): Promise<void> {
    if (this.pods) this.podsLeft = await this.pods.remove();
  }

  /** After partial(): delete the pods made (bounded: a signal must end the run soon), then close. */
  async shutdown(maxMs: number): Promise<void> {
    if (this.pods && !this.opts.replay) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>(
        (r) =>
          (timer = setTimeout(() => {
            this.podsLeft ??= `not deleted within ${maxMs} ms of the signal`;
            r();
          }, maxMs)),
      );
      await Promise.race([this.removePods(), late]);
      clearTimeout(timer);
    }
    this.close();
  }

  /** The report as it stands, hosts not finished marked so (SIGINT/SIGTERM). Every connection but
   *  the one the pods were made through is closed (shutdown() closes that one). */
  partial(signal: string): Report {
    this.close(this.pods ? this.pods.session : null);
    for (const s of this.states)
      if (!s.facts && !s.error) s.error = `interrupted (${signal}) before ${s.target.name} was finished`;
    const r = this.assemble(this.startedAt).report;
    return { ...r, interrupted: signal };
  }

  close(keep: NodeSession | null = null): void {
    for (const s of this.states) if (s.session !== keep) s.session?.close();
    for (const s of this.extraSessions) if (s !== keep) s.close();
  }

  private assemble(startedAt: number) {
    return assemble({
      cluster: this.p.cluster,
      nodes: this.states,
      lookup: this.lastLookup,
      resolver: this.lastResolver,
      selection: this.opts.selection,
      strict: this.opts.strict,
      startedAt,
      finishedAt: this.env.now(),
      unread: this.unread,
    });
  }

  /** Connect once; every caller shares the same attempt. Resolves to null when it failed. */
  private ensureConnected(s: HostState): Promise<NodeSession | null> {
    if (s.session && !s.error) return Promise.resolve(s.session);
    if (s.error) return Promise.resolve(null);
    s.connecting ??= this.env.transport.connect(s.target).then(
      (session) => {
        s.session = session;
        s.connected = true;
        return session;
      },
      (err) => {
        s.error = firstLine(err);
        return null;
      },
    );
    return s.connecting;
  }

  /** Close a node's connection once its round trip is done (and the endpoint lookup answered), unless something later in the run
   *  uses it: --fix, the endpoint lookup, the pods made and the DNS pods' state (control-plane nodes),
   *  the recount (the nodes hosting CoreDNS pods), the upstream servers (nodes where the external
   *  name failed). A large cluster then holds about --forks connections at once —
   *  file descriptors here, sshd sessions on the nodes and on a bastion — not one per node. */
  private async release(s: HostState, lookup: Promise<EndpointLookup>): Promise<void> {
    if (this.opts.fix || !s.session || this.controlPlane.has(s.target.name)) return;
    // the resolver step asks every node for the upstream servers when the external name failed
    // from all of them: a node where it failed keeps its connection for that
    if (s.connected && !s.error && externalFailsOn(s)) return;
    const ep = await lookup;
    if ((ep.endpoints ?? []).some((e) => e.nodeName === s.target.name)) return;
    s.session.close();
  }

  /** A control-plane node outside --limit, connected only for the endpoint lookup. */
  private sessionFor(t: Target): Promise<NodeSession | null> {
    const st = this.states.find((s) => s.target.name === t.name);
    if (st) return this.ensureConnected(st);
    let p = this.extra.get(t.name);
    if (!p) {
      p = this.env.transport.connect(t).then((s) => {
        this.extraSessions.push(s);
        return s;
      });
      this.extra.set(t.name, p);
    }
    return p;
  }

  private async pass(
    startedAt: number,
  ): Promise<{ report: Omit<Report, 'fix'>; input: ReturnType<typeof assemble>['input'] }> {
    const { cluster } = this.p;
    const o = this.opts;
    for (const s of this.states) {
      s.facts = null;
      s.before = null;
      s.after = null;
      s.probes = [];
    }
    const probing = o.selection.modules.some((m) => m.probes);
    const podProbing = probing && o.selection.modules.some((m) => m.podProbes);
    const ctx = { cluster };
    const planOpts = { externalName: o.externalName };
    // every node's random draw is made now, in inventory order, so a replay draws the same
    const seeds = new Map(this.states.map((s) => [s.target.name, Math.floor(this.env.random() * 0x10000)]));
    const lookup =
      probing || o.selection.has('coredns.endpoints')
        ? lookupEndpoints(cluster, this.p.controlPlane, (t) => this.sessionFor(t))
        : Promise.resolve({ ...NO_LOOKUP, error: 'not asked (no selected check needs it)' });
    const lateWaitMs = LOOKUP_TIMEOUT_MS + SLACK_MS;
    // the command's budget counts from when its endpoint probes were sent (the lookup is bounded)
    const budget = o.probeCount * o.probeTimeoutMs + GATHER_MS + LINGER_MS + SLACK_MS;
    // control-plane nodes first: the endpoint lookup uses the first one's connection
    const cp = new Set(this.p.controlPlane.map((t) => t.name));
    const order = [...this.states].sort((x, y) => Number(cp.has(y.target.name)) - Number(cp.has(x.target.name)));
    // a random name under each of the inventory's search domains, asked once: by the first node's
    // probe program, in its round trip (run/resolver-probes.ts)
    let wildFound: WildcardProbe[] | null = null;
    const wild =
      probing && o.selection.has('resolver.config') && order.length
        ? { host: order[0]!.target.name, ...wildcardPaths(cluster, () => this.env.random()) }
        : null;
    if (podProbing) this.pods?.start(this.states.map((s) => s.target.name));
    const verb = o.fix && this.states.some((s) => s.session) ? 'Check again' : 'Validate';
    await this.progress.phase(
      `${verb} ${this.states.length} node(s): connect, inspect, probe DNS over UDP and TCP`,
      order,
      (s) => s.target.name,
      async (s) => {
        const session = await this.ensureConnected(s);
        if (!session || s.error) throw new Error(s.error ?? 'not connected');
        let probe: ProbeProgram | null = null;
        let input: Promise<string> | undefined;
        let created: CreatedPod | null = null;
        if (probing) {
          const seed = seeds.get(s.target.name)!;
          // the pod side's ids follow from the same draw, half the id space away: a replay draws the same
          // --pod-probes create: a node without a pod of its own waits for the one made for it
          const made = podProbing && this.pods ? await this.pods.forHost(s.target.name) : null;
          // kept for the report where a pod was made or could not be
          created = made && (made.name || made.error) ? made : null;
          const pod = podProbing
            ? { idSeed: (seed + 0x8000) & 0xffff, markers: POD_MARK, prefer: made?.ip ? [made.ip] : [] }
            : undefined;
          const extra = wild && wild.host === s.target.name ? wild.paths : [];
          probe = probeScript([...basePaths(cluster, planOpts), ...extra], {
            count: o.probeCount,
            timeoutMs: o.probeTimeoutMs,
            markers: { before: MARK.before, probes: MARK.probes, after: MARK.after },
            idSeed: seed,
            lateWaitMs,
            counterFiles: counterFiles(overlayDevices(cluster)),
            podSubnets: cluster.podsSubnets,
            pod,
          });
          const program = probe;
          input = lookup.then((ep) => program.extend(endpointPaths(cluster, ep.endpoints, planOpts)));
        }
        let r;
        try {
          r = await session.exec(roundTripScript(this.readers, ctx, probe), {
            timeoutMs: budget,
            input,
            timeoutFrom: input,
            maxMs: budget + lateWaitMs,
            label: 'roundtrip',
          });
        } catch (err) {
          s.error = firstLine(err);
          void this.release(s, lookup);
          throw new Error(s.error);
        }
        // the program waited for the streamed paths (or gave up on them): decode with what was sent
        if (input) await input.catch(() => undefined);
        const outcome = parseRoundTrip(s.target, r, this.readers, ctx, probe);
        if (outcome instanceof Error) {
          s.error = outcome.message;
          void this.release(s, lookup);
          throw outcome;
        }
        // the search-domain names are the resolver check's, not DNS paths of the report
        if (wild && wild.host === s.target.name) {
          const names = new Set(wild.asked.map((a) => a.name));
          wildFound = wildcardResults(
            wild,
            outcome.probes.filter((p) => p.from !== 'pod' && names.has(p.name)),
          );
          outcome.probes = outcome.probes.filter((p) => !names.has(p.name));
        }
        // copied out of the node's output: a string parsed out of it is a slice that keeps all of it
        // (tens of KB per node) alive until the report is written
        Object.assign(s, structuredClone(outcome));
        if (created && s.facts?.podProbe) s.facts.podProbe.created = created;
        void this.release(s, lookup);
        const bad = s.probes.filter((p) => (p.ok ?? 0) < p.sent).length;
        return !probing
          ? 'inspected'
          : bad
            ? `${bad} of ${s.probes.length} DNS paths failed`
            : `${s.probes.length} DNS paths answered`;
      },
    );
    this.lastLookup = await lookup;
    for (const st of this.states) {
      const f = resolverFacts(st.facts);
      if (f && wildFound) f.wildcard = wildFound;
    }
    // UDP lost across the overlay: the CoreDNS pods' namespaces are read again (run/recount.ts)
    if (probing) await recountPodNamespaces(this.states, this.lastLookup, cluster);
    // the resolver chain: wildcard search domains, the upstream servers, the DNS pods (resolver-probes.ts)
    this.lastResolver =
      o.selection.has('resolver.config') || o.selection.has('resolver.upstream')
        ? await resolverStep(this.states, cluster, {
            externalName: probing ? o.externalName : null,
            probeCount: o.probeCount,
            probeTimeoutMs: o.probeTimeoutMs,
            random: () => this.env.random(),
            controlPlane: this.p.controlPlane,
            sessionFor: (t) => this.sessionFor(t),
          })
        : undefined;
    return this.assemble(startedAt);
  }
}
