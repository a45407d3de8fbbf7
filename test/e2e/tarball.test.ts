// `npm pack` gives a tarball that installs with no registry: `npm install -g ./kubespray-validate-
// <version>.tgz --offline` into a fresh prefix, with an empty npm cache and no npm configuration,
// the registry pointed at a closed loopback port (any fetch would fail at once), then
// `kubespray-validate` is on PATH and works. The package's bin is the one-file bundle
// (dist/bin/kubespray-validate.cjs, built by `npm run build`): no dependency to fetch, no install
// script, no native build.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { CLI, ROOT } from './helpers.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const tmp = mkdtempSync(join(tmpdir(), 'ksv-tarball-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

// a machine with Node and npm and nothing else of ours: PATH is the new prefix and Node's directory
const prefix = join(tmp, 'prefix');
const env: NodeJS.ProcessEnv = {
  PATH: [join(prefix, 'bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(delimiter),
  HOME: join(tmp, 'home'),
};

function run(cmd: string, args: string[], cwd = tmp) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  return {
    code: r.status,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    all: `${r.stdout}\n${r.stderr}\n${r.error?.message ?? ''}`,
  };
}

test.serial('npm pack, then npm install -g of the tarball with no registry: kubespray-validate on PATH', (t) => {
  mkdirSync(env.HOME!);
  const [userrc, globalrc] = [join(tmp, 'user-npmrc'), join(tmp, 'global-npmrc')];
  writeFileSync(userrc, '');
  writeFileSync(globalrc, '');
  const npmOpts = [
    '--userconfig',
    userrc,
    '--globalconfig',
    globalrc,
    '--cache',
    join(tmp, 'cache'),
    '--registry',
    'http://127.0.0.1:9/',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
  ];

  // dist/ is built by `npm test` before the tests; --ignore-scripts keeps `prepare` from rebuilding
  // it under the other test files that run from it right now
  const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp, ...npmOpts], ROOT);
  t.is(pack.code, 0, pack.all);
  const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; size: number; files: Array<{ path: string }> }>;
  t.is(info!.filename, `kubespray-validate-${VERSION}.tgz`);
  const files = info!.files.map((f) => f.path).sort();
  t.deepEqual(files, [
    'README.md',
    'dist/bin/kubespray-validate.cjs',
    'package.json',
    'playbook-hooks/find-validator.yml',
    'playbook-hooks/validate.yml',
  ]);
  const manifest = JSON.parse(
    spawnSync('tar', ['-xOzf', join(tmp, info!.filename), 'package/package.json'], { encoding: 'utf8' }).stdout,
  ) as Record<string, unknown>;
  t.deepEqual(manifest.dependencies ?? {}, {}, 'nothing to fetch: the runtime dependencies are inside the bundle');
  t.falsy(
    (manifest.scripts as Record<string, string>).install ?? (manifest.scripts as Record<string, string>).postinstall,
  );

  const install = run('npm', ['install', '-g', `./${info!.filename}`, '--offline', '--prefix', prefix, ...npmOpts]);
  t.is(install.code, 0, install.all);

  const where = run('sh', ['-c', 'command -v kubespray-validate']);
  t.is(where.stdout.trim(), join(prefix, 'bin', 'kubespray-validate'));
  const version = run('kubespray-validate', ['--version']);
  t.is(version.code, 0, version.all);
  t.is(version.stdout.trim(), VERSION);

  const inv = join(ROOT, 'inventory-examples', 'mycluster');
  const listed = run('kubespray-validate', ['inventory', '-i', inv, '--list']);
  t.is(listed.code, 0, listed.all);
  t.is(
    listed.stdout,
    spawnSync(process.execPath, [CLI, 'inventory', '-i', inv, '--list'], { encoding: 'utf8' }).stdout,
  );

  const bad = run('kubespray-validate', ['-i', join(tmp, 'nothing-here')]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^kubespray-validate: error: [^\n]+\n$/);

  // the playbook hook travels with the package and finds this kubespray-validate on PATH
  t.true(existsSync(join(prefix, 'lib', 'node_modules', 'kubespray-validate', 'playbook-hooks', 'validate.yml')));
});
