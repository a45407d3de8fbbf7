// One executable with Node inside: dist/bin/kubespray-validate-linux-<arch>, a Node single
// executable application (SEA). Nothing beside it is needed, not even Node.
//
//   npm run build:binary                               # this machine's Node and architecture
//   npm run build:binary -- --node /path/to/arm64/node # another architecture's Node, same version
//
// Steps: build/bundle.ts makes the one CommonJS script; `node --experimental-sea-config` turns it
// into a preparation blob; postject (Node's own injector, from npm) writes the blob into a copy of
// the Node binary as the NODE_SEA_BLOB section and flips the SEA fuse. The Node inside is the one
// given (default: the Node running this build), so the binary runs wherever that Node runs
// (glibc >= 2.28 and libstdc++ for the official Linux builds of Node 20).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'postject';
import { ROOT, bundle } from './bundle.js';

const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

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

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export async function buildBinary(nodeBinary = process.execPath): Promise<{ file: string; bytes: number }> {
  const arch = elfArch(nodeBinary);
  const out = join(ROOT, 'dist', 'bin', `kubespray-validate-linux-${arch}`);
  // The blob is read by the Node inside: it must be the Node version making it.
  if (realpathSync(nodeBinary) !== realpathSync(process.execPath)) {
    let version: string | null = null;
    try {
      version = execFileSync(nodeBinary, ['--version'], { encoding: 'utf8', env: {} }).trim();
    } catch {
      process.stderr.write(
        `build/binary: cannot run ${nodeBinary} here (another architecture): it must be Node ${process.version}, as the one building\n`,
      );
    }
    if (version && version !== process.version)
      throw new Error(`${nodeBinary} is Node ${version}; build with that same version (this is ${process.version})`);
  }
  if (!readFileSync(nodeBinary).includes(FUSE))
    throw new Error(
      `${nodeBinary} was built without single executable application support (no SEA fuse); use an official or NodeSource build of Node 20`,
    );

  const work = mkdtempSync(join(tmpdir(), 'ksv-sea-'));
  try {
    const script = join(work, 'kubespray-validate.cjs');
    await bundle(script);
    const blob = join(work, 'sea.blob');
    // paths relative to the work directory: the blob records the script's path as given
    writeFileSync(
      join(work, 'sea-config.json'),
      JSON.stringify({
        main: 'kubespray-validate.cjs',
        output: 'sea.blob',
        disableExperimentalSEAWarning: true,
        // V8's code cache would start it ~10 ms sooner but differs on every build: without it the
        // same sources and the same Node give the same bytes, so anyone can rebuild and compare
        useCodeCache: false,
      }),
    );
    execFileSync(process.execPath, ['--experimental-sea-config', 'sea-config.json'], { cwd: work, stdio: 'pipe' });
    const exe = join(work, 'kubespray-validate');
    copyFileSync(nodeBinary, exe);
    chmodSync(exe, 0o755);
    // postject (LIEF) prints "Can't find string offset for section name '.note…'" for Node's ELF
    // notes: harmless, and it writes them with console.warn; keep the build log to what matters
    const warn = console.warn;
    console.warn = () => {};
    try {
      await inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: FUSE });
    } finally {
      console.warn = warn;
    }
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.tmp`;
    copyFileSync(exe, tmp);
    renameSync(tmp, out); // writing over a binary that is running fails (ETXTBSY); a rename does not
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { file: out, bytes: statSync(out).size };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { file, bytes } = await buildBinary(arg('node'));
    process.stdout.write(`${relative(ROOT, file)}: ${(bytes / 2 ** 20).toFixed(1)} MiB\n`);
  } catch (err) {
    process.stderr.write(`build/binary: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
