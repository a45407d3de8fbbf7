// --pod-probes create: on the nodes where no pod runs (off the host network), a short-lived pod is
// made through a control-plane node's kubectl (kubectl/pods.ts), waited for, probed from like any pod
// (its address is the one the node's probe program prefers), and always deleted: at the end of the
// run, on an error, and on SIGINT/SIGTERM. Everything goes through the RunEnv's transport, so a
// recording holds these commands and a replay plays them back (polls are counted, not timed).
import type { ClusterModel, NodeSession, Target } from '../types.js';
import type { RunEnv } from '../transport/transport.js';
import { firstLine } from '../errors.js';
import {
  createPodsCommand,
  deletePodsCommand,
  parseCreate,
  parsePodNodes,
  parsePodStatus,
  podName,
  podNodesCommand,
  podStatusCommand,
  type CreatedPod,
  type PodNodes,
  type PodRequest,
  type PodStatus,
} from '../kubectl/pods.js';

const POLL_MS = 1000;
/** how long the pods may take to run (polls of POLL_MS) */
export const POD_WAIT_MS = 45_000;
const DELETE_MS = 10_000;

export class ProbePods {
  readonly run: string;
  private listing: Promise<PodNodes> | null = null;
  private creation: Promise<Map<string, CreatedPod>> | null = null;
  private creating: Promise<unknown> | null = null;
  private made = false;
  private stopped = false;
  /** the control-plane connection kubectl runs on (kept open until the pods are deleted) */
  session: NodeSession | null = null;
  private removed: Promise<string | null> | null = null;

  constructor(
    private readonly cluster: ClusterModel,
    private readonly controlPlane: Target[],
    private readonly sessionFor: (t: Target) => Promise<NodeSession | null>,
    private readonly env: RunEnv,
    private readonly image: string,
  ) {
    this.run = Math.floor(env.random() * 36 ** 6)
      .toString(36)
      .padStart(6, '0');
  }

  /** Start (once for the run: a --fix rerun reuses the pods) finding the nodes without a pod and
   *  making one on each. `hosts` are inventory names, which Kubespray makes the node names. */
  start(hosts: string[]): void {
    if (this.listing) return;
    this.listing = this.list();
    this.creation = this.listing.then((l) =>
      this.make(
        hosts.filter((h) => !l.withPods.has(h)),
        l.nodes,
      ),
    );
    // failures are reported per node by forHost()
    this.creation.catch(() => undefined);
  }

  /** The pod a node is probed from: none needed (it has its own), the one made, or why there is none.
   *  A node with a pod of its own waits only for the listing. Never rejects. */
  async forHost(h: string): Promise<CreatedPod> {
    const fail = (err: unknown): CreatedPod => ({ name: null, ip: null, error: firstLine(err) });
    if (!this.listing || !this.creation) return fail('not started');
    try {
      if ((await this.listing).withPods.has(h)) return { name: null, ip: null, error: null };
      return (await this.creation).get(h) ?? fail('no pod was asked for');
    } catch (err) {
      return fail(err);
    }
  }

  private async kubectlSession(): Promise<NodeSession> {
    const tried: string[] = [];
    for (const t of this.controlPlane) {
      const s = await this.sessionFor(t).catch((err) => {
        tried.push(`${t.name}: ${firstLine(err)}`);
        return null;
      });
      if (s) return s;
      if (!tried.some((x) => x.startsWith(`${t.name}:`))) tried.push(`${t.name}: not reachable`);
    }
    throw new Error(
      tried.length
        ? `no control-plane node to run kubectl on (${tried.join('; ')})`
        : 'no control-plane host in the inventory',
    );
  }

  private async list(): Promise<PodNodes> {
    const session = (this.session = await this.kubectlSession());
    const listed = parsePodNodes(
      await session.exec(podNodesCommand(this.cluster), { timeoutMs: 30_000, label: 'pods-list' }),
    );
    if ('error' in listed) throw new Error(listed.error);
    return listed;
  }

