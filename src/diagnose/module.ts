// What a diagnosis is: one module under src/diagnose/ naming one root cause, registered like the
// checks (scripts/gen-registry.mjs lists every file whose default export is `defineDiagnosis(…)`).
//
// Adding a diagnosis: write src/diagnose/<id>.ts with
//
//   export default defineDiagnosis({
//     id: 'udp-blocked',                  // the id reports carry; DiagnosisId is derived from these
//     explainsChecks: ['dns.*'],          // check ids (or `dns.*` style prefixes) whose failures it accounts for
//     after: ['checksum-offload'],        // diagnoses whose findings run() reads (ctx.hosts, ctx.earlier)
//     explains: [],                       // diagnoses it explains: while it is named, they do not run
//     readers: [],                        // node facts it reads beyond the checks'
//     run: (v, ctx) => udpBlocked(v, ctx.hosts('checksum-offload')),
//   });
//
// then run `node scripts/gen-registry.mjs`. Nothing else decides the order: a diagnosis runs after
// every id in its `after` and after every diagnosis that lists it in `explains`; among those free to
// run, the smaller id first (registry.ts sorts them so and refuses a cycle or an unknown id). The
// report lists the diagnoses in that order. `after: 'all'` runs after every other diagnosis and sees
// all their findings (dns-unexplained). A failing finding of a diagnosis stops every diagnosis in its
// `explains` from running: coredns-unreachable explains tcp-blocked, as the service then fails on
// both transports at random and must not be read as a firewall on one. The facts several diagnoses
// read (ctx.facts, facts.ts) are computed once before any runs.
import type { Diagnosis, Remediation, Severity } from '../types.js';
import type { Reader } from '../checks/module.js';
import type { Facts } from './facts.js';
import type { View } from './view.js';

export interface DiagnosisModule<
  Id extends string = string,
  After extends string = string,
  Explains extends string = string,
> {
  /** the diagnosis id its findings carry, stable (README's diagnoses table) */
  id: Id;
  /** check ids (or `dns.*` style prefixes) whose failures this diagnosis accounts for: a failing
   *  finding of it leaves nothing for dns-unexplained to say about them */
  explainsChecks: readonly string[];
  /** the diagnoses whose findings run() reads; it runs after them. 'all': after every other one. */
  after?: readonly After[] | 'all';
  /** the diagnoses this one explains: they run after it, and not at all once it is named as failing */
  explains?: readonly Explains[];
  /** node facts the rule reads beyond the checks' */
  readers?: readonly Reader[];
  run(v: View, ctx: RunContext<After>): Draft[];
}

/** A diagnosis as a rule writes it (the module's id is added by the runner): remediations as
 *  data, or `fix` prose (each line becomes a remediation that --fix never runs). */
export interface Draft {
  severity: Severity;
  hosts: string[];
  summary: string;
  evidence: string[];
  fix?: string[];
  remediations?: Remediation[];
}

export interface RunContext<After extends string = string> {
  /** the facts several diagnoses read, computed once */
  facts: Facts;
  /** the findings of the diagnoses in `after` (of every earlier one with `after: 'all'`) */
  earlier: readonly Diagnosis[];
  /** the hosts a diagnosis in `after` named */
  hosts(id: After): string[];
  /** does the registered diagnosis `id` account for failures of `check`? */
  explainsCheck(id: string, check: string): boolean;
}

/** Declare a diagnosis module (the default export of a file in src/diagnose/). */
export function defineDiagnosis<
  const Id extends string,
  const After extends string = never,
  const Explains extends string = never,
>(m: DiagnosisModule<Id, After, Explains>): DiagnosisModule<Id, After, Explains> {
  return m;
}

export function finish(id: string, d: Draft): Diagnosis {
  const remediations = d.remediations ?? (d.fix ?? []).map((text) => ({ text, safe: false }));
  return {
    id,
    severity: d.severity,
    hosts: d.hosts,
    summary: d.summary,
    evidence: d.evidence,
    fix: d.fix ?? remediations.map((r) => r.text),
    remediations,
  };
}

export function explainsCheck(m: { explainsChecks: readonly string[] }, check: string): boolean {
  return m.explainsChecks.some((p) => (p.endsWith('*') ? check.startsWith(p.slice(0, -1)) : check === p));
}
