// DNS as a pod sees it, against the lab: the probes also run from a pod network namespace
// on every node that has one (the CoreDNS pods' cni-… namespaces behind their cali… veths), inside
// the node's one round trip; a node without one says so; with what pods send to a node dropped in
// its INPUT chain, exactly pod-to-host-blocked on exactly that node, none of the look-alikes; and a
// recording of it replays to the same report.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAULT_DEFS, useLab } from '../lab/lab.js';
import { withFault } from '../lab/probe.js';
import { podsFile, podsPendingMarker } from '../lab/kubectl-pods.js';
import { procAlive } from '../lab/sys.js';
import { CLI, failing, runCli, tempKnownHosts, validateJson } from './helpers.js';
import type { Bundle } from '../../src/record/bundle.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3 });
const kh = tempKnownHosts();
const work = mkdtempSync(join(tmpdir(), 'ksv-pod-'));
test.after.always(() => {
  kh.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const LOOKALIKES = FAULT_DEFS['pod-to-host-blocked'].expect.absent;
const why = (r: Report) => JSON.stringify(r.diagnoses.map((d) => ({ id: d.id, hosts: d.hosts, evidence: d.evidence })));
const result = (r: Report, check: string, host: string) => r.results.find((x) => x.check === check && x.host === host);

test.serial(
  'healthy: every node with a pod probes from its namespace too, in its one round trip; node3 has none and says so',
  async (t) => {
    const l = lab();
    const bundle = join(work, 'healthy');
    const { run, report } = await validateJson(l.inventoryDir, kh.file, ['--record', bundle]);
    t.is(run.code, 0, why(report));
    for (const ep of l.endpoints) {
      const mine = report.probes.filter((p) => p.host === ep.node && p.from === 'pod');
      t.is(
        mine.length,
        report.probes.filter((p) => p.host === ep.node && p.from === 'host').length,
        `${ep.node}: every path from the pod too`,
      );
      t.true(
        mine.every((p) => p.ok === p.sent && p.netns === ep.podNs && p.podIp === ep.ip),
        `${ep.node}: ${JSON.stringify(mine.filter((p) => p.ok !== p.sent))}`,
      );
      for (const role of ['nodelocaldns', 'coredns-service', 'coredns-endpoint'])
        for (const tr of ['udp', 'tcp']) {
          const r = result(report, `dns.pod.${role}.${tr}`, ep.node)!;
          t.is(r.status, 'pass', `${ep.node} ${r.check}`);
          t.is(r.evidence.netns, ep.podNs);
          t.is(r.evidence.podIp, ep.ip);
          t.is(r.evidence.hostInterface, ep.hostIf, "the node's veth towards the pod, from its routes");
          t.is(r.evidence.entered, 'setns', "the pod side ran in the probe program's own process");
        }
    }
    t.false(report.probes.some((p) => p.host === 'node3' && p.from === 'pod'));
    const skip = report.results.filter((r) => r.host === 'node3' && r.check.startsWith('dns.pod.'));
    t.is(skip.length, 6);
    t.true(
      skip.every((r) => r.status === 'skip' && /no pod network namespace on node3/.test(r.summary)),
      skip[0]?.summary,
    );
    t.true(report.probes.filter((p) => p.from !== 'pod').every((p) => p.from === 'host'));
    // still one command per node for the inspection and both probe programs
    const b = JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8')) as Bundle;
    for (const n of ['node1', 'node2', 'node3']) {
      const execs = b.nodes[n]!.execs.filter((e) => e.label !== 'endpoints');
      t.deepEqual(
        execs.map((e) => e.label),
        ['roundtrip'],
        n,
      );
      const out = execs[0]!.result.ok ? execs[0]!.result.stdout : '';
      t.true(out.includes('#KSV-POD\n'), `${n}: the pod section is in the round trip`);
    }
    // and the human table shows both
    const human = await runCli([
      '-i',
      l.inventoryDir,
      '--known-hosts',
      kh.file,
      '--progress',
      'none',
      '--probe-count',
      '2',
    ]);
    // one row for the pods that answered alike, the nodes they are on at its end
    t.regex(human.stdout, /\npod {3}\d+\/\d+ .* node1, node2\n/);
    t.regex(human.stdout, /\nno pod to probe from on node3 \(dns\.pod\.\* skipped; --pod-probes create makes one\)\n/);
  },
);

test.serial(
  "pod interfaces dropped in node2's INPUT: pod-to-host-blocked on node2 only, the rule named, none of the look-alikes; the recording replays to it",
  async (t) => {
    const l = lab();
    await withFault(l, 'pod-to-host-blocked', ['node2'], async () => {
      const bundle = join(work, 'blocked');
      const { run, report } = await validateJson(l.inventoryDir, kh.file, ['--record', bundle]);
      t.is(run.code, 1, why(report));
      t.deepEqual(failing(report), ['pod-to-host-blocked'], why(report));
      const d = report.diagnoses.find((x) => x.id === 'pod-to-host-blocked')!;
      t.deepEqual(d.hosts, ['node2']);
      const ep2 = l.endpoints.find((e) => e.node === 'node2')!;
      t.true(
        d.evidence.some((e) =>
          e.includes(
            `"-A INPUT -i cali+ -j DROP" (nft, filter INPUT) drops udp/53 and tcp/53 arriving on ${ep2.hostIf} for ${l.nodelocaldnsIp}`,
          ),
        ),
        why(report),
      );
      t.true(d.evidence.some((e) => e.includes(`network namespace ${ep2.podNs}`)));
      t.true(
        d.evidence.some((e) =>
          new RegExp(`its own probes to its CoreDNS pod ${ep2.ip.replace(/\./g, '\\.')} .* fail too`).test(e),
        ),
        "the node's own failing probes are explained",
      );
      t.true(d.fix.some((f) => f.includes('calico_endpoint_to_host_action: "ACCEPT"')));
      for (const id of LOOKALIKES)
        t.falsy(
          report.diagnoses.find((x) => x.id === id),
          id,
        );
      // the pods of node2 get nothing from NodeLocalDNS, node2 itself does; node1's pod is fine
      for (const tr of ['udp', 'tcp']) {
        t.is(result(report, `dns.pod.nodelocaldns.${tr}`, 'node2')?.status, 'fail');
        t.is(result(report, `dns.pod.nodelocaldns.${tr}`, 'node1')?.status, 'pass');
        t.is(result(report, `dns.pod.coredns-service.${tr}`, 'node2')?.status, 'pass', 'forwarded pod traffic passes');
      }
      // node2 itself gets answers from NodeLocalDNS — unless node-cache's upstream connection went to
      // the CoreDNS pod on node2, whose replies the same rule drops: then the evidence says so
      const hostOk = report.probes.some(
        (p) => p.host === 'node2' && p.from === 'host' && p.role === 'nodelocaldns' && (p.ok ?? 0) > 0,
      );
      t.true(
        hostOk || d.evidence.some((e) => e.startsWith("node2: the node's own queries to NodeLocalDNS fail too")),
        why(report),
      );
      const replayed = await runCli(['replay', bundle, '-o', 'json']);
      t.is(replayed.code, 1);
      t.deepEqual(JSON.parse(replayed.stdout), report, 'replay gives the same report');
    });
  },
);

test.serial(
  'pod interfaces dropped on node3, which has no pod: nothing to see from a pod there (skip), nothing fails',
  async (t) => {
    const l = lab();
    await withFault(l, 'pod-to-host-blocked', ['node3'], async () => {
      const { run, report } = await validateJson(l.inventoryDir, kh.file);
      t.is(run.code, 0, why(report));
      t.true(
        report.results
          .filter((r) => r.host === 'node3' && r.check.startsWith('dns.pod.'))
          .every((r) => r.status === 'skip'),
      );
    });
  },
);

// --pod-probes create -----------------------------------------------------------------------------

interface LabPod {
  metadata: { name: string; labels: Record<string, string> };
  spec: { nodeName: string };
  status: { podIP?: string };
  lab?: { netns: string; pid: number };
}
const labPods = (dir: string): LabPod[] =>
  existsSync(podsFile(dir)) ? (JSON.parse(readFileSync(podsFile(dir), 'utf8')) as LabPod[]) : [];
const netnsNames = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;

test.serial(
  '--pod-probes create: a pause pod on node3 only (the others have pods), probed from like any pod, then deleted; the recording replays',
  async (t) => {
    const l = lab();
    const bundle = join(work, 'create');
    const before = labPods(l.dir).length;
    const { run, report } = await validateJson(l.inventoryDir, kh.file, ['--pod-probes', 'create', '--record', bundle]);
    t.is(run.code, 0, why(report) + run.stderr);
    const b = JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8')) as Bundle;
    const cp = b.nodes.node1!.execs;
    const created = cp.find((e) => e.label === 'pods-create')!;
    t.truthy(created, 'kubectl run on the control-plane node');
    t.regex(
      created.command,
      / run ksv-probe-[a-z0-9]{6}-node3 -n default --image=registry\.k8s\.io\/pause:3\.10 --restart=Never --image-pull-policy=Never /,
    );
    t.false(/node1|node2/.test(created.command.replace(/--kubeconfig \S+/, '')), 'no pod for the nodes that have one');
    const overrides = JSON.parse(/'--overrides=([^']+)'/.exec(created.command)![1]!) as {
      spec: { nodeName: string; containers: { imagePullPolicy: string }[]; activeDeadlineSeconds: number };
    };
    t.is(overrides.spec.nodeName, 'node3');
    t.is(overrides.spec.containers[0]!.imagePullPolicy, 'Never');
    t.true(overrides.spec.activeDeadlineSeconds > 0);
    t.truthy(
      cp.find((e) => e.label === 'pods-delete'),
      'and deleted',
    );
    // node3 probed from the pod made for it: its address, a cni- namespace named on node3
    const mine = report.probes.filter((p) => p.host === 'node3' && p.from === 'pod');
    t.true(mine.length > 0);
    const r = result(report, 'dns.pod.nodelocaldns.udp', 'node3')!;
    t.is(r.status, 'pass', r.summary);
    t.regex(String(r.evidence.pod), /^ksv-probe-[a-z0-9]{6}-node3 \(made by --pod-probes create\)$/);
    t.regex(String(r.evidence.netns), /^cni-/);
    t.true(mine.every((p) => p.podIp === r.evidence.podIp && p.ok === p.sent));
    // gone: the API object, its sandbox process and its namespace
    t.is(labPods(l.dir).length, before);
    t.false(netnsNames().includes(String(r.evidence.netns)));
    const replayed = await runCli(['replay', bundle, '-o', 'json']);
    t.is(replayed.code, 0);
    t.deepEqual(JSON.parse(replayed.stdout), report, 'replay gives the same report');
  },
);

