// What a diagnosis is: one module under src/diagnose/ naming one root cause (ids in CONTRACT.md),
// with its rank (the order rules run and are reported in; a later rule sees the earlier ones'
// findings) and the checks it explains (dns-unexplained speaks only when no failing diagnosis
// explains the failing DNS checks). Registered like checks (scripts/gen-registry.mjs).
import type { Diagnosis, Remediation, Severity } from '../types.js';
import type { Reader } from '../checks/module.js';
import type { View } from './view.js';

export interface DiagnosisModule {
  id: string;
  rank: number;
  /** check ids (or `dns.*` style prefixes) whose failures this diagnosis accounts for */
  explains: readonly string[];
  /** node facts the rule reads beyond the checks' */
  readers?: readonly Reader[];
  run(v: View, earlier: readonly Diagnosis[], ctx: RunContext): Draft[];
}

/** A diagnosis as a rule writes it: remediations as data, or `fix` prose (each line becomes a
 *  remediation that --fix never runs). */
export interface Draft {
  id: string;
  severity: Severity;
  hosts: string[];
  summary: string;
  evidence: string[];
  fix?: string[];
  remediations?: Remediation[];
}

export interface RunContext {
  /** does the registered diagnosis `id` account for failures of `check`? */
  explains(id: string, check: string): boolean;
}

export function defineDiagnosis(m: DiagnosisModule): DiagnosisModule {
  return m;
}

export function finish(d: Draft): Diagnosis {
  const remediations = d.remediations ?? (d.fix ?? []).map((text) => ({ text, safe: false }));
  return {
    id: d.id,
    severity: d.severity,
    hosts: d.hosts,
    summary: d.summary,
    evidence: d.evidence,
    fix: d.fix ?? remediations.map((r) => r.text),
    remediations,
  };
}

export function explainsCheck(m: { explains: readonly string[] }, check: string): boolean {
  return m.explains.some((p) => (p.endsWith('*') ? check.startsWith(p.slice(0, -1)) : check === p));
}

/** Diagnoses that make some CoreDNS endpoints unreachable: the service and NodeLocalDNS (which
 *  load-balance over the endpoints) then fail at random, on one transport as often as on the other,
 *  which must not be read as a firewall on one transport (udp-blocked, tcp-blocked). */
export const ENDPOINTS_UNREACHABLE = [
  'coredns-unreachable',
  'coredns-endpoint-down',
  'ip-forward-disabled',
  'overlay-blocked',
  'pod-to-host-blocked',
];

export function endpointsUnreachable(earlier: readonly { id: string; severity: string }[]): boolean {
  return earlier.some((d) => d.severity === 'fail' && ENDPOINTS_UNREACHABLE.includes(d.id));
}
