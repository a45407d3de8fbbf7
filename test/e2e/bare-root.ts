// Runs the single-file binary (npm run build:binary) the way a machine without Node would: chroot'ed
// into a root filesystem that holds the binary, the C/C++ runtime libraries it links (ldd) and an
// /etc/passwd, and nothing else — no node, no node_modules, no package.json, no /proc — with an
// empty environment. Directories a run needs (an inventory, a key, a known_hosts) are bind-mounted at
// their own paths. The mounts live in a private mount namespace (unshare) that ends with the run.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { shJoin } from '../../src/transport/quote.js';
import { ROOT } from './helpers.js';

export const BINARY = join(ROOT, 'dist', 'bin', `kubespray-validate-linux-${process.arch}`);
export const BINARY_IN_ROOT = '/kubespray-validate';

function which(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** Why a bare root cannot be made here, or null. */
export function bareRootUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (mount namespace, chroot)';
  for (const c of ['unshare', 'chroot', 'mount', 'ldd']) if (!which(c)) return `${c} not found`;
  try {
    statSync(BINARY);
  } catch {
    return `${relative(ROOT, BINARY)} not built (npm run build:binary; npm test builds it)`;
  }
  return null;
}

export interface BareRoot {
  dir: string;
  /** every file in the root, as paths inside it */
  files(): string[];
  run(
    args: string[],
    opts?: { binds?: string[]; timeoutMs?: number },
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  cleanup(): void;
}

export function makeBareRoot(): BareRoot {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-bare-'));
  // the libraries the Node inside links, at the paths the loader found them (PT_INTERP included)
  const libs = execFileSync('ldd', [BINARY], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /(\/\S+)/.exec(l)?.[1])
    .filter((p): p is string => !!p);
  for (const lib of libs) {
    mkdirSync(join(dir, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(dir, lib));
  }
  writeFileSync(join(dir, BINARY_IN_ROOT), ''); // mount point for the binary
  // every machine has one; without it (and HOME unset) Node cannot tell root's home directory
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  const tools = { unshare: which('unshare')!, chroot: which('chroot')!, mount: which('mount')!, env: which('env')! };

  const files = (): string[] => {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else out.push('/' + relative(dir, join(d, e.name)));
      }
    };
    walk(dir);
    return out.sort();
  };

  const run: BareRoot['run'] = (args, opts = {}) => {
    // outermost first, and nothing already inside a bound directory
    const binds = [...new Set(opts.binds ?? [])]
      .sort()
      .filter((b, i, all) => !all.slice(0, i).some((a) => b.startsWith(a + '/')));
    const script = [
      'set -e',
      shJoin([tools.mount, '--bind', BINARY, join(dir, BINARY_IN_ROOT)]),
      ...binds.flatMap((b) => [
        shJoin(['mkdir', '-p', join(dir, b)]),
        shJoin([tools.mount, '--bind', b, join(dir, b)]),
      ]),
      `exec ${shJoin([tools.env, '-i', tools.chroot, dir, BINARY_IN_ROOT])} "$@"`,
    ].join('\n');
    return new Promise((resolve) => {
      const child = spawn(tools.unshare, ['--mount', '--fork', '--kill-child', 'sh', '-c', script, 'sh', ...args], {
        env: {},
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  };

  return { dir, files, run, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
