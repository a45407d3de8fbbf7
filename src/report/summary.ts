// Counts and the exit code, as the README documents them:
//   0 every check passed (warnings allowed unless --strict)
//   1 at least one check failed on a node that could be inspected
//   2 usage/inventory/configuration error (decided before a report exists)
//   3 no check failed, but at least one node could not be inspected
import type { CheckResult, HostReport, ReportSummary, Status } from '../types.js';
import { EXIT } from '../types.js';

export { EXIT };

export function summarize(hosts: HostReport[], results: CheckResult[], strict: boolean): ReportSummary {
  const counts: Record<Status, number> = { pass: 0, warn: 0, fail: 0, error: 0, skip: 0 };
  for (const r of results) counts[r.status]++;
  return { ...counts, exitCode: exitCode(hosts, results, strict) };
}

export function exitCode(hosts: HostReport[], results: CheckResult[], strict: boolean): number {
  const inspected = new Set(hosts.filter((h) => h.inspected).map((h) => h.name));
  const known = new Set(hosts.map((h) => h.name));
  // Cluster-wide results count wherever they are filed: host "*", or a control-plane node outside
  // --limit that answered for the cluster (coredns.endpoints).
  const onInspected = (r: CheckResult) => r.host === '*' || inspected.has(r.host) || !known.has(r.host);
  const failed = results.some((r) => onInspected(r) && (r.status === 'fail' || (strict && r.status === 'warn')));
  if (failed) return EXIT.failed;
  // A node we could not reach, or a check that could not run on a reached node, means the
  // cluster was not fully inspected: that is not a pass.
  const incomplete = hosts.some((h) => !h.inspected) || results.some((r) => r.status === 'error');
  return incomplete ? EXIT.uninspected : EXIT.ok;
}
