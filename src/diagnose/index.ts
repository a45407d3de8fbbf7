// Correlate checks, probes and counter deltas into named root causes (ids in CONTRACT.md), running
// every registered diagnosis module in rank order. Pure: same input, same diagnoses.
import type { Diagnosis, DiagnoseInput } from '../types.js';
import type { Reader } from '../checks/module.js';
import { MODULES } from './registry.gen.js';
import { type DiagnosisModule, explainsCheck, finish } from './module.js';
import { View } from './view.js';

export const DIAGNOSES: readonly DiagnosisModule[] = [...(MODULES as readonly DiagnosisModule[])].sort(
  (a, b) => a.rank - b.rank,
);

export function diagnosisReaders(): Reader[] {
  return DIAGNOSES.flatMap((m) => m.readers ?? []);
}

export function diagnose(input: DiagnoseInput): Diagnosis[] {
  const v = new View(input);
  const out: Diagnosis[] = [];
  const explains = (id: string, check: string) => DIAGNOSES.some((m) => m.id === id && explainsCheck(m, check));
  for (const m of DIAGNOSES) out.push(...m.run(v, out, { explains }).map(finish).map(once));
  return out;
}

/** No evidence line or host said twice in one diagnosis (modules gather them per path and per
 *  node; the same fact seen from two paths is one line). */
function once(d: Diagnosis): Diagnosis {
  return { ...d, hosts: [...new Set(d.hosts)], evidence: [...new Set(d.evidence)] };
}
