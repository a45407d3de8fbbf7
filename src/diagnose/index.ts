// Correlate checks, probes and counter deltas into named root causes, running every registered
// diagnosis module in the order their declarations ask for (registry.ts). Pure: same input, same
// diagnoses.
import type { Diagnosis, DiagnoseInput } from '../types.js';
import { DIAGNOSES } from './registry.js';
import { explainsCheck, finish } from './module.js';
import { gatherFacts } from './facts.js';
import { View } from './view.js';

export { DIAGNOSES, DIAGNOSIS_IDS, diagnosisReaders, type DiagnosisId } from './registry.js';

export function diagnose(input: DiagnoseInput): Diagnosis[] {
  const v = new View(input);
  const facts = gatherFacts(v);
  const out: Diagnosis[] = [];
  const explainsCheckOf = (id: string, check: string) => DIAGNOSES.some((m) => m.id === id && explainsCheck(m, check));
  for (const m of DIAGNOSES) {
    // a failing finding of a diagnosis that explains this one: it does not run
    if (out.some((d) => d.severity === 'fail' && DIAGNOSES.some((x) => x.id === d.id && x.explains?.includes(m.id))))
      continue;
    const seen = m.after === 'all' ? out : out.filter((d) => (m.after ?? []).includes(d.id));
    const ctx = {
      facts,
      earlier: seen,
      hosts: (id: string) => seen.filter((d) => d.id === id).flatMap((d) => d.hosts),
      explainsCheck: explainsCheckOf,
    };
    out.push(...m.run(v, ctx).map((d) => once(finish(m.id, d))));
  }
  return out;
}

/** No evidence line or host said twice in one diagnosis (modules gather them per path and per
 *  node; the same fact seen from two paths is one line). */
function once(d: Diagnosis): Diagnosis {
  return { ...d, hosts: [...new Set(d.hosts)], evidence: [...new Set(d.evidence)] };
}
