// The lab's resolver chain: each node's own /etc (an overlay over this machine's /etc, mounted in the
// mount namespace of the node's sshd, so its SSH sessions see it and this machine's files are never
// touched) holding Kubespray's kubelet config and the node's resolv.conf; a real upstream resolver
// (unbound, in a namespace of its own on the underlay) that NodeLocalDNS and the CoreDNS pods
// forward `.` to, as the kubelet's resolvConf tells them; and node-cache's start as it happens,
// `loop` plugin included: the stand-in sends the plugin's HINFO probe through itself and, when the
// probe comes back to it more than twice, stops with the plugin's fatal line — the kubelet starts
// it again, and it stops again (CrashLoopBackOff). The kubectl stand-in reads that pod state and log.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { killPidFile, nsDaemon, nsSh, pidAlive } from './sys.js';
import { NLD_IP, addressPlan, onUnderlay, type LabNode } from './topology.js';
import { unboundServer } from './unbound.js';

/** the host search domain every lab node's resolv.conf lists (RFC 2606's reserved .example) */
export const SEARCH_DOMAIN = 'corp.example';
/** what the upstream answers for the external name */
export const externalAnswer = (k: number) => `198.18.${128 + k}.250`;
/** what a wildcard search domain answers for any name (search-wildcard) */
export const wildcardAnswer = (k: number) => `198.18.${128 + k}.251`;

// ---- the upstream resolver ----------------------------------------------------------------------

export const upstreamNs = (k: number) => `ksv${k}-up`;
export const upstreamIp = (k: number) => `198.18.${k}.4`;
const upstreamConf = (dir: string) => join(dir, 'upstream.conf');
export const upstreamPid = (dir: string) => join(dir, 'upstream.pid');

/** The upstream's configuration: the external name, the hosts' search domain (no such names), and
 *  with `wildcard` a record answering every name under that domain. `local-zone: "." static`: it
 *  asks no one else, so nothing leaves the lab. */
function writeUpstreamConf(k: number, dir: string, external: string, wildcard: boolean): void {
  writeFileSync(
    upstreamConf(dir),
    [
      ...unboundServer(upstreamIp(k), upstreamPid(dir), dir),
      '  logfile: ""',
      '  verbosity: 0',
      '  num-threads: 1',
      '  so-reuseport: no',
      '  incoming-num-tcp: 200',
      '  access-control: 0.0.0.0/0 allow',
      '  module-config: "iterator"',
      '  local-zone: "." static',
      `  local-zone: "${external}." static`,
      `  local-data: "${external}. 0 IN A ${externalAnswer(k)}"`,
      // a wildcard: `redirect` answers the zone's own data for every name under it
      `  local-zone: "${SEARCH_DOMAIN}." ${wildcard ? 'redirect' : 'static'}`,
      ...(wildcard ? [`  local-data: "${SEARCH_DOMAIN}. 0 IN A ${wildcardAnswer(k)}"`] : []),
      'remote-control:',
      '  control-enable: no',
      '',
    ].join('\n'),
  );
}

/** The upstream's namespace on the underlay bridge, at 198.18.k.4. */
export function buildUpstream(k: number, record: (kind: 'ns' | 'link', name: string) => void): void {
  const { bridge } = addressPlan(k);
  const ns = upstreamNs(k);
  onUnderlay(ns, `ksv${k}vu`, bridge, record);
  nsSh(
    ns,
    [
      'ip link set lo up',
      `ip addr add ${upstreamIp(k)}/24 dev eth0`,
      'ip link set eth0 up',
      'ethtool -K eth0 tx off rx off',
    ].join(' && '),
  );
}

/** Start (or restart) the upstream; returns once its daemon is up. */
export function startUpstream(k: number, dir: string, external: string, wildcard = false): void {
  killPidFile(upstreamPid(dir));
  writeUpstreamConf(k, dir, external, wildcard);
  nsDaemon(upstreamNs(k), upstreamPid(dir), 'unbound', '-c', upstreamConf(dir));
}

export const stopUpstream = (dir: string) => killPidFile(upstreamPid(dir));
export const upstreamUp = (dir: string) => pidAlive(upstreamPid(dir));
export const upstreamWildcard = (dir: string) =>
  existsSync(upstreamConf(dir)) && readFileSync(upstreamConf(dir), 'utf8').includes(' redirect');

// ---- each node's /etc ---------------------------------------------------------------------------

