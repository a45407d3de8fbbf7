// The resolver chain's faults (faults.ts lists them with the others): a node's resolv.conf naming
// NodeLocalDNS (node-cache's loop plugin stops it at start: CrashLoopBackOff), naming the
// systemd-resolved stub with nothing behind it, the upstream resolver down, and a wildcard record
// under the hosts' search domain. Each is the real mechanism: the node's file, the stand-in's start
// with its loop check, the upstream's process and zone data.
import type { FaultDef } from './faults.js';
import { EXTERNAL, nodeCacheUp, restartNodeCache, startNodeCache, stopNodeCache } from './services.js';
import {
  readNodeCachePod,
  readNodeFile,
  resetNodeCachePod,
  resolvConf,
  startNodeCacheChecked,
  startUpstream,
  stopUpstream,
  upstreamIp,
  upstreamUp,
  upstreamWildcard,
  writeNodeFile,
} from './resolver.js';
import { NLD_IP, type Desc, type LabNode } from './topology.js';

const RESOLV = '/etc/resolv.conf';

/** systemd-resolved's stub file as it writes it (its header, trimmed), with nothing behind 127.0.0.53 */
const STUB = [
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
function restartChecked(d: Desc, n: LabNode): void {
  stopNodeCache(d.dir, n);
  startNodeCacheChecked(
    d.dir,
    n,
    (log) => startNodeCache(d.dir, n, d.corednsIp, log),
    () => stopNodeCache(d.dir, n),
  );
}

/** The node's healthy resolv.conf, and node-cache as a new pod. */
function restore(d: Desc, n: LabNode): void {
  writeNodeFile(d.dir, n, RESOLV, resolvConf([upstreamIp(d.k)]));
  resetNodeCachePod(d.dir, n.name);
  stopNodeCache(d.dir, n);
  startNodeCache(d.dir, n, d.corednsIp);
}

const fileSays = (d: Desc, n: LabNode, server: string) =>
  new RegExp(`^nameserver ${server.replace(/\./g, '\\.')}$`, 'm').test(readNodeFile(d.dir, n.ns, RESOLV) ?? '');

export const RESOLVER_FAULTS = {
  'resolv-loop': {
    scope: 'node',
    about:
      "the node's resolv.conf (the kubelet's resolvConf) names NodeLocalDNS (kubespray#9948, after a reboot): node-cache forwards `.` to itself, its loop plugin stops it at start, CrashLoopBackOff",
    apply: (d, n) => {
      writeNodeFile(d.dir, n, RESOLV, resolvConf([NLD_IP]));
      restartChecked(d, n);
    },
    lift: (d, n) => restore(d, n),
    ready: (d, n) => readNodeCachePod(d.dir, n.name).state === 'crashloop' && !nodeCacheUp(d.dir, n),
  },
  'resolv-stub': {
    scope: 'node',
    about:
      "the node's resolv.conf is systemd-resolved's stub (127.0.0.53) with nothing behind it: node-cache forwards `.` there and gets nothing; a CoreDNS pod started on the node would forward to itself",
    apply: (d, n) => {
      writeNodeFile(d.dir, n, RESOLV, STUB);
      restartChecked(d, n);
    },
    lift: (d, n) => restore(d, n),
    ready: (d, n) => fileSays(d, n, '127.0.0.53') && nodeCacheUp(d.dir, n),
  },
  'upstream-down': {
    scope: 'cluster',
    about: 'the upstream resolver the nodes name (and NodeLocalDNS and CoreDNS forward `.` to) is down',
    apply: (d) => stopUpstream(d.dir),
    lift: (d) => {
      if (!upstreamUp(d.dir)) startUpstream(d.k, d.dir, EXTERNAL);
      d.nodes.forEach((n) => restartNodeCache(d.dir, n));
    },
    ready: (d) => !upstreamUp(d.dir),
  },
  'search-wildcard': {
    scope: 'cluster',
    about: "the hosts' search domain has a wildcard record at the upstream (kubespray#5484): any name under it answers",
    apply: (d) => startUpstream(d.k, d.dir, EXTERNAL, true),
    lift: (d) => {
      if (upstreamWildcard(d.dir) || !upstreamUp(d.dir)) startUpstream(d.k, d.dir, EXTERNAL);
    },
    ready: (d) => upstreamUp(d.dir) && upstreamWildcard(d.dir),
  },
} satisfies Record<string, FaultDef>;
