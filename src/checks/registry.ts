// The check registry: every check module in this directory (listed at build time by
// scripts/gen-registry.mjs), the CheckId type derived from their declared ids, selection by
// --check/--skip, the readers the selected checks need, and evaluation.
import { MODULES } from './registry.gen.js';
import type { CheckModule, ClusterInput, NodeInput, Reader } from './module.js';
import { emitter } from './module.js';
import type { CheckResult } from '../types.js';
import { UsageError } from '../errors.js';

type Mod = (typeof MODULES)[number];
/** Every check id this build reports. A typo in an id is a compile error. */
export type CheckId = Mod['ids'][number];

export const CHECKS: readonly CheckModule[] = [...(MODULES as unknown as readonly CheckModule[])].sort(
  (a, b) => (a.rank ?? 50) - (b.rank ?? 50),
);

export const CHECK_IDS: readonly CheckId[] = CHECKS.flatMap((m) => m.ids) as CheckId[];

export function isCheckId(s: string): s is CheckId {
  return (CHECK_IDS as readonly string[]).includes(s);
}

/** Which ids run: --check (only these; `dns.*` style prefixes allowed) minus --skip. Unknown ids
 *  are a usage error naming the known ones. */
export interface Selection {
  has(id: string): boolean;
  /** the modules with at least one selected id */
  modules: readonly CheckModule[];
  /** the DNS probes are needed (a selected module, or any diagnosis, reads them) */
  ids: readonly CheckId[];
}

function expand(pattern: string, flag: string): CheckId[] {
  const p = pattern.trim();
  const hits = p.endsWith('*')
    ? CHECK_IDS.filter((id) => id.startsWith(p.slice(0, -1)))
    : CHECK_IDS.filter((id) => id === p);
  if (!hits.length) throw new UsageError(`${flag} ${p.slice(0, 60)}: no such check (known: ${CHECK_IDS.join(', ')})`);
  return hits;
}

export function selectChecks(only: readonly string[] = [], skip: readonly string[] = []): Selection {
  const split = (xs: readonly string[]) => xs.flatMap((x) => x.split(',')).filter((x) => x.trim());
  let ids: CheckId[] = split(only).length
    ? [...new Set(split(only).flatMap((p) => expand(p, '--check')))]
    : [...CHECK_IDS];
  const skipped = new Set(split(skip).flatMap((p) => expand(p, '--skip')));
  ids = ids.filter((id) => !skipped.has(id));
  const set = new Set<string>(ids);
  return { has: (id) => set.has(id), modules: CHECKS.filter((m) => m.ids.some((id) => set.has(id))), ids };
}

export const ALL: Selection = selectChecks();

/** The readers the selected checks read (diagnoses add theirs: diagnose/registry.ts). */
export function checkReaders(sel: Selection): Reader[] {
  return sel.modules.flatMap((m) => m.readers ?? []);
}

/** The results of the selected node checks on one node. */
export function evaluateNode(input: NodeInput, sel: Selection = ALL): CheckResult[] {
  const out: CheckResult[] = [];
  for (const m of sel.modules) {
    if (m.scope !== 'node') continue;
    if (!input.connection.ok && !m.always) continue;
    if (!m.always && !input.facts && !m.probes) continue;
    const unread = (m.readers ?? []).filter((r) => input.unread?.has(r.key)).map((r) => r.key);
    if (unread.length && input.facts) {
      for (const id of m.ids)
        if (sel.has(id))
          out.push({
            check: id,
            host: input.host,
            status: 'skip',
            summary: `not in this recording (no ${unread.join(', ')} output: recorded by another version)`,
            evidence: {},
          });
      continue;
    }
    out.push(...m.evaluate(input, emitter()).filter((r) => sel.has(r.check)));
  }
  return out;
}

export function evaluateCluster(input: ClusterInput, sel: Selection = ALL): CheckResult[] {
  const out: CheckResult[] = [];
  for (const m of sel.modules)
    if (m.scope === 'cluster') out.push(...m.evaluate(input, emitter()).filter((r) => sel.has(r.check)));
  return out;
}
