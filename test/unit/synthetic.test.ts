// The bench's synthetic cluster (bench/synthetic.ts): every node answered from a recorded bundle,
// renumbered per node, through the whole validator.
import test from 'ava';
import { join } from 'node:path';
import { readBundle, replayTarget } from '../../src/record/bundle.js';
import { synthesize } from '../../bench/synthetic.js';
import { Validator } from '../../src/run/validator.js';
import { selectChecks } from '../../src/checks/registry.js';
import { Progress } from '../../src/report/progress.js';
import { ROOT } from '../e2e/helpers.js';

async function run(bundle: string, n: number, forks: number) {
  const b = readBundle(join(ROOT, 'test', 'fixtures', 'bundles', bundle));
  const syn = synthesize(b, n);
  const cluster = { ...b.cluster, podsSubnets: ['198.19.0.0/16'], nodes: syn.nodes.map((x) => x.target.name) };
  const report = await new Validator(
    {
      forks,
      probeCount: b.options.probeCount,
      probeTimeoutMs: b.options.probeTimeoutMs,
      externalName: b.options.externalName,
      strict: false,
      fix: false,
      selection: selectChecks([], []),
      podProbes: 'existing',
    },
    { cluster, targets: syn.nodes.map((x) => replayTarget(x.target)), controlPlane: b.controlPlane.map(replayTarget) },
    syn.env,
    new Progress('none', forks),
  ).run();
  return { report, syn };
}

test('a healthy bundle made 12 nodes: each its own name and address, every one inspected and passing, the copies of a node with a pod probing from their own pod address', async (t) => {
  const { report, syn } = await run('healthy', 12, 4);
  t.is(new Set(report.hosts.map((h) => h.address)).size, 12);
  t.true(
    report.hosts.every((h) => h.inspected),
    JSON.stringify(report.hosts.filter((h) => !h.inspected)),
  );
  t.is(report.summary.exitCode, 0);
  t.deepEqual(report.diagnoses, []);
  // node4 copies node2 (a CoreDNS pod at 198.19.0.5): its pod is 198.19.0.0 + 4*3 + 1
  const pod4 = report.probes.filter((p) => p.host === 'node4' && p.from === 'pod');
  t.true(pod4.length > 0);
  t.true(pod4.every((p) => p.podIp === '198.19.0.13'));
  // the CoreDNS endpoints stay the recorded ones: node4 probes 198.19.0.1 and .5 like node2
  t.deepEqual(
    [
      ...new Set(report.probes.filter((p) => p.host === 'node4' && p.role === 'coredns-endpoint').map((p) => p.server)),
    ].sort(),
    ['198.19.0.1', '198.19.0.5'],
  );
  // kept to the end: node1 (the control plane: the endpoint lookup) and node2 (a CoreDNS pod: the recount)
  t.true(syn.open.peak <= 4 + 2, `at most --forks connections at once, and the two kept (${syn.open.peak})`);
  t.is(syn.open.total, 12);
});

test('a fault bundle made 6 nodes: the faulty node and its copies are named, and nothing else', async (t) => {
  const { report } = await run('pod-to-host-node2', 6, 3);
  t.deepEqual(
    report.diagnoses.map((d) => [d.id, d.hosts]),
    [['pod-to-host-blocked', ['node2', 'node4', 'node6']]],
  );
});
