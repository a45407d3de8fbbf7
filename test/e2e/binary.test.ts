// The single-file binary (npm run build:binary, part of npm test) where there is no Node: chroot'ed
// into a root that holds only the binary, the C/C++ runtime libraries and /etc/passwd, with an empty
// environment (test/e2e/bare-root.ts). Every command answers exactly as `node dist/src/cli.js`
// does, and against the lab it gives the verdicts: healthy -> 0, the seed's fault -> 1.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { useLab } from '../lab/lab.js';
import { BINARY_IN_ROOT, bareRootUnavailable, makeBareRoot, type BareRoot } from './bare-root.js';
import { CLI, ROOT, failing, tempKnownHosts } from './helpers.js';
import type { Report } from '../../src/types.js';

const why = bareRootUnavailable();
let bare: BareRoot | null = null;
test.before(() => {
  if (why) {
    if (process.env.CI) throw new Error(`binary tests cannot run: ${why}`);
    return;
  }
  bare = makeBareRoot();
});
test.after.always(() => bare?.cleanup());
const root = (): BareRoot => {
  if (!bare) throw new Error(`skipped: ${why}`);
  return bare;
};

const lab = useLab(test, { nodes: 2 });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const EXAMPLES = join(ROOT, 'inventory-examples');

function viaNode(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the bare root holds the binary, the C/C++ runtime and /etc/passwd only: no node, no JavaScript files', (t) => {
  const files = root().files();
  t.true(files.includes(BINARY_IN_ROOT));
  t.true(files.some((f) => /\/libc\.so/.test(f)));
  const others = files.filter((f) => f !== BINARY_IN_ROOT && f !== '/etc/passwd');
  t.deepEqual(
    others.filter((f) => !/\/(ld-linux[^/]*|lib[a-z0-9_+-]+\.so[.0-9]*)$/.test(f)),
    [],
    'only shared libraries beside the binary',
  );
  t.false(
    files.some((f) => /node|\.c?js$|package\.json/.test(f)),
    files.join(' '),
  );
});

test('--version, empty environment, no node anywhere', async (t) => {
  const r = await root().run(['--version']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), VERSION);
  t.is(r.stderr, '');
});

test('every command answers as `node dist/src/cli.js` does: its --help, and run with no arguments', async (t) => {
  const help = viaNode(['--help']);
  const commands = [...help.stdout.matchAll(/^\s+kubespray-validate (\w+)/gm)].map((m) => m[1]!);
  t.true(commands.includes('validate') && commands.includes('inventory'), help.stdout);
  for (const args of [['--help'], ...commands.flatMap((c) => [[c, '--help'], [c]])]) {
    const [bin, node] = [await root().run(args), viaNode(args)];
    t.deepEqual(bin, node, args.join(' '));
  }
});

test("inventory --list from the binary is byte for byte the Node build's", async (t) => {
  for (const example of ['mycluster', 'with-bastion/inventory.ini', 'legacy-v2.8/hosts.ini']) {
    const args = ['inventory', '-i', join(EXAMPLES, example), '--list'];
    const bin = await root().run(args, { binds: [EXAMPLES] });
    t.is(bin.code, 0, bin.stderr);
    t.is(bin.stdout, viaNode(args).stdout, example);
    t.truthy(JSON.parse(bin.stdout)._meta);
  }
});

test('bad input: exit 2 and one line, no stack trace', async (t) => {
  const bin = await root().run(['-i', '/nonexistent/inventory']);
  t.is(bin.code, 2);
  t.regex(bin.stderr, /^kubespray-validate: error: [^\n]+\n$/);
  t.deepEqual(bin, viaNode(['-i', '/nonexistent/inventory']));
});

async function validate(): Promise<{ code: number | null; stderr: string; report: Report }> {
  const l = lab();
  const args = [
    '-i',
    l.inventoryDir,
    '--known-hosts',
    kh.file,
    '-o',
    'json',
    '--progress',
    'none',
    '--probe-count',
    '3',
    '--probe-timeout',
    '1500',
  ];
  const r = await root().run(args, { binds: [l.dir, dirname(l.inventoryDir), dirname(l.keyFile), dirname(kh.file)] });
  try {
    return { code: r.code, stderr: r.stderr, report: JSON.parse(r.stdout) as Report };
  } catch {
    throw new Error(`no JSON report (exit ${r.code}): ${r.stderr.slice(0, 2000)}`);
  }
}

test.serial('against the lab, healthy: exit 0, every node inspected, nothing on stderr', async (t) => {
  await lab().clear();
  const { code, stderr, report } = await validate();
  t.is(code, 0, JSON.stringify(report.diagnoses));
  t.true(report.hosts.every((h) => h.inspected));
  t.deepEqual(failing(report), []);
  t.is(report.tool.version, VERSION);
  t.is(stderr, ''); // no warning from Node's single-executable loader either
});

test.serial("against the lab, the seed's fault: exit 1 and checksum-offload on every node", async (t) => {
  const l = lab();
  await l.clear();
  await l.fault('checksum');
  try {
    const { code, report } = await validate();
    t.is(code, 1);
    t.deepEqual(failing(report), ['checksum-offload']);
    t.deepEqual(
      report.diagnoses.find((d) => d.id === 'checksum-offload')!.hosts.sort(),
      l.nodes.map((n) => n.name).sort(),
    );
  } finally {
    await l.clear();
  }
});
