// The kubectl stand-in's pods (services.ts hands it `run`, `get pods` and `delete pods`): what the
// API server and the kubelet would do, against the lab's real network. `run` with a nodeName does
// what the kubelet and the plugin's CNI do for a pod sandbox — a cni-<uuid> namespace wired to its
// node as the lab's pods are (cali… veth with proxy ARP, or a veth on cni0), an address from the
// node's block, a process holding the namespace — and `delete` undoes it. Images on every node:
// the pause image (LAB_IMAGES); any other with imagePullPolicy Never is ErrImageNeverPull, as the
// kubelet says, after the sandbox exists. The pods live in <lab dir>/pods.json.
// Invoked as: node --import tsx kubectl-pods.ts <saved-state.json> <kubectl args…>
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { OVERLAYS, type Desc, type LabNode } from './topology.js';
import { quiet } from './sys.js';
import type { Saved } from './state.js';
import { sshdPid } from './services.js';
import { readNodeCachePod } from './resolver.js';

/** the images every lab node's kubelet has */
export const LAB_IMAGES = ['registry.k8s.io/pause:3.10'];

interface Pod {
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: { nodeName: string; hostNetwork?: boolean; containers: { name: string; image: string }[] };
  status: {
    phase: string;
    podIP?: string;
    containerStatuses: {
      ready: boolean;
      state: Record<string, { reason?: string }>;
      restartCount?: number;
      lastState?: Record<string, { reason?: string; exitCode?: number }>;
    }[];
  };
  lab?: { netns: string; hostIf: string; pid: number; ip: string };
}

/** A file whose presence keeps new pods in ContainerCreating (a slow kubelet). */
export const podsPendingMarker = (dir: string) => join(dir, 'pods-pending');
export const podsFile = (dir: string) => join(dir, 'pods.json');

function fail(msg: string): never {
  process.stderr.write(`${msg}\n`);
  process.exit(1);
}

function load(dir: string): Pod[] {
  return existsSync(podsFile(dir)) ? (JSON.parse(readFileSync(podsFile(dir), 'utf8')) as Pod[]) : [];
}

/** The pods the lab has anyway: CoreDNS (kube-system, its own namespace) and a host-network
 *  NodeLocalDNS pod per node. */
function standing(d: Desc): Pod[] {
  const running = { phase: 'Running', containerStatuses: [{ ready: true, state: { running: {} } }] };
  return [
    ...d.endpoints.map((e) => ({
      metadata: { name: e.pod, namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
      spec: { nodeName: e.node, containers: [{ name: 'coredns', image: 'registry.k8s.io/coredns/coredns:v1.12.0' }] },
      status: { ...running, podIP: e.ip },
    })),
    ...d.nodes.map((n) => {
      // node-cache as its starts left it (resolver.ts: stopped by its loop plugin, restarted)
      const nc = readNodeCachePod(d.dir, n.name);
      const crash = nc.state === 'crashloop';
      return {
        metadata: { name: `nodelocaldns-${n.name}`, namespace: 'kube-system', labels: { 'k8s-app': 'node-local-dns' } },
        spec: {
          nodeName: n.name,
          hostNetwork: true,
          containers: [{ name: 'node-cache', image: 'registry.k8s.io/dns/k8s-dns-node-cache:1.25.0' }],
        },
        status: {
          phase: 'Running',
          podIP: n.address,
          containerStatuses: [
            {
              ready: !crash,
              state: (crash ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} }) as Record<
                string,
                { reason?: string }
              >,
              restartCount: nc.restartCount,
              ...(nc.previousLog ? { lastState: { terminated: { reason: 'Error', exitCode: 1 } } } : {}),
            },
          ],
        },
      };
    }),
  ];
}

function at(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const part of path.replace(/^\./, '').split('.')) {
    const m = /^([^[\]]+)(?:\[(\d+)\])?$/.exec(part);
    if (!m || v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[m[1]!];
    if (m[2] !== undefined) v = Array.isArray(v) ? v[Number(m[2])] : undefined;
  }
  return v;
}

function selects(sel: string | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  // terms split at commas outside a set: `k=v`, `k`, `k in (a,b)`
  return (sel.match(/[^,(]+(?:\([^)]*\))?/g) ?? []).every((raw) => {
    const term = raw.trim();
    const set = /^(\S+)\s+in\s+\(([^)]*)\)$/.exec(term);
    if (set) return set[2]!.split(',').some((x) => labels[set[1]!] === x.trim());
    const [k, v] = term.split('=');
    return v === undefined ? k! in labels : labels[k!] === v;
  });
}

/** address i of the node's block free of every pod; Calico uses /32s (any of the block but its
 *  VTEP), the bridge a /30 (only the one host address besides the gateway) */
