// Correlate checks, probes and counter deltas into named root causes (ids in CONTRACT.md).
// Pure: same input, same diagnoses.
import type { Diagnosis, DiagnoseInput } from '../types.js';
import { View } from './view.js';
import { hostUnreachable } from './host-unreachable.js';
import { nodelocaldnsRulesMissing } from './nodelocaldns-rules-missing.js';
import { nodelocaldnsDown } from './nodelocaldns-down.js';
import { corednsUnreachable, corednsServiceUnrouted } from './coredns-unreachable.js';
import { corednsEndpointDown } from './coredns-endpoint-down.js';
import { overlayMtu } from './overlay-mtu.js';
import { udpBlocked } from './udp-blocked.js';
import { checksumOffloadDiagnosis } from './checksum-offload.js';
import { unexplained } from './unexplained.js';
import { tcpBlocked } from './tcp-blocked.js';

export function diagnose(input: DiagnoseInput): Diagnosis[] {
  const v = new View(input);
  const offload = checksumOffloadDiagnosis(v);
  const named = [
    ...hostUnreachable(v),
    ...corednsUnreachable(v),
    ...corednsServiceUnrouted(v),
    ...corednsEndpointDown(v),
    ...offload,
    ...tcpBlocked(v, offload.flatMap((d) => d.hosts)),
    ...udpBlocked(v),
    ...nodelocaldnsRulesMissing(v),
    ...nodelocaldnsDown(v),
    ...overlayMtu(v),
  ];
  return [...named, ...unexplained(v, named)];
}
