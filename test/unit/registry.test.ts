// The check registry: the README's checks table and the registered ids in step; selection by
// --check/--skip; every module's results carry only its own ids.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECK_IDS, CHECKS, selectChecks } from '../../src/checks/registry.js';
import { DIAGNOSES } from '../../src/diagnose/index.js';
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
