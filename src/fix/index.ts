// The remediations --fix may apply by itself: only those that are safe, reversible and local to
// a node. Today that is turning checksum offload off on the overlay interface.
import type { Diagnosis, DiagnoseInput } from '../types.js';
import { expectedOverlay } from '../checks/overlay.js';
import { shJoin } from '../transport/quote.js';
import { isSafeName } from '../inventory/validate.js';

export interface FixAction {
  host: string;
  diagnosis: string;
  command: string;
  description: string;
}

export function safeFixes(diagnoses: Diagnosis[], input: DiagnoseInput): FixAction[] {
  const out: FixAction[] = [];
  for (const d of diagnoses) {
    if (d.id !== 'checksum-offload') continue;
    const dev = expectedOverlay(input.cluster)?.device ?? 'vxlan.calico';
    if (!isSafeName(dev)) continue;
    for (const host of d.hosts) {
      if (!input.hosts.some((h) => h.name === host && h.inspected)) continue;
      out.push({ host, diagnosis: d.id, command: shJoin(['ethtool', '--offload', dev, 'rx', 'off', 'tx', 'off']), description: `turn tx/rx checksum offload off on ${dev}` });
    }
  }
  return out;
}