const etcDir = (dir: string, ns: string) => join(dir, `etc-${ns}`);
/** a path under the node's /etc, as this machine writes it (the overlay's upper layer) */
export const nodeEtcPath = (dir: string, ns: string, path: string) => {
  if (!path.startsWith('/etc/')) throw new Error(`lab: ${path} is not under /etc`);
  return join(etcDir(dir, ns), 'upper', path.slice('/etc/'.length));
};

/** Kubespray's kubelet-config.v1beta1.yaml.j2 rendered for a lab node (the DNS part as Kubespray
 *  writes it; kube_resolv_conf /etc/resolv.conf, as on a node without systemd-resolved). */
export function kubeletConfig(nodeIp: string, clusterDns: string, domain: string, resolvConf: string): string {
  return [
    'apiVersion: kubelet.config.k8s.io/v1beta1',
    'kind: KubeletConfiguration',
    'nodeStatusUpdateFrequency: "10s"',
    'failSwapOn: True',
    'authentication:',
    '  anonymous:',
    '    enabled: false',
    '  webhook:',
    '    enabled: True',
    '  x509:',
    '    clientCAFile: /etc/kubernetes/ssl/ca.crt',
    'authorization:',
    '  mode: Webhook',
    'staticPodPath: /etc/kubernetes/manifests',
    'cgroupDriver: systemd',
    'containerLogMaxFiles: 5',
    'containerLogMaxSize: 10Mi',
    'containerRuntimeEndpoint : unix:///var/run/containerd/containerd.sock',
    'maxPods: 110',
    'podPidsLimit: -1',
    `address: "${nodeIp}"`,
    'readOnlyPort: 0',
    'healthzPort: 10248',
    'healthzBindAddress: "127.0.0.1"',
    'kubeletCgroups: /system.slice/kubelet.service',
    `clusterDomain: ${domain}`,
    'protectKernelDefaults: true',
    'rotateCertificates: true',
    'clusterDNS:',
    `- ${clusterDns}`,
    `resolvConf: "${resolvConf}"`,
    '',
  ].join('\n');
}

/** A node's resolv.conf as a node's own network configuration writes it. */
export const resolvConf = (servers: string[], search = [SEARCH_DOMAIN]) =>
  [
    '# written by the kubespray-validate lab',
    ...servers.map((s) => `nameserver ${s}`),
    ...(search.length ? [`search ${search.join(' ')}`] : []),
    'options timeout:2 attempts:2',
    '',
  ].join('\n');

/** The node's /etc files, before its sshd starts (the overlay is mounted when it does). */
export function writeNodeEtc(dir: string, k: number, node: LabNode, domain: string): void {
  const base = etcDir(dir, node.ns);
  mkdirSync(join(base, 'upper', 'kubernetes'), { recursive: true });
  mkdirSync(join(base, 'work'), { recursive: true });
  writeFileSync(
    nodeEtcPath(dir, node.ns, '/etc/kubernetes/kubelet-config.yaml'),
    kubeletConfig(node.address, NLD_IP, domain, '/etc/resolv.conf'),
  );
  writeFileSync(nodeEtcPath(dir, node.ns, '/etc/resolv.conf'), resolvConf([upstreamIp(k)]));
}

/** The shell line that mounts the node's /etc in its sshd's mount namespace (private to it). */
export const etcOverlayScript = (dir: string, ns: string) => {
  const base = etcDir(dir, ns);
  return `mount -t overlay ksv-etc -o 'lowerdir=/etc,upperdir=${base}/upper,workdir=${base}/work' /etc`;
};

/** Rewrite one of the node's /etc files in place (same inode: the overlay shows it at once). */
export function writeNodeFile(dir: string, node: LabNode, path: string, text: string): void {
  writeFileSync(nodeEtcPath(dir, node.ns, path), text);
}

export function readNodeFile(dir: string, ns: string, path: string): string | null {
  try {
    return readFileSync(nodeEtcPath(dir, ns, path), 'utf8');
  } catch {
    return null;
  }
}

/** What the kubelet hands a pod with dnsPolicy Default on the node: the first 3 nameservers of the
 *  file its resolvConf names. */
export function kubeletNameservers(dir: string, ns: string): string[] {
  const kc = readNodeFile(dir, ns, '/etc/kubernetes/kubelet-config.yaml') ?? '';
  const path = /^resolvConf:\s*"?([^"\s]+)"?/m.exec(kc)?.[1] ?? '/etc/resolv.conf';
  const text = path.startsWith('/etc/') ? (readNodeFile(dir, ns, path) ?? '') : '';
  return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!).slice(0, 3);
}

