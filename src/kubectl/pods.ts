// --pod-probes create: short-lived pods to probe from on nodes that have no pod of their own, made
// through Kubespray's own kubectl (`{{ bin_dir }}/kubectl --kubeconfig {{ kube_config_dir }}/admin.conf`
// on a control-plane node). Each is pinned to its node with `nodeName` (no scheduler), runs the
// `pause` image the kubelet already has with `imagePullPolicy: Never` (no image is pulled), is
// labelled with the run's id, tolerates every taint, passes the `restricted` Pod Security level,
// and stops by itself after `activeDeadlineSeconds` should nothing delete it. Pure: the commands
// and the parsing of their output.
import type { ClusterModel, ExecResult } from '../types.js';
import { shJoin } from '../transport/quote.js';
import { isImageRef, isIP } from '../inventory/validate.js';
import { firstLine } from '../errors.js';
import { splitSections } from '../collect/sections.js';
import { kubectlArgv } from './endpoints.js';

export const MANAGED_BY = 'app.kubernetes.io/managed-by=kubespray-validate';
export const RUN_LABEL = 'kubespray-validate/run';
/** the namespace the pods are made in */
export const POD_NAMESPACE = 'default';
/** Kubespray's pause image (pod_infra_image_repo:pod_infra_image_tag) for Kubernetes 1.31–1.33, when
 *  the inventory does not say (its default is a per-version table the model does not evaluate) */
export const DEFAULT_POD_IMAGE = 'registry.k8s.io/pause:3.10';
/** a pod nothing deleted (a second SIGINT, a lost connection) stops by itself after this */
export const POD_DEADLINE_S = 600;

/** A pod to make: its name and the Kubernetes node it is pinned to. */
export interface PodRequest {
  name: string;
  node: string;
}

/** What --pod-probes create did for one node. */
export interface CreatedPod {
  /** the pod made for the node; null when none was made (the node has a pod of its own, or it failed early) */
  name: string | null;
  ip: string | null;
  /** why there is no pod to probe from, when there is none */
  error: string | null;
}

/** What the cluster says about one of the pods made. */
export interface PodStatus {
  name: string;
  node: string | null;
  phase: string;
  ip: string | null;
  ready: boolean;
  /** why its container is not running (ErrImageNeverPull, ContainerCreating, …) */
  waiting: string | null;
}

/** A valid pod name for a node: `ksv-probe-<run>-<node>`, lower case, at most 63 characters. */
export function podName(run: string, node: string): string {
  const n =
    node
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'node';
  return `ksv-probe-${run}-${n}`.slice(0, 63).replace(/-+$/, '');
}

/** The cluster's node names, then every node with a running pod that is not on the host network
 *  (so it has a network namespace of its own): one line per pod, `<node> <hostNetwork>`. */
export function podNodesCommand(c: ClusterModel): string {
  const nodes = shJoin([
    ...kubectlArgv(c),
    'get',
    'nodes',
    '-o',
    'custom-columns=NAME:.metadata.name',
    '--no-headers',
    '--request-timeout=20s',
  ]);
  const pods = shJoin([
    ...kubectlArgv(c),
    'get',
    'pods',
    '-A',
    '--field-selector=status.phase=Running',
    '-o',
    'custom-columns=NODE:.spec.nodeName,HOSTNETWORK:.spec.hostNetwork',
    '--no-headers',
    '--request-timeout=20s',
  ]);
  return `echo @@nodes; ${nodes}; echo "@@rc $?"; echo @@pods; ${pods}; echo "@@rc $?"`;
}

export interface PodNodes {
  /** the cluster's node names; null when they could not be listed */
  nodes: Set<string> | null;
  /** the nodes with a pod of their own */
  withPods: Set<string>;
}

export function parsePodNodes(r: ExecResult): PodNodes | { error: string } {
  const sections = splitSections(r.stdout);
  const said = () =>
    firstLine(
      r.stderr
        .split('\n')
        .filter((l) => l.trim() && !/^warning:/i.test(l.trim()))
        .pop() ?? '',
    );
  const pods = sections.find((x) => x.name === 'pods');
  if (!pods || pods.code !== 0)
    return {
      error: `kubectl get pods ${pods ? `exited ${pods.code ?? '?'}` : `did not run (exit ${r.code})`}${said() ? `: ${said()}` : ''}`,
    };
  const withPods = new Set<string>();
  for (const line of pods.body.split('\n')) {
    const [node, hostNet] = line.trim().split(/\s+/);
    if (!node || node === '<none>') continue;
    if (hostNet !== 'true') withPods.add(node);
  }
  const n = sections.find((x) => x.name === 'nodes');
  const names =
    n && n.code === 0
      ? n.body
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
      : [];
  return { nodes: names.length ? new Set(names) : null, withPods };
}

