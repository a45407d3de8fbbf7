// The single-file binaries (npm run build:binary, part of npm test). This machine's architecture
// where there is no Node: chroot'ed into a root that holds only the binary, the C/C++ runtime
// libraries and /etc/passwd, with an empty environment (test/e2e/bare-root.ts). Every command
// answers exactly as `node dist/src/cli.js` does, and against the lab it gives the verdicts:
// healthy -> 0, the seed's fault -> 1. The other architecture (arm64 on an x64 machine) under
// qemu's user-mode emulator, called by name (no binfmt registration), with that architecture's
// C/C++ runtime from Debian's cross packages as its library root: --version, --help, and replays
// of recorded bundles to the Node build's reports and exit codes. Both name the pinned Node inside,
// and SHA256SUMS beside them checks with sha256sum -c.
import test from 'ava';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BIN_DIR, binaryPath, seaBase, type Arch } from '../../build/binary.js';
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

const NODE_INSIDE = `v${seaBase().version}`;

test('--version, empty environment, no node anywhere: the version, then the pinned Node inside', async (t) => {
  const r = await root().run(['--version']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `${VERSION} (node ${NODE_INSIDE}, linux-${process.arch})\n`);
  t.is(r.stdout.split(' ')[0], viaNode(['--version']).stdout.trim(), 'the first word is what the npm package prints');
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

// ---- the other architecture, under qemu-user-static ----

const OTHER: Arch = process.arch === 'arm64' ? 'x64' : 'arm64';
const EMULATOR = { arm64: 'qemu-aarch64-static', x64: 'qemu-x86_64-static' }[OTHER];
// Debian's cross runtime (libc6-<arch>-cross, libstdc++6-<arch>-cross): the loader and libraries
// the official Node build links, at the paths the emulator looks them up under
const SYSROOT = { arm64: '/usr/aarch64-linux-gnu', x64: '/usr/x86_64-linux-gnu' }[OTHER];
const BUNDLES = join(ROOT, 'test', 'fixtures', 'bundles');

function foreignUnavailable(): string | null {
  const emulator = spawnSync('sh', ['-c', `command -v ${EMULATOR}`], { encoding: 'utf8' }).stdout.trim();
  if (!emulator) return `${EMULATOR} not found (Debian package qemu-user-static)`;
  if (!existsSync(join(SYSROOT, 'lib', 'libstdc++.so.6')))
    return `no ${OTHER} C/C++ runtime in ${SYSROOT} (Debian packages libc6-${OTHER}-cross libstdc++6-${OTHER}-cross)`;
  if (!existsSync(binaryPath(OTHER))) return `${binaryPath(OTHER)} not built (npm run build:binary)`;
  return null;
}
const whyNotForeign = foreignUnavailable();
const foreign = (title: string, fn: (t: import('ava').ExecutionContext) => Promise<void> | void) =>
  whyNotForeign && !process.env.CI
    ? test.skip(`${title} (${whyNotForeign})`, () => {})
    : test(title, (t) => {
        if (whyNotForeign) throw new Error(`cannot run: ${whyNotForeign}`);
        return fn(t);
      });

/** The other architecture's binary under the emulator, with an empty environment. */
function emulated(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(EMULATOR, ['-L', SYSROOT, binaryPath(OTHER), ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, // to find the emulator; the binary gets none
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

foreign(`${OTHER} binary under ${EMULATOR}: --version names the pinned Node and ${OTHER}`, async (t) => {
  const r = await emulated(['--version']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `${VERSION} (node ${NODE_INSIDE}, linux-${OTHER})\n`);
  t.is(r.stderr, '');
});

foreign(`${OTHER} binary under ${EMULATOR}: --help as the Node build's`, async (t) => {
  t.deepEqual(await emulated(['--help']), viaNode(['--help']));
});

foreign(`${OTHER} binary under ${EMULATOR}: replay gives the Node build's reports and exit codes`, async (t) => {
  for (const [name, exit] of [
    ['seed-node2', 1],
    ['healthy', 0],
  ] as const) {
    const args = ['replay', join(BUNDLES, name), '-o', 'json'];
    const [bin, node] = [await emulated(args), viaNode(args)];
    t.is(bin.code, exit, `${name}: ${bin.stderr}`);
    t.deepEqual(bin, node, name);
  }
  const seed = JSON.parse((await emulated(['replay', join(BUNDLES, 'seed-node2'), '-o', 'json'])).stdout) as Report;
  t.deepEqual(failing(seed), ['checksum-offload']);
  t.deepEqual(seed.diagnoses.find((d) => d.id === 'checksum-offload')!.hosts, ['node2']);
});

test('SHA256SUMS beside the binaries: both of them, and sha256sum -c passes', (t) => {
  const sums = readFileSync(join(BIN_DIR, 'SHA256SUMS'), 'utf8');
  t.deepEqual(
    sums
      .trim()
      .split('\n')
      .map((l) => /^[0-9a-f]{64} {2}(\S+)$/.exec(l)?.[1])
      .sort(),
    ['kubespray-validate-linux-arm64', 'kubespray-validate-linux-x64'],
    sums,
  );
  const check = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: BIN_DIR, encoding: 'utf8' });
  t.deepEqual(check.trim().split('\n').sort(), [
    'kubespray-validate-linux-arm64: OK',
    'kubespray-validate-linux-x64: OK',
  ]);
});
