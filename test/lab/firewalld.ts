// The real firewalld (Debian's package) on a lab node: in the node's network namespace, with its
// own mount namespace so that its D-Bus system bus (/run/dbus), its configuration (/etc/firewalld,
// empty: the packaged defaults, zone public) and its runtime files (/run/firewalld) are private to
// it and never touch this machine's. firewalld is up once `firewall-cmd --state` answers in that
// mount namespace. Like on a node where firewalld was there first, the iptables rules (node-cache's,
// the kube-proxy-like ones) are put back as they were if starting it removed any.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nsOk, nsRead, pidAlive, procAlive, sh, waitSync } from './sys.js';
import type { Desc, LabNode } from './topology.js';

const dirOf = (d: Desc, n: LabNode) => join(d.dir, `firewalld-${n.ns}`);
const pidFile = (d: Desc, n: LabNode) => join(dirOf(d, n), 'firewalld.pid');
const dbusPidFile = (d: Desc, n: LabNode) => join(dirOf(d, n), 'dbus.pid');
/** the node's iptables rules from before firewalld started (it flushes them when it starts or stops) */
const savedRules = (d: Desc, n: LabNode) => join(d.dir, `firewalld-${n.ns}.iptables`);
const ruleCount = (text: string) => text.split('\n').filter((l) => l.startsWith('-A')).length;

/** Put the saved iptables rules back where some are gone. */
function restoreRules(d: Desc, n: LabNode): void {
  let before: string;
  try {
    before = readFileSync(savedRules(d, n), 'utf8');
  } catch {
    return;
  }
  if (ruleCount(nsRead(n.ns, 'iptables-nft-save')) < ruleCount(before))
    sh('ip', ['netns', 'exec', n.ns, 'iptables-nft-restore', '-w'], before);
}

/** firewall-cmd in firewalld's own namespaces (its D-Bus is only there). */
export function firewallCmd(d: Desc, n: LabNode, ...args: string[]): { ok: boolean; out: string } {
  const pid = readFileSync(pidFile(d, n), 'utf8').trim();
  const r = spawnSync('nsenter', ['-t', pid, '-m', '-n', 'firewall-cmd', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

export function firewalldUp(d: Desc, n: LabNode): boolean {
  return pidAlive(pidFile(d, n)) && nsOk(n.ns, '/usr/sbin/nft', 'list', 'table', 'inet', 'firewalld');
}

/** Start firewalld on the node and wait until it answers; `setup` runs firewall-cmd commands after
 *  (permanent ones, then a reload). Throws when it does not come up in 30 s. */
export function startFirewalld(d: Desc, n: LabNode, setup: string[][] = []): void {
  if (firewalldUp(d, n)) return;
  const dir = dirOf(d, n);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(savedRules(d, n), nsRead(n.ns, 'iptables-nft-save'));
  const script = [
    'set -e',
    'mkdir -p /run/dbus /run/firewalld',
    'mount -t tmpfs tmpfs /run/dbus',
    'mount -t tmpfs tmpfs /run/firewalld',
    `mount --bind '${join(dir, 'etc')}' /etc/firewalld`,
    `dbus-daemon --system --fork --nopidfile --print-pid=1 > '${dbusPidFile(d, n)}'`,
    'exec /usr/bin/python3 /usr/sbin/firewalld --nofork --nopid',
  ].join('\n');
  const p = spawn('ip', ['netns', 'exec', n.ns, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script], {
    detached: true,
    stdio: 'ignore',
  });
  if (!p.pid) throw new Error('lab: firewalld did not start');
  writeFileSync(pidFile(d, n), String(p.pid));
  p.unref();
  waitSync(() => procAlive(p.pid!) && firewallCmd(d, n, '--state').ok, 30_000, 0.2);
  if (!firewallCmd(d, n, '--state').ok) throw new Error('lab: firewalld did not answer firewall-cmd --state in 30 s');
  for (const args of setup) {
    const r = firewallCmd(d, n, ...args);
    if (!r.ok) throw new Error(`lab: firewall-cmd ${args.join(' ')}: ${r.out}`);
  }
  if (setup.length) firewallCmd(d, n, '--reload');
  // the rules that were there before go back in (firewalld flushes the iptables tables)
  restoreRules(d, n);
}

/** Stop firewalld (it removes its table on exit) and its D-Bus; harmless where it does not run. */
export function stopFirewalld(d: Desc, n: LabNode): void {
  for (const f of [pidFile(d, n), dbusPidFile(d, n)]) {
    let pid = 0;
    try {
      pid = Number(readFileSync(f, 'utf8').trim());
    } catch {
      continue;
    }
    if (pid > 1 && procAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      waitSync(() => !procAlive(pid), 10_000, 0.05);
      if (procAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  }
  // a firewalld killed before it cleaned up leaves its table behind
  spawnSync('ip', ['netns', 'exec', n.ns, '/usr/sbin/nft', 'delete', 'table', 'inet', 'firewalld'], {
    stdio: 'ignore',
  });
  rmSync(dirOf(d, n), { recursive: true, force: true });
  restoreRules(d, n);
  rmSync(savedRules(d, n), { force: true });
}
