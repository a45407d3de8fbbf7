// How the lab runs things: commands on this machine and inside its namespaces, and the processes it
// starts there (daemons write pid files; a namespace's processes are found with `ip netns pids`).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

export function sh(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `lab: ${`${cmd} ${args.join(' ')}`.slice(0, 160)}: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
}
/** a command inside a namespace (throws on failure) */
export const nsx = (ns: string, cmd: string, ...args: string[]) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);
/** Start a daemon in a namespace and return once its pid file names a live process (up to 5 s): a
 *  forking daemon's parent exits before the child writes that file. */
export function nsDaemon(ns: string, pidFile: string, cmd: string, ...args: string[]): void {
  nsx(ns, cmd, ...args);
  waitSync(() => pidAlive(pidFile), 5000);
}
/** a shell script inside a namespace (throws on failure) */
export const nsSh = (ns: string, script: string) => sh('ip', ['netns', 'exec', ns, 'sh', '-c', script]);
/** a command whose failure is expected or harmless; its status tells */
export const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
/** a command inside a namespace that may fail: true when it exited 0 */
export const nsOk = (ns: string, cmd: string, ...args: string[]) =>
  quiet('ip', ['netns', 'exec', ns, cmd, ...args]).status === 0;
/** stdout of a command inside a namespace, '' when it failed */
export const nsRead = (ns: string, cmd: string, ...args: string[]) =>
  spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: 30_000 }).stdout ?? '';

/** Why the lab cannot run here, or null when it can. */
export function labUnavailable(): string | null {
  if (process.platform !== 'linux') return 'the lab needs Linux network namespaces';
  if (process.getuid?.() !== 0)
    return 'the lab needs root (network namespaces, veths, VXLAN, sshd): run the tests as root, e.g. sudo bash .ci/run';
  const missing = [
    'ip',
    'iptables-restore',
    '/usr/sbin/nft',
    'ethtool',
    'unbound',
    'ssh-keygen',
    'dig',
    'python3',
  ].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (!existsSync('/usr/sbin/sshd')) missing.push('sshd');
  if (missing.length)
    return `the lab needs: ${missing.join(', ')} (apt-get install iproute2 iptables nftables ethtool unbound bind9-dnsutils openssh-server python3 sudo)`;
  return null;
}

export function netnsList(): string[] {
  return sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

export function pidAlive(file: string): boolean {
  try {
    return procAlive(Number(readFileSync(file, 'utf8').trim()));
  } catch {
    return false;
  }
}

export function procAlive(pid: number): boolean {
  try {
    if (!(pid > 1)) return false;
    // a killed daemon may linger as a zombie when nothing reaps orphans (PID 1 in containers)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** Poll `cond` every `stepS` seconds, blocking, until it holds or `ms` pass; returns its last value.
 *  For the lab's synchronous steps (a daemon forking, a process ending); `until` is the async one. */
export function waitSync(cond: () => boolean, ms: number, stepS = 0.02): boolean {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    spawnSync('sleep', [String(stepS)]);
  }
  return true;
}

/** Poll `cond` every 100 ms until it holds or `ms` pass; returns its last value. A wait for the lab's
 *  own machinery (a watcher's 0.2 s poll), not a measurement. */
export async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Wait (up to `ms`) for the process of a pid file to end on its own. */
export function waitPidFile(file: string, ms: number): void {
  waitSync(() => !pidAlive(file), ms);
}

export function killPidFile(file: string): void {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (pid > 1) {
      process.kill(pid, 'SIGKILL');
      waitSync(() => !procAlive(pid), 3000);
    }
  } catch {
    /* not running */
  }
  rmSync(file, { force: true });
}

export function nsPids(ns: string): string[] {
  return (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean);
}

/** Kill every process in a namespace (a pod's DNS server and anything it forked). */
export function killNs(ns: string): void {
  for (let i = 0; i < 50; i++) {
    const pids = nsPids(ns);
    if (!pids.length) return;
    for (const pid of pids) quiet('kill', ['-9', pid]);
    spawnSync('sleep', ['0.02']);
  }
}
