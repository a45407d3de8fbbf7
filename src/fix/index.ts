// --fix: plan (pure) and apply (thin). The plan is every safe remediation the diagnoses carry that
// is one command (argv) on named hosts, for hosts that were inspected; nothing else is ever run.
import type { Diagnosis, DiagnoseInput } from '../types.js';
import { shJoin } from '../transport/quote.js';

export interface FixAction {
  host: string;
  diagnosis: string;
  argv: string[];
  /** the command line sent, every word quoted */
  command: string;
}

/** Words a safe remediation may carry: command names, device names, on/off, numbers. */
const SAFE_WORD = /^-{0,2}[A-Za-z0-9][A-Za-z0-9._:@%+=,/-]*$/;

export function safeFixes(diagnoses: Diagnosis[], input: Pick<DiagnoseInput, 'hosts'>): FixAction[] {
  const inspected = new Set(input.hosts.filter((h) => h.inspected).map((h) => h.name));
  const out: FixAction[] = [];
  for (const d of diagnoses) {
    for (const r of d.remediations ?? []) {
      if (!r.safe || !r.argv?.length || !r.hosts?.length) continue;
      if (!r.argv.every((w) => SAFE_WORD.test(w) && w.length <= 253)) continue;
      for (const host of r.hosts) {
        if (!inspected.has(host)) continue;
        if (out.some((a) => a.host === host && a.command === shJoin(r.argv!))) continue;
        out.push({ host, diagnosis: d.id, argv: r.argv, command: shJoin(r.argv) });
      }
    }
  }
  return out;
}