/** The pod object (as `kubectl run --overrides` merges it). */
export function podOverrides(node: string, image: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    spec: {
      nodeName: node,
      restartPolicy: 'Never',
      activeDeadlineSeconds: POD_DEADLINE_S,
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      tolerations: [{ operator: 'Exists' }],
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65535,
        runAsGroup: 65535,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'pause',
          image,
          imagePullPolicy: 'Never',
          resources: { requests: { cpu: '1m', memory: '8Mi' }, limits: { cpu: '10m', memory: '16Mi' } },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  };
}

/** One command making every pod; after each, `@@run <name> <exit>`. */
export function createPodsCommand(c: ClusterModel, run: string, pods: PodRequest[], image: string): string {
  if (!isImageRef(image)) throw new Error(`refusing to run image "${image.slice(0, 80)}"`);
  if (!/^[a-z0-9]{1,16}$/.test(run)) throw new Error('bad run id');
  return pods
    .map((p) => {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(p.name)) throw new Error(`bad pod name ${p.name.slice(0, 80)}`);
      const argv = [
        ...kubectlArgv(c),
        'run',
        p.name,
        '-n',
        POD_NAMESPACE,
        `--image=${image}`,
        '--restart=Never',
        '--image-pull-policy=Never',
        `--labels=${MANAGED_BY},${RUN_LABEL}=${run}`,
        `--overrides=${JSON.stringify(podOverrides(p.node, image))}`,
        '--request-timeout=20s',
      ];
      return `${shJoin(argv)} 2>&1; echo "@@run ${p.name} $?"`;
    })
    .join('\n');
}

/** What `kubectl run` said per pod: null when it was made, else its message. */
export function parseCreate(r: ExecResult, pods: PodRequest[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  let said: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^@@run (\S+) (\d+)$/.exec(line.trim());
    if (!m) {
      if (line.trim()) said.push(line.trim());
      continue;
    }
    const msg = said.filter((l) => !/^warning:/i.test(l));
    out.set(m[1]!, m[2] === '0' ? null : `kubectl run exited ${m[2]}: ${firstLine(msg[msg.length - 1] ?? '')}`);
    said = [];
  }
  for (const p of pods)
    if (!out.has(p.name))
      out.set(
        p.name,
        `kubectl run did not finish${r.code ? ` (exit ${r.code})` : ''}${r.stderr.trim() ? `: ${firstLine(r.stderr)}` : ''}`,
      );
  return out;
}

const COLUMNS =
  'NAME:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase,IP:.status.podIP,READY:.status.containerStatuses[0].ready,WAITING:.status.containerStatuses[0].state.waiting.reason';

/** The run's pods, one line each. */
export function podStatusCommand(c: ClusterModel, run: string): string {
  return shJoin([
    ...kubectlArgv(c),
    'get',
    'pods',
    '-n',
    POD_NAMESPACE,
    '-l',
    `${RUN_LABEL}=${run}`,
    '-o',
    `custom-columns=${COLUMNS}`,
    '--no-headers',
    '--request-timeout=10s',
  ]);
}

export function parsePodStatus(r: ExecResult): PodStatus[] | { error: string } {
  if (r.code !== 0)
    return {
      error: `kubectl get pods exited ${r.code}: ${firstLine(
        r.stderr
          .split('\n')
          .filter((l) => !/^warning:/i.test(l.trim()))
          .join('\n') || r.stdout,
      )}`,
    };
  const none = (x: string | undefined) => (!x || x === '<none>' ? null : x);
  const out: PodStatus[] = [];
  for (const line of r.stdout.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || !f[0]) continue;
    const ip = none(f[3]);
    out.push({
      name: f[0],
      node: none(f[1]),
      phase: f[2]!,
      ip: ip && isIP(ip) ? ip : null,
      ready: f[4] === 'true',
      waiting: none(f[5])?.slice(0, 80) ?? null,
    });
  }
  return out;
}

/** Delete the run's pods without waiting for them to go. */
export function deletePodsCommand(c: ClusterModel, run: string): string {
  return `${shJoin([...kubectlArgv(c), 'delete', 'pods', '-n', POD_NAMESPACE, '-l', `${RUN_LABEL}=${run}`, '--wait=false', '--ignore-not-found', '--request-timeout=10s'])} 2>&1`;
}
