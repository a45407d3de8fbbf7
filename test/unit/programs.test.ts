// The programs a node runs are files (src/probe/node/), inlined at build into probe/programs.gen.ts:
// each python program the node gets is one self-contained text (its modules in place of their
// imports) that python3 compiles, and the bash one is the file as written; both without their
// comment and blank lines, in ASCII.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { POD_COUNTERS_PY, PROBE_PY, PROBE_SH } from '../../src/probe/programs.gen.js';
import { ROOT } from '../e2e/helpers.js';

/** the file without its comment lines and blank lines (what a node is sent) */
const node = (f: string) =>
  readFileSync(join(ROOT, 'src', 'probe', 'node', f), 'utf8')
    .split('\n')
    .filter((l) => !/^\s*(#.*)?$/.test(l))
    .join('\n') + '\n';

for (const [name, text] of [
  ['probe.py', PROBE_PY],
  ['pod_counters.py', POD_COUNTERS_PY],
  ['probe.sh', PROBE_SH],
] as const)
  test(`${name}: sent without comments or blank lines, in ASCII`, (t) => {
    t.false(
      text
        .trimEnd()
        .split('\n')
        .some((l) => /^\s*(#.*)?$/.test(l)),
    );
    t.notRegex(text, /[^\x00-\x7f]/);
    t.true(text.length < 20_000, `${text.length} characters`);
  });

for (const [name, text, modules] of [
  ['probe.py', PROBE_PY, ['pod_netns.py', 'pod_probe.py']],
  ['pod_counters.py', POD_COUNTERS_PY, ['pod_netns.py']],
] as const) {
  test(`${name}: its modules inlined once, in place of their imports; python3 compiles it`, (t) => {
    t.notRegex(text, /^from (pod_netns|pod_probe) import/m);
    for (const m of modules) {
      const body = node(m).replace(/\n$/, '');
      t.true(text.includes(body), m);
      t.is(text.split(body).length, 2, `${m} once`);
    }
    t.true(text.includes(node(name).split('\n').slice(-3).join('\n')), 'its own text follows');
    t.notThrows(() =>
      execFileSync('python3', ['-I', '-S', '-c', 'import sys; compile(sys.stdin.read(), "<probe>", "exec")'], {
        input: text,
      }),
    );
  });
}

test('probe.sh: the file as written, and bash parses it', (t) => {
  t.is(PROBE_SH, node('probe.sh'));
  t.notThrows(() => execFileSync('bash', ['-n', '-c', PROBE_SH]));
});
