// What lab tests look at from inside a namespace: dig's verdict, kernel counters, iptables counters
// and the conntrack table; and a fault held for the length of a test body.
import { spawnSync } from 'node:child_process';
import { DOMAIN } from './services.js';
import type { Fault, Lab } from './lab.js';

/** dig's verdict for one query from inside a namespace: the rcode, REFUSED-CONN, or TIMEOUT. */
export function digStatus(
  ns: string,
  server: string,
  opts: string[] = [],
  name = `kubernetes.default.svc.${DOMAIN}`,
): string {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'dig', `@${server}`, '+tries=1', '+time=1', ...opts, name], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const m = /status: (\w+)/.exec(r.stdout);
  return m ? m[1]! : /refused/i.test(r.stdout) ? 'REFUSED-CONN' : 'TIMEOUT';
}

/** dig's verdict from a lab node: one try of one second. */
export function digFrom(l: Lab, node: string, server: string, opts: string[] = [], name?: string): string {
  return digStatus(l.nodes.find((n) => n.name === node)!.ns, server, opts, name);
}
/** Whether a path answers, over UDP and over TCP, e.g. "NOERROR/TIMEOUT" (udp/tcp). A transport gets
 *  up to three tries: a datagram lost or answered late on a loaded machine is not a broken path, and a
 *  path a fault breaks fails all three. */
export function both(l: Lab, node: string, server: string): string {
  const answer = (opts: string[]) => {
    let r = '';
    for (let i = 0; i < 3 && r !== 'NOERROR'; i++) r = digFrom(l, node, server, opts);
    return r;
  };
  return `${answer([])}/${answer(['+tcp'])}`;
}

/** Run `body` with a fault on (optionally on some nodes only); the lab is always cleared after. */
export async function withFault(
  l: Lab,
  name: Fault,
  nodes: string[] | undefined,
  body: () => void | Promise<void>,
): Promise<void> {
  await l.fault(name, nodes ? { nodes } : undefined);
  try {
    await body();
  } finally {
    await l.clear();
  }
}

function read(ns: string, cmd: string, ...args: string[]): string {
  return spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
}

/** One counter of a namespace's /proc/net/snmp, e.g. ('Udp', 'InCsumErrors'). */
export function snmp(ns: string, group: string, field: string): number {
  const lines = read(ns, 'cat', '/proc/net/snmp')
    .split('\n')
    .filter((l) => l.startsWith(`${group}: `));
  const names = lines[0]?.split(/\s+/).slice(1) ?? [];
  const values = lines[1]?.split(/\s+/).slice(1) ?? [];
  const i = names.indexOf(field);
  if (i < 0) throw new Error(`no ${group} ${field} in /proc/net/snmp`);
  return Number(values[i]);
}

/** The packet counter of the first rule of `iptables-<backend>-save -c -t <table>` containing `match`. */
export function ruleCounter(ns: string, backend: 'nft' | 'legacy', table: string, match: string): number {
  const line = read(ns, `iptables-${backend}-save`, '-c', '-t', table)
    .split('\n')
    .find((l) => l.includes(match));
  const m = /^\[(\d+):\d+\]/.exec(line ?? '');
  if (!m) throw new Error(`no rule matching ${match} in ${backend} ${table}`);
  return Number(m[1]);
}

/** The namespace's conntrack entries (/proc/net/nf_conntrack), one per line. */
export function conntrack(ns: string): string[] {
  return read(ns, 'cat', '/proc/net/nf_conntrack').split('\n').filter(Boolean);
}

/** An nftables table exists in the namespace (/usr/sbin/nft: npm puts node_modules/.bin, which has an
 *  unrelated `nft`, first in PATH). */
export function nftTable(ns: string, family: string, name: string): boolean {
  return (
    spawnSync('ip', ['netns', 'exec', ns, '/usr/sbin/nft', 'list', 'table', family, name], { stdio: 'ignore' })
      .status === 0
  );
}
