// Diagnoses, per diagnosis id and host: a diagnosis named on a host where the baseline did not
// name it (new, or on more hosts) or named more severely is a regression; one no longer named is
// resolved. host-unreachable is left to the host comparison, which says the same with its reason.
import type { Diagnosis, Report, Severity } from '../types.js';
import type { Change } from './types.js';
import { oneLine, type Scope } from './scope.js';
import type { DiagnosisId } from '../diagnose/registry.js';

const RANK: Record<Severity, number> = { warn: 1, fail: 2 };
const LEFT_TO_HOSTS: ReadonlySet<string> = new Set<DiagnosisId>(['host-unreachable']);

export interface DiagnosisComparison {
  regressions: Change[];
  resolved: Change[];
  compared: number;
}

/** (id, host) -> the diagnosis, worst severity first; cluster-wide ones (no hosts) under host "". */
function index(r: Report, scope: Scope): Map<string, { id: string; host: string; d: Diagnosis }> {
  const m = new Map<string, { id: string; host: string; d: Diagnosis }>();
  for (const d of r.diagnoses) {
    if (LEFT_TO_HOSTS.has(d.id)) continue;
    for (const host of d.hosts.length ? d.hosts : ['']) {
      if (host ? !scope.both.has(host) : !scope.cluster) continue;
      const key = `${d.id}\u0000${host}`;
      const prev = m.get(key);
      if (!prev || RANK[d.severity] > RANK[prev.d.severity]) m.set(key, { id: d.id, host, d });
    }
  }
  return m;
}

export function compareDiagnoses(base: Report, now: Report, scope: Scope): DiagnosisComparison {
  const b = index(base, scope);
  const c = index(now, scope);
  const out: DiagnosisComparison = {
    regressions: [],
    resolved: [],
    compared: new Set([...b.keys(), ...c.keys()]).size,
  };
  const entry = (
    id: string,
    host: string,
    before: Severity | null,
    after: Severity | null,
    summary: string,
  ): Change => ({
    kind: 'diagnosis',
    ...(host ? { host } : {}),
    id,
    before,
    after,
    summary: `${host ? `${host}: ` : ''}${summary}`,
  });
  for (const [key, { id, host, d }] of c) {
    const then = b.get(key);
    if (!then)
      out.regressions.push(entry(id, host, null, d.severity, `${id} named (${d.severity}): ${oneLine(d.summary)}`));
    else if (RANK[d.severity] > RANK[then.d.severity])
      out.regressions.push(
        entry(id, host, then.d.severity, d.severity, `${id} ${then.d.severity} → ${d.severity}: ${oneLine(d.summary)}`),
      );
    else if (RANK[d.severity] < RANK[then.d.severity])
      out.resolved.push(entry(id, host, then.d.severity, d.severity, `${id} ${then.d.severity} → ${d.severity}`));
  }
  for (const [key, { id, host, d }] of b)
    if (!c.has(key))
      out.resolved.push(
        entry(id, host, d.severity, null, `${id} no longer named (was ${d.severity}: ${oneLine(d.summary)})`),
      );
  return out;
}
