// The diagnosis registry: every diagnosis module in this directory (listed at build time by
// scripts/gen-registry.mjs), the DiagnosisId type derived from their ids, and the order they run
// and are reported in, from what each declares (module.ts): `after` and `explains`, ties by id.
import { MODULES } from './registry.gen.js';
import type { DiagnosisModule } from './module.js';
import type { Reader } from '../checks/module.js';

type Mod = (typeof MODULES)[number];
/** Every diagnosis id this build reports. */
export type DiagnosisId = Mod['id'];

/** The ids the modules name in `after` and `explains`. */
type Declared = Mod extends DiagnosisModule<string, infer A, infer E> ? A | E : never;
// An id in a module's `after` or `explains` that names no diagnosis is a compile error here.
const declared: readonly DiagnosisId[] = [] as Declared[];
void declared;

/** The modules in the order their declarations ask for: each after the ids in its `after` and
 *  after every module whose `explains` lists it; `after: 'all'` after every module without it;
 *  among the modules free to run, the smaller id first. An unknown id or a cycle is an error
 *  naming the modules involved. */
export function order(mods: readonly DiagnosisModule[]): DiagnosisModule[] {
  const byId = new Map<string, DiagnosisModule>();
  for (const m of mods) {
    if (byId.has(m.id)) throw new Error(`diagnosis ${m.id} is registered twice`);
    byId.set(m.id, m);
  }
  const before = new Map<string, Set<string>>(mods.map((m) => [m.id, new Set<string>()]));
  for (const m of mods) {
    const after = m.after === 'all' ? mods.filter((x) => x.after !== 'all').map((x) => x.id) : (m.after ?? []);
    for (const id of after) {
      if (!byId.has(id)) throw new Error(`diagnosis ${m.id}: after ${id}, which is not a registered diagnosis`);
      before.get(m.id)!.add(id);
    }
    for (const id of m.explains ?? []) {
      if (!byId.has(id)) throw new Error(`diagnosis ${m.id}: explains ${id}, which is not a registered diagnosis`);
      before.get(id)!.add(m.id);
    }
  }
  const out: DiagnosisModule[] = [];
  const done = new Set<string>();
  const ids = [...byId.keys()].sort();
  while (out.length < ids.length) {
    const next = ids.find((id) => !done.has(id) && [...before.get(id)!].every((b) => done.has(b)));
    if (next === undefined) {
      const left = ids.filter((id) => !done.has(id));
      throw new Error(
        `the diagnoses' after/explains declarations form a cycle among: ${left
          .map((id) => `${id} (after ${[...before.get(id)!].filter((b) => !done.has(b)).join(', ')})`)
          .join('; ')}`,
      );
    }
    done.add(next);
    out.push(byId.get(next)!);
  }
  return out;
}

export const DIAGNOSES: readonly DiagnosisModule[] = order(MODULES as readonly DiagnosisModule[]);

export const DIAGNOSIS_IDS: readonly DiagnosisId[] = DIAGNOSES.map((m) => m.id as DiagnosisId);

export function diagnosisReaders(): Reader[] {
  return DIAGNOSES.flatMap((m) => m.readers ?? []);
}
