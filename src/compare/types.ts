// The `comparison` object of the JSON report (CONTRACT.md, present with --baseline and printed by
// `diff`): what changed between an earlier report (the baseline) and this one.
import type { ProbeRole, Transport } from '../types.js';

export type ChangeKind = 'check' | 'diagnosis' | 'host' | 'latency' | 'probe';

/** One DNS path: who asked whom what, over which transport. */
export interface ProbePath {
  role: ProbeRole;
  transport: Transport;
  /** the server asked; '*' when CoreDNS endpoints changed between the runs and a node's
   *  endpoint paths are compared together */
  server: string;
  name: string;
  type: string;
}

export interface Change {
  kind: ChangeKind;
  /** the node it is about; absent for cluster-wide changes */
  host?: string;
  /** check id (`check`, and `dns.<role>.<transport>` for `probe`/`latency`), diagnosis id
   *  (`diagnosis`), `ssh.reachable` (`host`) */
  id: string;
  /** check: status (overlay.offload: "on"/"off"); diagnosis: severity, null when not named;
   *  host: "inspected"/"not inspected"; probe: share of good answers 0..1; latency: p50 in ms */
  before: string | number | null;
  after: string | number | null;
  summary: string;
  /** extension: the DNS path of a `probe` or `latency` change */
  path?: ProbePath;
}

export interface Thresholds {
  /** p50 must grow by this factor … */
  latencyFactor: number;
  /** … and by at least this many milliseconds to count as a latency regression */
  latencyIncreaseMs: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { latencyFactor: 3, latencyIncreaseMs: 5 };

export interface Comparison {
  baseline: { startedAt: string; version: string };
  regressions: Change[];
  resolved: Change[];
  // extensions (a consumer may ignore them)
  /** hosts in only one of the two reports: reported, never regressions */
  hosts: { added: string[]; removed: string[] };
  /** how much was compared: hosts in both reports, checks and DNS paths found in both */
  compared: { hosts: number; checks: number; paths: number; diagnoses: number };
  /** one line each: what could not be compared and why (hosts not inspected on one side, an
   *  interrupted run, checks or DNS paths in only one report, another tool version, a baseline
   *  from another cluster), and what was compared in a way worth knowing */
  notes: string[];
  thresholds: Thresholds;
}
