// kernel.counters: counter deltas over the probe window (/proc/net/snmp and netstat, read by the
// probe program right before and after the probes).
import { defineCheck } from './module.js';
import { INTERESTING } from '../collect/counters.js';

export default defineCheck({
  ids: ['kernel.counters'],
  title: 'kernel error and retransmission counters over the probe window',
  rank: 80,
  scope: 'node',
  probes: true,
  evaluate({ host, counterDelta: delta }, emit) {
    const id = 'kernel.counters';
    if (!delta) return [emit(id, host, 'error', 'could not read /proc/net/snmp before and after the probes')];
    const ev: Record<string, number> = {};
    for (const k of INTERESTING) if (delta[k]) ev[k] = delta[k]!;
    const csum = (delta['Tcp.InCsumErrors'] ?? 0) + (delta['Udp.InCsumErrors'] ?? 0);
    if (csum > 0)
      return [
        emit(id, host, 'warn', `checksum errors rose by ${csum} while probing`, ev, {
          text: 'see the diagnoses: checksum errors while probing point at offload on the overlay (checksum-offload)',
          safe: false,
        }),
      ];
    const parts = Object.entries(ev).map(([k, v]) => `${k} +${v}`);
    return [
      emit(
        id,
        host,
        'pass',
        parts.length
          ? `no checksum errors while probing (${parts.join(', ')})`
          : 'no errors or retransmissions while probing',
        ev,
      ),
    ];
  },
});
