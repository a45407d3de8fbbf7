// What the resolver chain's faults (their records are in faults.ts) do: rewrite a node's resolv.conf
// and start node-cache again as after a reboot, its loop check included; give the node back its
// healthy file and a new node-cache pod. The real mechanism: the node's file, the stand-in's start
// with its loop check.
import { startNodeCache, stopNodeCache } from './services.js';
import {
  readNodeFile,
  resetNodeCachePod,
  resolvConf,
  startNodeCacheChecked,
  upstreamIp,
  writeNodeFile,
} from './resolver.js';
import type { Desc, LabNode } from './topology.js';

export const RESOLV = '/etc/resolv.conf';

/** systemd-resolved's stub file as it writes it (its header, trimmed), with nothing behind 127.0.0.53 */
export const STUB = [
  '# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).',
  '# Do not edit.',
  '#',
  "# This file might be symlinked as /etc/resolv.conf. If you're looking at",
  '# /etc/resolv.conf and seeing this text, you have followed the symlink.',
  '',
  'nameserver 127.0.0.53',
  'options edns0 trust-ad',
  'search corp.example',
  '',
].join('\n');

/** node-cache started again as after a reboot, its loop plugin's check included. */
export function restartChecked(d: Desc, n: LabNode): void {
  stopNodeCache(d.dir, n);
  startNodeCacheChecked(
    d.dir,
    n,
    (log) => startNodeCache(d.dir, n, d.corednsIp, log),
    () => stopNodeCache(d.dir, n),
  );
}

/** The node's healthy resolv.conf, and node-cache as a new pod. */
export function restore(d: Desc, n: LabNode): void {
  writeNodeFile(d.dir, n, RESOLV, resolvConf([upstreamIp(d.k)]));
  resetNodeCachePod(d.dir, n.name);
  stopNodeCache(d.dir, n);
  startNodeCache(d.dir, n, d.corednsIp);
}

export const fileSays = (d: Desc, n: LabNode, server: string) =>
  new RegExp(`^nameserver ${server.replace(/\./g, '\\.')}$`, 'm').test(readNodeFile(d.dir, n.ns, RESOLV) ?? '');
