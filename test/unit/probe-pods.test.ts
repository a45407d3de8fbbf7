// --pod-probes create without a cluster: the kubectl commands (quoting, the pod object), the parsing
// of what kubectl prints (custom-columns as kubectl 1.33 prints them: three spaces between columns,
// `<none>` for a missing field), the pause image from the inventory, and ProbePods' orchestration
// against a scripted control-plane session: which nodes get a pod, how long it waits, and that
// the pods are always deleted — never made once deletion has begun.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { clusterModel } from '../../src/inventory/kubespray.js';
import { isImageRef } from '../../src/inventory/validate.js';
import {
  DEFAULT_POD_IMAGE,
  type PodNodes,
  createPodsCommand,
  deletePodsCommand,
  parseCreate,
  parsePodNodes,
  parsePodStatus,
  podName,
  podNodesCommand,
  podOverrides,
  podStatusCommand,
} from '../../src/kubectl/pods.js';
import { ProbePods, POD_WAIT_MS } from '../../src/run/probe-pods.js';
import type { ClusterModel, ExecOptions, ExecResult, NodeSession, Target } from '../../src/types.js';
import type { RunEnv } from '../../src/transport/transport.js';
import { CLUSTER } from './model.js';

const ok = (stdout: string, stderr = ''): ExecResult => ({ code: 0, stdout, stderr });
const work = mkdtempSync(join(tmpdir(), 'ksv-pods-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function model(vars: Record<string, unknown>): ClusterModel {
  const file = join(work, `inv-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(
    file,
    JSON.stringify({
      all: {
        hosts: { node1: { ansible_host: '198.18.0.10' } },
        vars,
        children: { kube_control_plane: { hosts: { node1: null } }, kube_node: { hosts: { node1: null } } },
      },
    }),
  );
  return clusterModel(loadInventory([file], {}));
}

test("the pause image: Kubespray's pod_infra_image_repo/tag from the inventory, kube_image_repo followed; the default otherwise", (t) => {
  t.is(model({}).podInfraImage, DEFAULT_POD_IMAGE);
  t.is(model({ kube_image_repo: 'harbor.example.com/library' }).podInfraImage, 'harbor.example.com/library/pause:3.10');
  t.is(
    model({ pod_infra_image_repo: 'registry.internal:5000/pause', pod_infra_image_tag: '3.10.1' }).podInfraImage,
    'registry.internal:5000/pause:3.10.1',
  );
  t.is(model({ pod_infra_version: '3.9' }).podInfraImage, 'registry.k8s.io/pause:3.9');
  // something that is not an image reference is never used
  t.is(model({ pod_infra_image_repo: 'x; rm -rf /' }).podInfraImage, null);
  t.true(isImageRef('registry.k8s.io/pause:3.10'));
  t.true(isImageRef(`registry.k8s.io/pause@sha256:${'a'.repeat(64)}`));
  for (const bad of ['$(id)', 'pause:3.10 --privileged', "a'b", 'UPPER/case', '']) t.false(isImageRef(bad), bad);
});

test('pod names: ksv-probe-<run>-<node>, a DNS label whatever the node is called', (t) => {
  t.is(podName('abc123', 'node3'), 'ksv-probe-abc123-node3');
  t.is(podName('abc123', 'Worker_7.example.com'), 'ksv-probe-abc123-worker-7-example-com');
  const long = podName('abc123', 'n'.repeat(100));
  t.true(long.length <= 63 && /^[a-z0-9][a-z0-9-]*[a-z0-9]$/.test(long));
});

test("the commands: Kubespray's kubectl and admin.conf, every value quoted, the pod pinned, no pull, labelled, bounded", (t) => {
  const c = { ...CLUSTER, binDir: '/usr/local/bin', kubeConfigDir: '/etc/kubernetes' };
  t.is(
    podNodesCommand(c),
    [
      'echo @@nodes; /usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o custom-columns=NAME:.metadata.name --no-headers --request-timeout=20s; echo "@@rc $?"; ',
      'echo @@pods; /usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf get pods -A --field-selector=status.phase=Running -o custom-columns=NODE:.spec.nodeName,HOSTNETWORK:.spec.hostNetwork --no-headers --request-timeout=20s; echo "@@rc $?"',
    ].join(''),
  );
  const cmd = createPodsCommand(
    c,
    'abc123',
    [{ name: 'ksv-probe-abc123-node3', node: 'node3' }],
    'registry.k8s.io/pause:3.10',
  );
  t.true(
    cmd.startsWith(
      '/usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf run ksv-probe-abc123-node3 -n default --image=registry.k8s.io/pause:3.10 --restart=Never --image-pull-policy=Never --labels=app.kubernetes.io/managed-by=kubespray-validate,kubespray-validate/run=abc123 ',
    ),
  );
  t.true(
    cmd.includes(`'--overrides=${JSON.stringify(podOverrides('node3', 'registry.k8s.io/pause:3.10'))}'`),
    'the JSON in single quotes',
  );
  t.true(cmd.endsWith('2>&1; echo "@@run ksv-probe-abc123-node3 $?"'));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a Pod spec read back field by field
  const spec = podOverrides('node3', 'registry.k8s.io/pause:3.10').spec as Record<string, any>;
  t.is(spec.nodeName, 'node3');
  t.is(spec.containers[0].imagePullPolicy, 'Never');
  t.deepEqual(spec.tolerations, [{ operator: 'Exists' }]);
  t.true(spec.activeDeadlineSeconds > 0 && spec.activeDeadlineSeconds <= 3600);
  t.is(spec.automountServiceAccountToken, false);
  // the restricted Pod Security level
  t.is(spec.securityContext.runAsNonRoot, true);
  t.is(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
  t.deepEqual(spec.containers[0].securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  });
  t.throws(() => createPodsCommand(c, 'abc123', [{ name: 'x', node: 'node3' }], '$(reboot)'), {
    message: /refusing to run image/,
  });
  t.throws(() => createPodsCommand(c, 'abc123', [{ name: "x'; reboot; '", node: 'node3' }], DEFAULT_POD_IMAGE), {
    message: /bad pod name/,
  });
  t.regex(
    podStatusCommand(c, 'abc123'),
    / get pods -n default -l kubespray-validate\/run=abc123 -o 'custom-columns=NAME:\.metadata\.name,.*\.state\.waiting\.reason' --no-headers/,
  );
  t.regex(
    deletePodsCommand(c, 'abc123'),
    / delete pods -n default -l kubespray-validate\/run=abc123 --wait=false --ignore-not-found /,
  );
});

test("which nodes have a pod of their own: running, off the host network; the cluster's node names", (t) => {
  const pods = [
    'node1   <none>', // coredns
    'node1   true', // nodelocaldns, calico-node, kube-proxy
    'node2   <none>',
    'node3   true',
    'node3   true',
    '<none>   <none>', // not scheduled
  ].join('\n');
  const got = parsePodNodes(ok(`@@nodes\nnode1\nnode2\nnode3\n@@rc 0\n@@pods\n${pods}\n@@rc 0\n`)) as PodNodes;
  t.deepEqual([...got.withPods].sort(), ['node1', 'node2']);
  t.deepEqual([...got.nodes!].sort(), ['node1', 'node2', 'node3']);
  // nodes not listable (RBAC): the pods still decide
  const noNodes = parsePodNodes({
    code: 0,
    stdout: `@@nodes\n@@rc 1\n@@pods\n${pods}\n@@rc 0\n`,
    stderr: 'Error from server (Forbidden): nodes is forbidden\n',
  }) as PodNodes;
  t.is(noNodes.nodes, null);
  t.deepEqual([...noNodes.withPods].sort(), ['node1', 'node2']);
  t.deepEqual(
    parsePodNodes({
      code: 0,
      stdout: '@@nodes\n@@rc 1\n@@pods\n@@rc 1\n',
      stderr: 'Warning: something\nerror: You must be logged in to the server (Unauthorized)\n',
    }),
    { error: 'kubectl get pods exited 1: error: You must be logged in to the server (Unauthorized)' },
  );
  t.deepEqual(parsePodNodes({ code: 255, stdout: '', stderr: '' }), {
    error: 'kubectl get pods did not run (exit 255)',
  });
});

test('kubectl run and get pods as kubectl prints them', (t) => {
  const pods = [
    { name: 'ksv-probe-abc123-node3', node: 'node3' },
    { name: 'ksv-probe-abc123-node4', node: 'node4' },
  ];
  const made = parseCreate(
    ok(
      'pod/ksv-probe-abc123-node3 created\n@@run ksv-probe-abc123-node3 0\nError from server (Forbidden): pods "ksv-probe-abc123-node4" is forbidden: violates PodSecurity "restricted:latest"\n@@run ksv-probe-abc123-node4 1\n',
    ),
    pods,
  );
  t.is(made.get('ksv-probe-abc123-node3'), null);
  t.regex(made.get('ksv-probe-abc123-node4')!, /^kubectl run exited 1: Error from server \(Forbidden\)/);
  t.regex(
    parseCreate({ code: 255, stdout: '', stderr: 'connection lost' }, pods).get('ksv-probe-abc123-node3')!,
    /did not finish \(exit 255\): connection lost/,
  );
  const st = parsePodStatus(
    ok(
      [
        'ksv-probe-abc123-node3   node3   Running   10.233.66.7   true    <none>',
        'ksv-probe-abc123-node4   node4   Pending   10.233.67.2   false   ErrImageNeverPull',
        'ksv-probe-abc123-node5   node5   Pending   <none>        <none>  <none>',
        'garbage',
      ].join('\n'),
    ),
  );
  t.deepEqual(st, [
    { name: 'ksv-probe-abc123-node3', node: 'node3', phase: 'Running', ip: '10.233.66.7', ready: true, waiting: null },
    {
      name: 'ksv-probe-abc123-node4',
      node: 'node4',
      phase: 'Pending',
      ip: '10.233.67.2',
      ready: false,
      waiting: 'ErrImageNeverPull',
    },
    { name: 'ksv-probe-abc123-node5', node: 'node5', phase: 'Pending', ip: null, ready: false, waiting: null },
  ]);
  t.deepEqual(
    parsePodStatus(ok('x   y   Running   $(id)   true   <none>')),
    [{ name: 'x', node: 'y', phase: 'Running', ip: null, ready: true, waiting: null }],
    'an address that is not one is dropped',
  );
});

// ---- ProbePods against a scripted control plane ------------------------------------------------------

interface Script {
  list: string;
  /** the cluster's node names, one a line (default node1..node4) */
  nodes?: string;
  /** status output per poll (the last repeats) */
  status: string[];
  create?: (cmd: string) => ExecResult;
  /** called when a command starts; may hold it */
  hold?: (label: string) => Promise<void> | void;
}

function fake(s: Script) {
  const calls: string[] = [];
  let polls = 0;
  let sleeps = 0;
  const session: NodeSession = {
    target: { name: 'node1' } as Target,
    close: () => undefined,
    exec: async (cmd: string, o: ExecOptions = {}) => {
      calls.push(o.label ?? 'command');
      await s.hold?.(o.label ?? '');
      if (o.label === 'pods-list')
        return ok(`@@nodes\n${s.nodes ?? 'node1\nnode2\nnode3\nnode4'}\n@@rc 0\n@@pods\n${s.list}\n@@rc 0\n`);
      if (o.label === 'pods-create')
        return s.create
          ? s.create(cmd)
          : ok(
              cmd
                .split('\n')
                .map((l) => {
                  const n = /@@run (\S+)/.exec(l)![1];
                  return `pod/${n} created\n@@run ${n} 0`;
                })
                .join('\n'),
            );
      if (o.label === 'pods-status') return ok(s.status[Math.min(polls++, s.status.length - 1)]!);
      if (o.label === 'pods-delete') return ok('pod "x" deleted\n');
      throw new Error(`unexpected ${o.label}`);
    },
  };
  const env: RunEnv = {
    transport: { connect: async () => session },
    now: () => 0,
    random: () => 0.5,
    sleep: async () => void sleeps++,
  };
  const cp = [{ name: 'node1' } as Target];
  const pods = new ProbePods(CLUSTER, cp, async () => session, env, DEFAULT_POD_IMAGE);
  return { pods, calls, sleeps: () => sleeps };
}

test("ProbePods: a pod only where none runs; nodes with their own wait for nothing more; the made pod's address; deleted once", async (t) => {
  const run = fake({ list: '', status: [] }).pods.run; // the id follows the run's random draw (0.5 here)
  const st = [
    `ksv-probe-${run}-node2   node2   Pending   <none>   false   ContainerCreating`,
    `ksv-probe-${run}-node2   node2   Running   10.233.65.9   true   <none>`,
  ];
  const g = fake({ list: 'node1   <none>\nnode2   true\n', status: st });
  g.pods.start(['node1', 'node2']);
  t.deepEqual(await g.pods.forHost('node1'), { name: null, ip: null, error: null });
  t.deepEqual(await g.pods.forHost('node2'), { name: `ksv-probe-${run}-node2`, ip: '10.233.65.9', error: null });
  t.deepEqual(g.calls, ['pods-list', 'pods-create', 'pods-status', 'pods-status']);
  t.is(g.sleeps(), 1, 'one pause between the polls');
  t.is(await g.pods.remove(), null);
  t.is(await g.pods.remove(), null);
  t.deepEqual(
    g.calls.filter((c) => c === 'pods-delete'),
    ['pods-delete'],
    'deleted once',
  );
  // every node has a pod: nothing is made, nothing deleted
  const h = fake({ list: 'node1   <none>\nnode2   <none>\n', status: [] });
  h.pods.start(['node1', 'node2']);
  t.deepEqual(await h.pods.forHost('node2'), { name: null, ip: null, error: null });
  await h.pods.remove();
  t.deepEqual(h.calls, ['pods-list']);
});

test('ProbePods: a pod that never runs is given up on after the wait (or at once on ErrImageNeverPull), said why, and still deleted', async (t) => {
  const g = fake({ list: '', status: [] });
  const name = `ksv-probe-${g.pods.run}-node3`;
  const slow = fake({ list: '', status: [`${name}   node3   Pending   <none>   false   ContainerCreating`] });
  const sname = `ksv-probe-${slow.pods.run}-node3`;
  t.is(sname, name);
  slow.pods.start(['node3']);
  const r = await slow.pods.forHost('node3');
  t.is(r.ip, null);
  t.is(r.error, `the pod ${name} did not run within ${POD_WAIT_MS / 1000} s (Pending, ContainerCreating)`);
  t.is(slow.calls.filter((c) => c === 'pods-status').length, POD_WAIT_MS / 1000 + 1);
  await slow.pods.remove();
  t.is(slow.calls[slow.calls.length - 1], 'pods-delete');
  const never = fake({ list: '', status: [`${name}   node3   Pending   <none>   false   ErrImageNeverPull`] });
  never.pods.start(['node3']);
  const n = await never.pods.forHost('node3');
  t.regex(
    n.error!,
    /ErrImageNeverPull\): registry\.k8s\.io\/pause:3\.10 is not on the node and is never pulled \(--pod-image/,
  );
  t.is(never.calls.filter((c) => c === 'pods-status').length, 1, 'no waiting for what cannot happen');
  const refused = fake({
    list: '',
    status: [],
    create: () => ok(`Error from server (Forbidden): pods "${name}" is forbidden: exceeded quota\n@@run ${name} 1\n`),
  });
  refused.pods.start(['node3']);
  t.regex(
    (await refused.pods.forHost('node3')).error!,
    /^kubectl run exited 1: Error from server \(Forbidden\).*exceeded quota/,
  );
  t.deepEqual(refused.calls, ['pods-list', 'pods-create']);
  await refused.pods.remove();
  t.is(
    refused.calls[refused.calls.length - 1],
    'pods-delete',
    'deleted even when kubectl run said no (it may have made some)',
  );
});

test('ProbePods: no pod for a host no Kubernetes node is named after (kube_override_hostname): said at once, nothing made', async (t) => {
  const f = fake({ list: '', status: [], nodes: 'k8s-a\nk8s-b' });
  f.pods.start(['node3']);
  t.regex(
    (await f.pods.forHost('node3')).error!,
    /^no Kubernetes node is named "node3" \(the cluster has k8s-a, k8s-b; Kubespray names nodes after the inventory unless kube_override_hostname says otherwise\): no pod was made$/,
  );
  await f.pods.remove();
  t.deepEqual(f.calls, ['pods-list']);
});

test('ProbePods: deletion begun before anything was made (SIGINT during the listing) makes nothing; during kubectl run it waits for it and deletes', async (t) => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const early = fake({ list: '', status: [], hold: (l) => (l === 'pods-list' ? gate : undefined) });
  early.pods.start(['node3']);
  const removing = early.pods.remove();
  release();
  t.is(await removing, null);
  t.regex((await early.pods.forHost('node3')).error!, /stopped before any pod was made/);
  t.deepEqual(early.calls, ['pods-list'], 'no kubectl run after the signal');
  let releaseRun: () => void = () => undefined;
  const runGate = new Promise<void>((r) => (releaseRun = r));
  const mid = fake({ list: '', status: [], hold: (l) => (l === 'pods-create' ? runGate : undefined) });
  mid.pods.start(['node3']);
  while (!mid.calls.includes('pods-create')) await new Promise((r) => setImmediate(r));
  const removing2 = mid.pods.remove();
  releaseRun();
  t.is(await removing2, null);
  t.deepEqual(
    mid.calls,
    ['pods-list', 'pods-create', 'pods-delete'],
    'kubectl run finished, then delete; no polling after the signal',
  );
});
