// Checks a validator report against a lab fault's record (test/lab/faults.ts): its diagnoses on its
// nodes, its exit code, none of its look-alikes, only its checks failing and only where it is applied.
import type { ExecutionContext } from 'ava';
import { FAULT_DEFS, type Fault, type Lab } from '../lab/lab.js';
import { OVERLAYS } from '../lab/topology.js';
import { failing, type CliRun } from './helpers.js';
import type { Report } from '../../src/types.js';

export const why = (r: Report) =>
  JSON.stringify({
    diagnoses: r.diagnoses.map((d) => ({ id: d.id, severity: d.severity, hosts: d.hosts, evidence: d.evidence })),
    bad: r.results.filter((x) => x.status === 'fail' || x.status === 'error').map((x) => `${x.host} ${x.check}`),
  }).slice(0, 4000);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A record's pattern with its placeholders filled in for this lab and node. */
export function pattern(l: Lab, text: string, node: string | undefined): RegExp {
  const o = OVERLAYS[l.plugin];
  const fill: Record<string, string> = {
    node: node ?? '',
    device: o.device,
    port: String(o.port),
    podInputIf: o.podInputIf,
  };
  // the record's own text is a pattern; what fills a placeholder is matched as written
  return new RegExp(text.replace(/\{(node|device|port|podInputIf)\}/g, (_m, k: string) => escape(fill[k]!)));
}

/** The command a record's remediation names, for this lab. */
export const fixCommand = (l: Lab, f: Fault): string | undefined =>
  FAULT_DEFS[f].expect.fix?.replace('{device}', OVERLAYS[l.plugin].device);

/** Every expectation of fault `f`'s record, for a run with the fault on `on` (undefined: as the lab
 *  applies it with no nodes given). */
export function expectFault(
  t: ExecutionContext,
  l: Lab,
  f: Fault,
  on: string[] | undefined,
  run: CliRun,
  report: Report,
  alsoTolerated: string[] = [],
  opts: { flips?: boolean } = {},
): void {
  const def = FAULT_DEFS[f];
  const e = def.expect;
  const all = l.nodes.map((n) => n.name);
  const applied = def.scope === 'cluster' ? [] : (on ?? all);
  const others = all.filter((n) => !applied.includes(n));
  const tolerated = [...(e.tolerated ?? []), ...alsoTolerated];
  const fails = failing(report);
  t.deepEqual(
    fails.filter((id) => !tolerated.includes(id)),
    [...e.diagnoses].sort(),
    `${f}: failing diagnoses ${why(report)}`,
  );
  // a tolerated failing diagnosis makes a passing run exit 1; a failing one exits as it would anyway
  if (e.exit !== 0 || !fails.some((id) => tolerated.includes(id)))
    t.is(run.code, e.exit, `${f}: exit code ${why(report)}`);
  for (const id of e.absent.filter((x) => !tolerated.includes(x)))
    t.falsy(
      report.diagnoses.find((d) => d.id === id),
      `${f}: ${id} named ${why(report)}`,
    );
  const first = e.diagnoses[0] && report.diagnoses.find((d) => d.id === e.diagnoses[0]);
  if (e.diagnoses[0]) {
    t.truthy(first, `${f}: ${e.diagnoses[0]} ${why(report)}`);
    if (!first) return;
    t.true(first.evidence.length > 0, `${f}: evidence`);
    if (e.hosts === 'applied' && on) t.deepEqual([...first.hosts].sort(), [...on].sort(), `${f}: its hosts`);
    for (const p of e.evidence ?? [])
      for (const node of p.includes('{node}') ? applied : [undefined])
        t.true(
          first.evidence.some((x) => pattern(l, p, node).test(x)),
          `${f}: evidence /${pattern(l, p, node).source}/ in ${first.evidence.join('\n')}`,
        );
    if (e.summary) t.regex(first.summary, pattern(l, e.summary, undefined), `${f}: summary`);
    const fix = fixCommand(l, f);
    if (fix)
      t.true(
        first.fix.some((x) => x.includes(fix)),
        `${f}: remediation ${JSON.stringify(first.fix)}`,
      );
  }
  if (e.flips && on && def.scope === 'node' && opts.flips !== false) {
    const bad = report.results.filter((r) => r.status === 'fail' || r.status === 'error');
    t.deepEqual([...new Set(bad.map((r) => r.host))].sort(), [...on].sort(), `${f}: only the touched nodes fail`);
    t.deepEqual([...new Set(bad.map((r) => r.check))].sort(), [...e.flips].sort(), `${f}: exactly these checks flip`);
  }
  for (const r of e.results ?? []) {
    const of = report.results.filter((x) => x.check === r.check);
    if (r.on === 'cluster') t.is(of.length, 1, `${f}: one ${r.check} result`);
    const hosts =
      r.on === 'cluster'
        ? of.map((x) => x.host)
        : r.on === 'applied'
          ? def.scope === 'cluster'
            ? all
            : applied
          : others;
    for (const h of hosts) {
      const got = of.find((x) => x.host === h);
      t.is<string | undefined, string>(got?.status, r.status, `${f}: ${r.check} on ${h}: ${JSON.stringify(got)}`);
      for (const ev of r.evidence ?? []) {
        const v = got?.evidence[ev.field];
        if (ev.holds !== undefined)
          t.true(JSON.stringify(v).includes(ev.holds), `${f}: ${h} ${ev.field} ${JSON.stringify(v)}`);
        if (ev.length !== undefined) t.is((v as unknown[] | undefined)?.length, ev.length, `${f}: ${h} ${ev.field}`);
      }
    }
  }
}
