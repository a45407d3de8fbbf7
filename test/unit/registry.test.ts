// The check registry: the README's checks table and the registered ids in step; selection by
// --check/--skip; every module's results carry only its own ids.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECK_IDS, CHECKS, selectChecks } from '../../src/checks/registry.js';
import { DIAGNOSES } from '../../src/diagnose/index.js';
import { order } from '../../src/diagnose/registry.js';
import type { DiagnosisModule } from '../../src/diagnose/module.js';
import { UsageError } from '../../src/errors.js';
import { ROOT } from '../e2e/helpers.js';

function readmeTable(heading: string): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = text.indexOf(`\n## ${heading}\n`);
  const rows = text.slice(start).split('\n').slice(2);
  const out: string[] = [];
  let inTable = false;
  for (const line of rows) {
    if (line.startsWith('|')) inTable = true;
    else if (inTable) break;
    else continue;
    const first = line.split('|')[1] ?? '';
    if (/^\s*-+\s*$/.test(first) || /^\s*(check|id)\s*$/.test(first)) continue;
    for (const m of first.matchAll(/`([^`]+)`/g)) out.push(m[1]!);
  }
  return out;
}

test("the README's checks table lists exactly the registered check ids", (t) => {
  t.deepEqual([...readmeTable('Checks')].sort(), [...CHECK_IDS].sort());
});

test("the README's diagnoses table lists exactly the registered diagnosis ids", (t) => {
  t.deepEqual([...new Set(readmeTable('Diagnoses'))].sort(), DIAGNOSES.map((d) => d.id).sort());
});

test('every diagnosis id is in the published contract (when it is beside the checkout)', (t) => {
  const file = join(ROOT, '..', 'shared', 'CONTRACT.md');
  if (!existsSync(file)) {
    t.log(`${file} is not here; skipped`);
    t.pass();
    return;
  }
  const contract = readFileSync(file, 'utf8');
  for (const d of DIAGNOSES) t.true(contract.includes(`\`${d.id}\``), d.id);
});

test('ids are unique, modules declare a title', (t) => {
  t.is(new Set(CHECK_IDS).size, CHECK_IDS.length);
  t.is(new Set(DIAGNOSES.map((d) => d.id)).size, DIAGNOSES.length);
  for (const m of CHECKS) t.true(m.title.length > 10, m.ids.join());
});

test('--check and --skip select by id and prefix; unknown ids are a usage error naming the known ones', (t) => {
  t.deepEqual([...selectChecks(['dns.*']).ids].sort(), CHECK_IDS.filter((i) => i.startsWith('dns.')).sort());
  t.false(selectChecks([], ['overlay.*']).has('overlay.mtu'));
  t.true(selectChecks([], ['overlay.*']).has('nodelocaldns.iptables'));
  t.deepEqual(selectChecks(['nodelocaldns.iptables,overlay.mtu']).ids, ['nodelocaldns.iptables', 'overlay.mtu']);
  const e = t.throws(() => selectChecks(['nodelocaldns.iptable']), { instanceOf: UsageError });
  t.regex(e!.message, /no such check.*nodelocaldns\.iptables/);
  t.false(
    selectChecks(['nodelocaldns.interface']).modules.some((m) => m.probes),
    'no probing module selected',
  );
});

const mod = (id: string, after?: string[] | 'all', explains?: string[]): DiagnosisModule => ({
  id,
  explainsChecks: [],
  ...(after ? { after } : {}),
  ...(explains ? { explains } : {}),
  run: () => [],
});

test("the diagnoses run in an order that honours every module's after and explains", (t) => {
  const at = new Map(DIAGNOSES.map((m, i) => [m.id, i]));
  for (const m of DIAGNOSES) {
    const after = m.after === 'all' ? DIAGNOSES.filter((x) => x.after !== 'all').map((x) => x.id) : (m.after ?? []);
    for (const id of after) t.true(at.get(id)! < at.get(m.id)!, `${m.id} runs after ${id}`);
    for (const id of m.explains ?? [])
      t.true(at.get(m.id)! < at.get(id)!, `${m.id} runs before ${id}, which it explains`);
  }
  t.is(DIAGNOSES.at(-1)!.id, 'dns-unexplained');
});

test('order: after and explains decide, ties by id, whatever the registration order', (t) => {
  const mods = [mod('d', ['b']), mod('c'), mod('z', 'all'), mod('b'), mod('a', undefined, ['c'])];
  const ids = order(mods).map((m) => m.id);
  t.deepEqual(ids, ['a', 'b', 'c', 'd', 'z']);
  t.deepEqual(
    order([...mods].reverse()).map((m) => m.id),
    ids,
  );
  // explains puts the explaining one first even when its id sorts later
  t.deepEqual(
    order([mod('a'), mod('y', undefined, ['a'])]).map((m) => m.id),
    ['y', 'a'],
  );
});

test('order: a cycle, an unknown id or a duplicate is refused with the modules named', (t) => {
  const cycle = t.throws(() => order([mod('a', ['c']), mod('b', ['a']), mod('c', ['b']), mod('d')]));
  t.regex(cycle!.message, /cycle among: a \(after c\); b \(after a\); c \(after b\)/);
  // a cycle through explains: a explains b, b runs after a... and a after b
  t.throws(() => order([mod('a', ['b'], ['b']), mod('b')]), { message: /cycle among: a .*b/ });
  t.throws(() => order([mod('a', ['nope'])]), {
    message: /diagnosis a: after nope, which is not a registered diagnosis/,
  });
  t.throws(() => order([mod('a', undefined, ['nope'])]), { message: /diagnosis a: explains nope/ });
  t.throws(() => order([mod('a'), mod('a')]), { message: /registered twice/ });
});
