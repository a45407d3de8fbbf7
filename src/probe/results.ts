// Reading probe results: one line per path, and what counts as a good path.
import type { ProbeResult } from '../types.js';

export function describeProbe(p: ProbeResult): string {
  const errs = Object.entries(p.errors ?? {}).map(([k, v]) => `${v} ${k}`);
  const rc = Object.entries(p.rcodes)
    .filter(([k]) => k !== 'NOERROR')
    .map(([k, v]) => `${v} ${k}`);
  const extra = [...rc, ...errs].join(', ');
  return `${p.transport.toUpperCase()} ${p.server} ${p.type} ${p.name}: ${p.ok ?? 0}/${p.sent} ok${extra ? ` (${extra})` : ''}${p.latencyMs.p50 !== null ? `, p50 ${p.latencyMs.p50} ms` : ''}`;
}

/** Every probe of the path answered NOERROR with records of the asked type. */
export const isOk = (p: ProbeResult) => (p.ok ?? 0) === p.sent;
