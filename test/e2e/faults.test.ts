// Every lab fault, run from its record in test/lab/faults.ts on one 3-node Calico lab: applied as the
// record says, the validator must report exactly its diagnoses on exactly its nodes with its exit code,
// none of its look-alikes, only its checks failing and only there; where the record asks, a second
// run with --fix lifts it and passes.
import test, { type ExecutionContext } from 'ava';
import { FAULTS, FAULT_DEFS, useLab, type Fault, type Lab } from '../lab/lab.js';
import { expectFault, fixCommand, why } from './fault-expect.js';
import { failing, tempKnownHosts, validateJson } from './helpers.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3 });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

let healthy: Report | null = null;

test.serial('healthy lab first: CoreDNS endpoints from EndpointSlices, no failing diagnosis', async (t) => {
  const l = lab();
  await l.clear();
  const { run, report } = await validateJson(l.inventoryDir, kh.file);
  t.is(run.code, 0, why(report));
  t.deepEqual(failing(report), []);
  const ep = report.results.find((r) => r.check === 'coredns.endpoints')!;
  t.is(ep.status, 'pass');
  t.is(ep.evidence.source, 'endpointslices');
  t.is((ep.evidence.endpoints as string[]).length, l.endpoints.length);
  healthy = report;
});

/** What a record cannot say as data: a comparison with the healthy run. */
const more: Partial<Record<Fault, (t: ExecutionContext, l: Lab, report: Report) => void>> = {
  // without v1 Endpoints the run is unchanged: every endpoint probed, from every node, answering
  'endpoints-gone': (t, l, report) => {
    const e = report.results.find((r) => r.check === 'coredns.endpoints')!;
    t.is((e.evidence.endpoints as string[]).length, l.endpoints.length);
    const eps = report.probes.filter((p) => p.role === 'coredns-endpoint');
    t.truthy(healthy, 'the healthy run came first');
    t.is<number | undefined, number | undefined>(
      eps.length,
      healthy?.probes.filter((p) => p.role === 'coredns-endpoint').length,
    );
    t.true(
      eps.every((p) => (p.ok ?? 0) > 0),
      'every endpoint answered from every node',
    );
  },
};

for (const f of FAULTS) {
  const e = FAULT_DEFS[f].expect;
  for (const r of e.runs) {
    const what = e.diagnoses.length ? e.diagnoses.join(', ') : 'no failing diagnosis';
    test.serial(
      `${f}${r.on ? ` on ${r.on.join(',')}` : ''}: ${what}, exit ${e.exit}${r.fix ? '; --fix lifts it' : ''}`,
      async (t) => {
        const l = lab();
        await l.clear();
        await l.fault(f, r.on ? { nodes: r.on } : undefined);
        try {
          const { run, report } = await validateJson(l.inventoryDir, kh.file);
          expectFault(t, l, f, r.on, run, report, r.tolerated);
          more[f]?.(t, l, report);
          if (!r.fix) return;
          const fixed = await validateJson(l.inventoryDir, kh.file, ['--fix']);
          t.is(fixed.run.code, 0, why(fixed.report));
          t.truthy(fixed.report.fix);
          const applied = fixed.report.fix!.applied;
          t.deepEqual(
            applied.map((a) => [a.host, a.command, a.ok]).sort(),
            (r.on ?? l.nodes.map((n) => n.name)).map((n) => [n, fixCommand(l, f), true]).sort(),
            'the fix, once on each node the fault is on',
          );
          t.truthy(fixed.report.fix!.before.diagnoses.find((x) => x.id === e.diagnoses[0]));
          t.deepEqual(failing(fixed.report), []);
          t.is(fixed.report.summary.fail, 0);
        } finally {
          await l.clear();
        }
      },
    );
  }
}