// ---- node-cache's start, with its loop plugin --------------------------------------------------

/** node-cache's pod as the kubelet reports it (kubectl-pods.ts prints it): restarts, the current
 *  state, and the previous container's log. */
export interface NodeCachePod {
  restartCount: number;
  state: 'running' | 'crashloop';
  /** the log of the container that ended last (`kubectl logs --previous`) */
  previousLog: string;
}

export const nodeCachePodFile = (dir: string, node: string) => join(dir, `nodecache-pod-${node}.json`);

export function readNodeCachePod(dir: string, node: string): NodeCachePod {
  try {
    return JSON.parse(readFileSync(nodeCachePodFile(dir, node), 'utf8')) as NodeCachePod;
  } catch {
    return { restartCount: 0, state: 'running', previousLog: '' };
  }
}

const writeNodeCachePod = (dir: string, node: string, p: NodeCachePod) =>
  writeFileSync(nodeCachePodFile(dir, node), JSON.stringify(p));

const queryLog = (dir: string, n: LabNode) => join(dir, `unbound-${n.name}-queries.log`);

/** The `loop` plugin's check at start, on the running stand-in: a HINFO query for a random name sent
 *  through node-cache itself (as the plugin sends it through its forwarder); seen arriving more than
 *  twice, it came back through the forward path — a loop. Returns the plugin's fatal line, or null.
 *  The stand-in logs queries during the check only (its query log), and the looping socket's own
 *  address is read back with ss. */
export function loopCheck(dir: string, n: LabNode): string | null {
  const name = `${randomInt(2 ** 47)}${randomInt(2 ** 16)}.${randomInt(2 ** 47)}${randomInt(2 ** 16)}.`;
  const log = queryLog(dir, n);
  // the probe in flight, the stand-in's own socket towards its forward target is read (ss)
  const ss =
    spawnSync(
      'ip',
      [
        'netns',
        'exec',
        n.ns,
        'sh',
        '-c',
        `dig -b 127.0.0.1 @${NLD_IP} +tries=1 +time=1 ${name} HINFO >/dev/null & sleep 0.3; ss -Hun dst ${NLD_IP}:53; wait`,
      ],
      { encoding: 'utf8', timeout: 5000 },
    ).stdout ?? '';
  const seen = (existsSync(log) ? readFileSync(log, 'utf8') : '')
    .split('\n')
    .filter((l) => l.includes(` ${name} HINFO IN`));
  if (seen.length <= 2) return null;
  const from = ss
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[2])
    .find((a) => a?.startsWith(`${NLD_IP}:`));
  return `[FATAL] plugin/loop: Loop (${from ?? NLD_IP} -> ${NLD_IP}:53) detected for zone ".", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO ${name}"`;
}

/** Start node-cache as the kubelet does after the node's files change (a reboot): with the loop
 *  plugin's check; a container stopped by it is started again once (the kubelet's first retry),
 *  stopped again, and left in CrashLoopBackOff. `start(queryLog)` starts the stand-in. */
export function startNodeCacheChecked(
  dir: string,
  n: LabNode,
  start: (queryLog: string | null) => void,
  stop: () => void,
): NodeCachePod {
  const pod = readNodeCachePod(dir, n.name);
  for (let attempt = 0; attempt < 2; attempt++) {
    writeFileSync(queryLog(dir, n), '');
    start(queryLog(dir, n));
    const fatal = loopCheck(dir, n);
    stop();
    if (!fatal) {
      start(null);
      const p: NodeCachePod = { ...pod, state: 'running' };
      writeNodeCachePod(dir, n.name, p);
      return p;
    }
    pod.restartCount++;
    pod.previousLog = `${fatal}\n`;
    pod.state = 'crashloop';
    writeNodeCachePod(dir, n.name, pod);
  }
  return pod;
}

/** Forget node-cache's crash history (the fault is lifted: a new pod). */
export function resetNodeCachePod(dir: string, node: string): void {
  writeNodeCachePod(dir, node, { restartCount: 0, state: 'running', previousLog: '' });
}

// ---- pods' way out ------------------------------------------------------------------------------

/** Calico's natOutgoing (cali-nat-outgoing): what pods send outside the pods' network leaves with
 *  the node's address, so the upstream resolver needs no route to the pods. */
export const natOutgoingRules = (podCidr: string) => [
  '-A POSTROUTING -j cali-nat-outgoing',
  `-A cali-nat-outgoing -s ${podCidr} ! -d ${podCidr} -j MASQUERADE`,
];