function freeIp(d: Desc, node: LabNode, pods: Pod[]): string | null {
  const plugin = d.plugin ?? 'calico';
  const used = new Set([...d.endpoints.map((e) => e.ip), ...pods.map((p) => p.status.podIP)]);
  const base = `198.19.${d.k}`;
  const candidates =
    plugin === 'calico' ? [4 * node.index + 1, 4 * node.index + 3, 4 * node.index] : [4 * node.index + 2];
  return candidates.map((x) => `${base}.${x}`).find((ip) => !used.has(ip)) ?? null;
}

/** The mount namespace of a node's sshd (where its sessions, the probe program among them, live):
 *  a node's runtime names its pods' network namespaces there, under /run/netns. Null when its
 *  sshd is not running. */
function nodeMnt(d: Desc, node: LabNode): string | null {
  try {
    const pid = readFileSync(sshdPid(d.dir, node.ns), 'utf8').trim();
    const p = `/proc/${pid}/ns/mnt`;
    readFileSync(`/proc/${pid}/stat`);
    return p;
  } catch {
    return null;
  }
}

/** `cmd` in the node's mount namespace (or here, when it has none) */
const onNode = (d: Desc, node: LabNode | undefined, cmd: string[]) => {
  const mnt = node ? nodeMnt(d, node) : null;
  return mnt ? quiet('nsenter', [`--mount=${mnt}`, ...cmd]) : quiet(cmd[0]!, cmd.slice(1));
};

