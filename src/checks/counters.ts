// Kernel counter deltas over the probe window.
import type { CheckResult, Counters } from '../types.js';
import { INTERESTING } from '../collect/counters.js';

export function counterCheck(host: string, delta: Counters | null): CheckResult {
  if (!delta) return { check: 'kernel.counters', host, status: 'error', summary: 'could not read /proc/net/snmp before and after the probes', evidence: {} };
  const ev: Record<string, number> = {};
  for (const k of INTERESTING) if (delta[k]) ev[k] = delta[k]!;
  const csum = (delta['Tcp.InCsumErrors'] ?? 0) + (delta['Udp.InCsumErrors'] ?? 0);
  if (csum > 0) return { check: 'kernel.counters', host, status: 'warn', summary: `checksum errors rose by ${csum} while probing`, evidence: ev };
  const parts = Object.entries(ev).map(([k, v]) => `${k} +${v}`);
  return { check: 'kernel.counters', host, status: 'pass', summary: parts.length ? `no checksum errors while probing (${parts.join(', ')})` : 'no errors or retransmissions while probing', evidence: ev };
}