  private async make(hosts: string[], nodes: Set<string> | null): Promise<Map<string, CreatedPod>> {
    const out = new Map<string, CreatedPod>();
    // a pod pinned to a name no node has would wait for a kubelet that never comes
    const unknown = nodes ? hosts.filter((h) => !nodes.has(h)) : [];
    const known = [...(nodes ?? [])].sort();
    for (const h of unknown)
      out.set(h, {
        name: null,
        ip: null,
        error: `no Kubernetes node is named "${h}" (the cluster has ${known.slice(0, 5).join(', ')}${known.length > 5 ? ', …' : ''}; Kubespray names nodes after the inventory unless kube_override_hostname says otherwise): no pod was made`,
      });
    const want: PodRequest[] = hosts
      .filter((h) => !unknown.includes(h))
      .map((h) => ({ name: podName(this.run, h), node: h }));
    if (!want.length) return out;
    if (this.stopped) throw new Error('stopped before any pod was made');
    const session = this.session!;
    this.made = true;
    const cmd = createPodsCommand(this.cluster, this.run, want, this.image);
    const creating = session.exec(cmd, { timeoutMs: 30_000 + 2_000 * want.length, label: 'pods-create' });
    this.creating = creating.catch(() => undefined);
    const created = parseCreate(await creating, want);
    const waiting = new Set(want.filter((p) => created.get(p.name) === null).map((p) => p.name));
    let last: PodStatus[] = [];
    let lastError: string | null = null;
    for (let i = 0; waiting.size && !this.stopped && i <= POD_WAIT_MS / POLL_MS; i++) {
      if (i) await this.env.sleep(POLL_MS);
      const st = parsePodStatus(
        await session.exec(podStatusCommand(this.cluster, this.run), { timeoutMs: 15_000, label: 'pods-status' }),
      );
      if ('error' in st) {
        lastError = st.error;
        continue;
      }
      last = st;
      for (const s of st) {
        if (s.phase === 'Running' && s.ip) waiting.delete(s.name);
        // a pod that ended, or cannot have its image without a pull, will not run: stop waiting for it
        if (
          s.phase === 'Failed' ||
          s.phase === 'Succeeded' ||
          /^(ErrImageNeverPull|InvalidImageName|CreateContainerConfigError)$/.test(s.waiting ?? '')
        )
          waiting.delete(s.name);
      }
    }
    for (const p of want) {
      const why = created.get(p.name);
      const s = last.find((x) => x.name === p.name);
      const state = s ? `${s.phase}${s.waiting ? `, ${s.waiting}` : ''}` : (lastError ?? 'not listed');
      const hint =
        s?.waiting === 'ErrImageNeverPull'
          ? `: ${this.image} is not on the node and is never pulled (--pod-image names the pause image its kubelet has)`
          : '';
      if (why) out.set(p.node, { name: p.name, ip: null, error: why });
      else if (s?.phase === 'Running' && s.ip) out.set(p.node, { name: p.name, ip: s.ip, error: null });
      else
        out.set(p.node, {
          name: p.name,
          ip: null,
          error: `the pod ${p.name} did not run within ${POD_WAIT_MS / 1000} s (${state})${hint}`,
        });
    }
    return out;
  }

  /** Delete the run's pods, once (later calls share the outcome); no pod is made after this.
   *  Resolves to null, or why it failed. */
  remove(): Promise<string | null> {
    this.stopped = true;
    this.removed ??= (async () => {
      // a kubectl run in flight finishes first, so what it made is deleted too
      if (this.creating) await this.creating;
      if (!this.made || !this.session) return null;
      try {
        const r = await this.session.exec(deletePodsCommand(this.cluster, this.run), {
          timeoutMs: DELETE_MS,
          label: 'pods-delete',
        });
        return r.code === 0 ? null : `kubectl delete exited ${r.code}: ${firstLine(r.stdout)}`;
      } catch (err) {
        return firstLine(err);
      }
    })();
    return this.removed;
  }
}
