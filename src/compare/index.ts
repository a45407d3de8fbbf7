// Compare two reports (pure): what got worse since the baseline, what got better, and what could
// not be compared and why. `--baseline` attaches the result to the new report; `diff` prints it.
import type { Report } from '../types.js';
import { EXIT } from '../types.js';
import type { Change, ChangeKind, Comparison, Thresholds } from './types.js';
import { DEFAULT_THRESHOLDS } from './types.js';
import { byName, compareHosts } from './scope.js';
import { compareChecks } from './checks.js';
import { compareDiagnoses } from './diagnoses.js';
import { compareProbes } from './probes.js';

export type { Change, Comparison, Thresholds } from './types.js';
export { DEFAULT_THRESHOLDS } from './types.js';

const KIND_ORDER: ChangeKind[] = ['host', 'diagnosis', 'check', 'probe', 'latency'];

/** Host names, ids and texts come from report files: keep every summary and note one line. */
const flat = (s: string) => s.replace(/[\u0000-\u001f\u007f]+/g, ' ');

function order(list: Change[]): Change[] {
  const pathKey = (c: Change) =>
    c.path ? [c.path.role, c.path.server, c.path.name, c.path.type, c.path.transport].join(' ') : '';
  return list
    .map((c) => ({ ...c, summary: flat(c.summary) }))
    .sort(
      (a, b) =>
        KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
        byName(a.host ?? '', b.host ?? '') ||
        byName(a.id, b.id) ||
        byName(pathKey(a), pathKey(b)),
    );
}

/** What differs in the cluster model the two runs derived from their inventories. */
function clusterNotes(base: Report, now: Report): string[] {
  const cb = (base.cluster ?? {}) as unknown as Record<string, unknown>;
  const cc = (now.cluster ?? {}) as unknown as Record<string, unknown>;
  const diffs = [...new Set([...Object.keys(cb), ...Object.keys(cc)])]
    .filter((k) => JSON.stringify(cb[k]) !== JSON.stringify(cc[k]))
    .map((k) => `${k} ${JSON.stringify(cb[k] ?? null)} → ${JSON.stringify(cc[k] ?? null)}`);
  return diffs.length ? [`the cluster settings differ (${diffs.join(', ')}): compared anyway, host by host`] : [];
}

export function compareReports(base: Report, now: Report, thresholds: Thresholds = DEFAULT_THRESHOLDS): Comparison {
  const hosts = compareHosts(base, now);
  const { scope } = hosts;
  const checks = compareChecks(base, now, scope);
  const diagnoses = compareDiagnoses(base, now, scope);
  const probes = compareProbes(base, now, scope, thresholds);
  const notes: string[] = [];
  if (base.tool.version !== now.tool.version)
    notes.push(
      `the baseline was written by kubespray-validate ${base.tool.version}, this is ${now.tool.version}: checks either version lacks are not compared`,
    );
  if (base.fix) notes.push('the baseline ran --fix: compared with its state after the fixes');
  if (scope.cluster) notes.push(...clusterNotes(base, now));
  notes.push(...hosts.notes, ...checks.notes, ...probes.notes);
  return {
    baseline: { startedAt: base.startedAt, version: base.tool.version },
    regressions: order([...hosts.regressions, ...diagnoses.regressions, ...checks.regressions, ...probes.regressions]),
    resolved: order([...hosts.resolved, ...diagnoses.resolved, ...checks.resolved, ...probes.resolved]),
    hosts: { added: hosts.added, removed: hosts.removed },
    compared: {
      hosts: scope.both.size,
      checks: checks.compared,
      paths: probes.compared,
      diagnoses: diagnoses.compared,
    },
    notes: notes.map(flat),
    thresholds,
  };
}

/** The report with its comparison attached. Exit codes keep their meaning; with --strict a
 *  regression fails the run (exit 1, also when it would otherwise be 3). */
export function withComparison(report: Report, comparison: Comparison, strict: boolean): Report {
  const failed = strict && comparison.regressions.length > 0;
  const exitCode = failed ? EXIT.failed : report.summary.exitCode;
  return { ...report, summary: { ...report.summary, exitCode }, comparison };
}