test.serial(
  '--pod-probes create finds pod-to-host-blocked on node3, which has no pod of its own; without the flag node3 is skipped and nothing is made',
  async (t) => {
    const l = lab();
    await withFault(l, 'pod-to-host-blocked', ['node3'], async () => {
      const { run, report } = await validateJson(l.inventoryDir, kh.file, ['--pod-probes', 'create']);
      t.is(run.code, 1, why(report));
      t.deepEqual(failing(report), ['pod-to-host-blocked'], why(report));
      t.deepEqual(report.diagnoses.find((d) => d.id === 'pod-to-host-blocked')!.hosts, ['node3']);
      t.is(labPods(l.dir).length, 0, 'the pod is deleted after a failing run too');
      const plain = await validateJson(l.inventoryDir, kh.file, ['--record', join(work, 'plain')]);
      t.is(plain.run.code, 0);
      const b = JSON.parse(readFileSync(join(work, 'plain', 'bundle.json'), 'utf8')) as Bundle;
      t.false(
        Object.values(b.nodes).some((n) => n.execs.some((e) => e.label.startsWith('pods-'))),
        'without --pod-probes create nothing on the cluster is asked or changed',
      );
    });
  },
);

test.serial(
  '--pod-probes create, SIGINT while the pod is still being created: exit 130 and the pod is deleted',
  async (t) => {
    const l = lab();
    writeFileSync(podsPendingMarker(l.dir), '');
    try {
      const child = spawn(
        process.execPath,
        [
          CLI,
          '-i',
          l.inventoryDir,
          '--known-hosts',
          kh.file,
          '-o',
          'json',
          '--progress',
          'none',
          '--pod-probes',
          'create',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const until = Date.now() + 30_000;
      while (!labPods(l.dir).length && Date.now() < until) await sleep(100);
      const made = labPods(l.dir);
      t.is(made.length, 1, 'the pod was made (and waits in ContainerCreating)');
      await sleep(1500);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.on('close', r));
      t.is(code, 130, err);
      t.is((JSON.parse(out) as Report).interrupted, 'SIGINT');
      t.deepEqual(labPods(l.dir), [], 'deleted on SIGINT');
      t.false(procAlive(made[0]!.lab!.pid), 'its sandbox is gone');
      t.false(netnsNames().includes(made[0]!.lab!.netns));
    } finally {
      rmSync(podsPendingMarker(l.dir), { force: true });
    }
  },
);