function main(): void {
  const [statePath, ...argv] = process.argv.slice(2);
  const saved = JSON.parse(readFileSync(statePath!, 'utf8')) as Saved;
  const d = saved.desc;
  if (!d) fail('error: the lab is not built yet');
  const args: string[] = [];
  const opt: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^(--?[\w-]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      args.push(a);
      continue;
    }
    const takesValue = [
      '-n',
      '--namespace',
      '-l',
      '--selector',
      '-o',
      '--output',
      '--kubeconfig',
      '--field-selector',
      '--image',
      '--labels',
      '--overrides',
      '--restart',
      '--image-pull-policy',
      '--request-timeout',
      '-c',
      '--container',
      '--tail',
    ].includes(m[1]!);
    opt[m[1]!] = m[2] ?? (takesValue ? (argv[++i] ?? '') : 'true');
  }
  const ns = opt['-n'] ?? opt['--namespace'] ?? 'default';
  const sel = opt['-l'] ?? opt['--selector'];
  const created = load(d.dir);
  const save = (pods: Pod[]) => writeFileSync(podsFile(d.dir), JSON.stringify(pods, null, 1));
  const [verb, what, name] = args;
  const columns = (objs: unknown[]) => {
    const cc = /^custom-columns=(.*)$/.exec(opt['-o'] ?? opt['--output'] ?? '');
    if (!cc) fail('error: the lab kubectl prints with -o custom-columns=… only');
    const cols = cc[1]!.split(',').map((c) => c.split(':') as [string, string]);
    const lines = objs.map((p) =>
      cols
        .map(([, path]) => {
          const v = at(p, path);
          return v === undefined || v === null ? '<none>' : String(v);
        })
        .join('   '),
    );
    if (opt['--no-headers'] !== 'true') lines.unshift(cols.map(([h]) => h).join('   '));
    process.stdout.write(lines.length ? `${lines.join('\n')}\n` : '');
  };
  if (verb === 'get' && (what === 'nodes' || what === 'node')) {
    columns(
      d.nodes.map((n) => ({
        metadata: { name: n.name, labels: n.controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {} },
        status: { addresses: [{ type: 'InternalIP', address: n.address }] },
      })),
    );
    return;
  }
  if (verb === 'get' && (what === 'pods' || what === 'pod')) {
    // the slow kubelet caught up: pods left in ContainerCreating run now
    if (
      !existsSync(podsPendingMarker(d.dir)) &&
      created.some((p) => p.status.containerStatuses[0]?.state.waiting?.reason === 'ContainerCreating')
    ) {
      for (const p of created) {
        if (p.status.containerStatuses[0]?.state.waiting?.reason !== 'ContainerCreating' || !p.lab) continue;
        p.status = { phase: 'Running', podIP: p.lab.ip, containerStatuses: [{ ready: true, state: { running: {} } }] };
      }
      save(created);
    }
    const all = opt['-A'] === 'true' || opt['--all-namespaces'] === 'true';
    const phase = /^status\.phase=(\w+)$/.exec(opt['--field-selector'] ?? '')?.[1];
    const pods = [...standing(d), ...created].filter(
      (p) =>
        (all || p.metadata.namespace === ns) && selects(sel, p.metadata.labels) && (!phase || p.status.phase === phase),
    );
    if (!pods.length) process.stderr.write(`No resources found${all ? '' : ` in ${ns} namespace`}.\n`);
    columns(pods);
    return;
  }
  if (verb === 'logs' && what) {
    // `kubectl logs [--previous] <pod>`: node-cache's previous container's log (resolver.ts)
    const pod = standing(d).find((p) => p.metadata.name === what && p.metadata.namespace === ns);
    if (!pod) fail(`Error from server (NotFound): pods "${what}" not found`);
    const node = what.startsWith('nodelocaldns-') ? what.slice('nodelocaldns-'.length) : null;
    const log = node ? readNodeCachePod(d.dir, node).previousLog : '';
    if (opt['--previous'] === 'true' || opt['-p'] === 'true') {
      if (!log)
        fail(
          `Error from server (BadRequest): previous terminated container "${pod.spec.containers[0]!.name}" in pod "${what}" not found`,
        );
      process.stdout.write(log);
    }
    return;
  }
  if (verb === 'run' && what) {
    const podName = what;
    if ([...standing(d), ...created].some((p) => p.metadata.name === podName && p.metadata.namespace === ns))
      fail(`Error from server (AlreadyExists): pods "${podName}" already exists`);
    const over = JSON.parse(opt['--overrides'] ?? '{}') as {
      spec?: { nodeName?: string; containers?: { image?: string; imagePullPolicy?: string }[] };
    };
    const image = opt['--image'] ?? fail('error: required flag(s) "image" not set');
    const nodeName = over.spec?.nodeName;
    const node = d.nodes.find((x) => x.name === nodeName);
    if (!node)
      fail(
        `error: the lab kubectl runs pods only with spec.nodeName set to a node (${d.nodes.map((x) => x.name).join(', ')})`,
      );
    // what follows is the node's runtime: in the node's mount namespace (this process re-run there)
    const mnt = nodeMnt(d, node);
    if (mnt && process.env.KSV_LAB_NODE_MNT !== node.name) {
      const r = spawnSync(
        'nsenter',
        [`--mount=${mnt}`, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
        { stdio: 'inherit', env: { ...process.env, KSV_LAB_NODE_MNT: node.name } },
      );
      process.exit(r.status ?? 1);
    }
    const labels = Object.fromEntries(
      (opt['--labels'] ?? `run=${podName}`).split(',').map((kv) => kv.split('=') as [string, string]),
    );
    const policy = over.spec?.containers?.[0]?.imagePullPolicy ?? opt['--image-pull-policy'] ?? 'IfNotPresent';
    const ip = freeIp(d, node, created);
    if (!ip)
      fail(
        "error: the lab has no address left in the node's block (the CNI would say: no IP addresses available in range set)",
      );
    const plugin = d.plugin ?? 'calico';
    const ov = OVERLAYS[plugin];
    const netns = `cni-${randomUUID()}`;
    const hostIf = ov.hostIf(`${ns}.${podName}`);
    // recorded before it is made, so the lab's teardown finds it
    saved.namespaces.push(netns);
    writeFileSync(statePath!, JSON.stringify(saved));
    quiet('ip', ['netns', 'add', netns]);
    ov.attachPod(d.k, node, { ip, node: node.name, pod: podName, podNs: netns, hostIf });
    const holder = spawn('ip', ['netns', 'exec', netns, 'sleep', 'infinity'], { detached: true, stdio: 'ignore' });
    holder.unref();
    const present = LAB_IMAGES.includes(image);
    const pending = existsSync(podsPendingMarker(d.dir));
    const state: Record<string, { reason?: string }> =
      !present && policy === 'Never'
        ? { waiting: { reason: 'ErrImageNeverPull' } }
        : pending
          ? { waiting: { reason: 'ContainerCreating' } }
          : { running: {} };
    created.push({
      metadata: { name: podName, namespace: ns, labels },
      spec: { nodeName: node.name, containers: [{ name: podName, image }] },
      status: {
        phase: 'running' in state ? 'Running' : 'Pending',
        podIP: pending ? undefined : ip,
        containerStatuses: [{ ready: 'running' in state, state }],
      },
      lab: { netns, hostIf, pid: holder.pid ?? 0, ip },
    });
    save(created);
    process.stdout.write(`pod/${podName} created\n`);
    return;
  }
  if (verb === 'delete' && (what === 'pods' || what === 'pod')) {
    const gone = created.filter(
      (p) =>
        p.metadata.namespace === ns &&
        (name ? p.metadata.name === name : sel ? selects(sel, p.metadata.labels) : false),
    );
    if (!gone.length && name && opt['--ignore-not-found'] !== 'true')
      fail(`Error from server (NotFound): pods "${name}" not found`);
    for (const p of gone) {
      if (p.lab?.pid) quiet('kill', ['-9', String(p.lab.pid)]);
      const node = d.nodes.find((x) => x.name === p.spec.nodeName);
      if (node && p.lab) quiet('ip', ['-n', node.ns, 'link', 'del', p.lab.hostIf]);
      if (p.lab) onNode(d, node, ['ip', 'netns', 'del', p.lab.netns]);
      process.stdout.write(`pod "${p.metadata.name}" deleted\n`);
    }
    save(created.filter((p) => !gone.includes(p)));
    return;
  }
  fail(`error: the lab kubectl does not know: ${argv.join(' ').slice(0, 120)}`);
}

// run by the stand-in (imported by tests for its file names)
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) main();
