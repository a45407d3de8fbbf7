// The offload bug in its other real forms, end to end on namespace labs: the UDP mirror image
// (UDP leaving the overlay device corrupt while TX offload is on), Felix's own fix (TX off, RX on),
// and the checksum fault and its UDP form on flannel's flannel.1. Each yields exactly its diagnosis on
// exactly its nodes, none of the look-alikes, and a green second pass with --fix; the Felix-fixed
// and the healthy lab pass under --strict.
import test from 'ava';
import { useLab, type Lab } from '../lab/lab.js';
import { expectFault, fixCommand } from './fault-expect.js';
import { failing, tempKnownHosts, validateJson } from './helpers.js';
import type { Report } from '../../src/types.js';

const calico = useLab(test, { nodes: 3, prefix: 'ksvoffc' });
const flannel = useLab(test, { nodes: 3, prefix: 'ksvofff', plugin: 'flannel' });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

const dump = (r: Report) =>
  JSON.stringify({
    diagnoses: r.diagnoses,
    bad: r.results.filter((x) => x.status !== 'pass' && x.status !== 'skip'),
  }).slice(0, 4000);

type FaultName = Parameters<Lab['fault']>[0];

/** Apply a fault on some nodes, validate, check it against the fault's record, validate again with --fix. */
async function offloadForm(t: import('ava').ExecutionContext, lab: Lab, fault: FaultName, nodes: string[]) {
  await lab.clear();
  await lab.fault(fault, { nodes });
  try {
    const { run, report } = await validateJson(lab.inventoryDir, kh.file);
    // diagnoses, exit code, hosts, summary, evidence, look-alikes and remediation as the record says;
    // which checks fail depends on where this lab's CoreDNS pods are, so not its `flips`
    expectFault(t, lab, fault, nodes, run, report, [], { flips: false });
    // failing checks only on the faulty nodes, or on paths to their CoreDNS pod
    const bad = report.results.filter((r) => r.status === 'fail' || r.status === 'error');
    t.true(
      bad.every((r) => r.check.startsWith('dns.')),
      dump(report),
    );
    const fixed = await validateJson(lab.inventoryDir, kh.file, ['--fix']);
    t.is(fixed.run.code, 0, dump(fixed.report));
    t.deepEqual(
      fixed.report.fix!.applied.map((a) => [a.host, a.command, a.ok]),
      nodes.map((n) => [n, fixCommand(lab, fault), true]),
    );
    t.deepEqual(failing(fixed.report), []);
    t.is(fixed.report.summary.fail, 0);
  } finally {
    await lab.clear();
  }
}

test.serial(
  "Calico: UDP corrupted leaving vxlan.calico on a node without CoreDNS -> checksum-offload there only, counted in the CoreDNS pods' namespaces; --fix passes",
  async (t) => {
    await offloadForm(t, calico(), 'checksum-udp', ['node3']);
  },
);

test.serial(
  'Calico: UDP corrupted on a node hosting CoreDNS -> checksum-offload there only; --fix passes',
  async (t) => {
    await offloadForm(t, calico(), 'checksum-udp', ['node1']);
  },
);

test.serial(
  "Felix's own fix (TX off, RX on) on every node: green under --strict, overlay.offload passes and says so",
  async (t) => {
    const lab = calico();
    await lab.clear();
    await lab.fault('felix-tx-off');
    try {
      const { run, report } = await validateJson(lab.inventoryDir, kh.file, ['--strict']);
      t.is(run.code, 0, dump(report));
      t.is(report.summary.warn, 0);
      t.deepEqual(report.diagnoses, []);
      for (const h of ['node1', 'node2', 'node3']) {
        const r = report.results.find((x) => x.check === 'overlay.offload' && x.host === h)!;
        t.is(r.status, 'pass');
        t.regex(r.summary, /TX checksum offload is off for vxlan\.calico \(RX on, as Felix leaves it/);
      }
    } finally {
      await lab.clear();
    }
  },
);

test.serial(
  'a healthy Calico lab with offload on (kernel above 5.7) is green under --strict: offload on is information, not a warning',
  async (t) => {
    const lab = calico();
    await lab.clear();
    const { run, report } = await validateJson(lab.inventoryDir, kh.file, ['--strict']);
    t.is(run.code, 0, dump(report));
    t.is(report.summary.warn, 0);
    const r = report.results.filter((x) => x.check === 'overlay.offload');
    t.is(r.length, 3);
    t.true(
      r.every((x) => x.status === 'pass' && /on for vxlan\.calico \(kernel .* is above 5\.7\.0/.test(x.summary)),
      JSON.stringify(r),
    );
    t.true(report.results.filter((x) => x.check === 'overlay.nic-offload').every((x) => x.status === 'pass'));
  },
);

test.serial(
  'flannel: the checksum fault on flannel.1 -> checksum-offload on that node with the flannel.1 fix; --fix passes',
  async (t) => {
    await offloadForm(t, flannel(), 'checksum', ['node2']);
  },
);

test.serial('flannel: the UDP form on flannel.1 -> checksum-offload on that node; --fix passes', async (t) => {
  await offloadForm(t, flannel(), 'checksum-udp', ['node3']);
});

test.serial(
  'flannel: a healthy lab is green under --strict; the overlay checks look at flannel.1 on port 8472',
  async (t) => {
    const lab = flannel();
    await lab.clear();
    const { run, report } = await validateJson(lab.inventoryDir, kh.file, ['--strict']);
    t.is(run.code, 0, dump(report));
    t.is(report.cluster.networkPlugin, 'flannel');
    for (const h of ['node1', 'node2', 'node3']) {
      const i = report.results.find((x) => x.check === 'overlay.interface' && x.host === h)!;
      t.is(i.status, 'pass');
      t.regex(i.summary, /flannel\.1 is up \(vxlan, VNI 1, port 8472\)/);
    }
  },
);
