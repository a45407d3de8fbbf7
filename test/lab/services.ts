// What runs on the lab's nodes and pods: NodeLocalDNS (unbound standing in for node-cache, with
// node-cache's iptables rules), kube-proxy's DNAT for the CoreDNS service and a hardened INPUT chain,
// CoreDNS pods (unbound serving the cluster records), OpenSSH, the sudo users, and the kubectl stand-in.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killPidFile, nsDaemon, nsSh, nsx, pidAlive, quiet, sh } from './sys.js';
import { NLD_IP, type LabEndpoint, type LabNode } from './topology.js';
import { etcOverlayScript, kubeletNameservers, natOutgoingRules, nodeEtcPath } from './resolver.js';
import { unboundServer } from './unbound.js';

export const DOMAIN = 'cluster.local';
export const EXTERNAL = 'kubernetes.io';

// ---- NodeLocalDNS -------------------------------------------------------------------------------

function unboundConf(dir: string, name: string, svc: string, upstream: string[], queryLog: string | null): string {
  const zones = [DOMAIN, 'in-addr.arpa', 'ip6.arpa'];
  return [
    ...unboundServer(NLD_IP, join(dir, `unbound-${name}.pid`), dir),
    // the loop plugin's check at start (resolver.ts) reads which queries arrived
    `  logfile: "${queryLog ?? ''}"`,
    ...(queryLog ? ['  log-queries: yes'] : []),
    '  verbosity: 0',
    '  num-threads: 1',
    '  so-reuseport: no',
    '  outgoing-range: 64',
    '  access-control: 0.0.0.0/0 allow',
    '  module-config: "iterator"',
    '  do-not-query-localhost: no',
    '  cache-max-ttl: 0',
    '  cache-max-negative-ttl: 0',
    '  prefetch: no',
    '  serve-expired: no',
    '  harden-referral-path: no',
    '  qname-minimisation: no',
    // the cluster zones over TCP (node-cache's force_tcp), `.` as node-cache forwards it (UDP)
    '  tcp-upstream: no',
    // a fresh upstream connection per query: unbound pipelining queries on a reused connection
    // without TCP_NODELAY stalls one in ~50 for the peer's 40 ms delayed ACK; node-cache (Go, NODELAY
    // on) has no such stall, and the probes' latency should not carry the stand-in's
    '  max-reuse-tcp-queries: 1',
    '  outbound-msg-retry: 1',
    // forget an upstream's failures at once (node-cache's forward plugin health-checks every 0.5 s)
    '  infra-host-ttl: 1',
    '  infra-keep-probing: yes',
    ...zones.map((z) => `  local-zone: "${z}." nodefault`),
    ...zones.map((z) => `  domain-insecure: "${z}"`),
    'remote-control:',
    '  control-enable: no',
    ...zones.flatMap((z) => [
      'forward-zone:',
      `  name: "${z}"`,
      `  forward-addr: ${svc}@53`,
      '  forward-tcp-upstream: yes',
      '  forward-first: no',
    ]),
    // `.:53 { forward . /etc/resolv.conf }`: the servers the kubelet hands the pod (none: an address
    // nothing answers, so nothing leaves the lab)
    'forward-zone:',
    '  name: "."',
    ...(upstream.length ? upstream : ['127.0.0.1@1']).map((a) => `  forward-addr: ${a.includes('@') ? a : `${a}@53`}`),
    '  forward-first: no',
    '',
  ].join('\n');
}

const nodeCachePid = (dir: string, n: LabNode) => join(dir, `unbound-${n.name}.pid`);

/** node-cache on a node: unbound on 169.254.25.10 forwarding every zone to the CoreDNS service over
 *  TCP (node-cache's force_tcp). */
export function startNodeCache(dir: string, n: LabNode, corednsIp?: string, queryLog: string | null = null): void {
  const conf = join(dir, `unbound-${n.name}.conf`);
  if (corednsIp) writeFileSync(conf, unboundConf(dir, n.name, corednsIp, kubeletNameservers(dir, n.ns), queryLog));
  nsDaemon(n.ns, nodeCachePid(dir, n), 'unbound', '-c', conf);
}

export const nodeCacheUp = (dir: string, n: LabNode) => pidAlive(nodeCachePid(dir, n));
export const stopNodeCache = (dir: string, n: LabNode) => killPidFile(nodeCachePid(dir, n));

/** node-cache's forward plugin health-checks its upstream every 0.5 s and uses it again at once;
 *  the unbound stand-in backs off a failed upstream for far longer (SERVFAIL for 10+ s after CoreDNS
 *  is back), so lifting a fault that broke its upstream restarts it. Left down when it is down on
 *  purpose (nodelocaldns-down). */
export function restartNodeCache(dir: string, n: LabNode): void {
  if (!nodeCacheUp(dir, n)) return;
  stopNodeCache(dir, n);
  startNodeCache(dir, n);
}

/** The shell line a watcher runs to restart node-cache (see restartNodeCache). */
export const restartNodeCacheScript = (dir: string, n: LabNode) =>
  `kill -9 $(cat '${nodeCachePid(dir, n)}') 2>/dev/null; sleep 0.1; unbound -c '${join(dir, `unbound-${n.name}.conf`)}'`;

// ---- iptables -----------------------------------------------------------------------------------

/** node-cache's 12 rules, as iptables-save prints them (kubernetes/dns cmd/node-cache). */
export function nodeCacheRules(): { raw: string[]; filter: string[] } {
  const c = (t: string) => `-m comment --comment "NodeLocal DNS Cache: ${t}"`;
  const raw: string[] = [];
  const filter: string[] = [];
  for (const p of ['tcp', 'udp'])
    raw.push(`-A PREROUTING -d ${NLD_IP}/32 -p ${p} -m ${p} --dport 53 ${c('skip conntrack')} -j NOTRACK`);
  for (const p of ['tcp', 'udp'])
    filter.push(`-A INPUT -d ${NLD_IP}/32 -p ${p} -m ${p} --dport 53 ${c('allow DNS traffic')} -j ACCEPT`);
  for (const p of ['tcp', 'udp'])
    raw.push(`-A OUTPUT -s ${NLD_IP}/32 -p ${p} -m ${p} --sport 53 ${c('skip conntrack')} -j NOTRACK`);
  for (const p of ['tcp', 'udp'])
    filter.push(`-A OUTPUT -s ${NLD_IP}/32 -p ${p} -m ${p} --sport 53 ${c('allow DNS traffic')} -j ACCEPT`);
  for (const p of ['tcp', 'udp'])
    raw.push(`-A OUTPUT -d ${NLD_IP}/32 -p ${p} -m ${p} --dport 53 ${c('skip conntrack')} -j NOTRACK`);
  raw.push(`-A OUTPUT -d ${NLD_IP}/32 -p tcp -m tcp --dport 8080 ${c('skip conntrack')} -j NOTRACK`);
  raw.push(`-A OUTPUT -s ${NLD_IP}/32 -p tcp -m tcp --sport 8080 ${c('skip conntrack')} -j NOTRACK`);
  return { raw, filter };
}

/** A node's whole ruleset for iptables-restore: node-cache's rules, kube-proxy-like random DNAT of
 *  the CoreDNS service to its pods (a chain per endpoint that marks a pod's own queries, hairpinned
 *  back to it through the service, for masquerade — as kube-proxy's KUBE-SEP chains do — so a pod's
 *  query to the service answers even when the service picks that pod), and a hardened INPUT chain
 *  that lets in SSH, the overlay's VXLAN port and ICMP only; with the pods' range, Calico's
 *  natOutgoing for what pods send outside it. */
export function iptablesRestore(svc: string, pods: string[], vxlanPort: number, podCidr?: string): string {
  const nc = nodeCacheRules();
  const sep = (j: number) => `KUBE-SEP-DNS${j}`;
  const dnat: string[] = [];
  for (const p of ['udp', 'tcp']) {
    pods.forEach((_pod, j) => {
      const left = pods.length - j;
      const stat = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(11)} ` : '';
      dnat.push(`-A KUBE-SVC-DNS -p ${p} -m ${p} --dport 53 ${stat}-j ${sep(j)}`);
    });
  }
  const seps = pods.flatMap((pod, j) => [
    `-A ${sep(j)} -s ${pod}/32 -j KUBE-MARK-MASQ`,
    ...['udp', 'tcp'].map((p) => `-A ${sep(j)} -p ${p} -m ${p} -j DNAT --to-destination ${pod}:53`),
  ]);
  return [
    '*raw',
    ':PREROUTING ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...nc.raw,
    'COMMIT',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-SVC-DNS - [0:0]',
    ':KUBE-MARK-MASQ - [0:0]',
    ':KUBE-POSTROUTING - [0:0]',
    ...(podCidr ? [':cali-nat-outgoing - [0:0]'] : []),
    ...pods.map((_p, j) => `:${sep(j)} - [0:0]`),
    `-A PREROUTING -d ${svc}/32 -j KUBE-SVC-DNS`,
    `-A OUTPUT -d ${svc}/32 -j KUBE-SVC-DNS`,
    '-A POSTROUTING -j KUBE-POSTROUTING',
    ...(podCidr ? natOutgoingRules(podCidr) : []),
    '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    '-A KUBE-POSTROUTING -j MASQUERADE',
    ...dnat,
    ...seps,
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...nc.filter.filter((l) => l.startsWith('-A INPUT')),
    '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    // replies node-cache marked NOTRACK (its rules 5-10) come back untracked
    '-A INPUT -m conntrack --ctstate UNTRACKED -j ACCEPT',
    '-A INPUT -i lo -s 127.0.0.0/8 -j ACCEPT',
    '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT',
    `-A INPUT -p udp -m udp --dport ${vxlanPort} -j ACCEPT`,
    '-A INPUT -p icmp -j ACCEPT',
    '-A INPUT -j REJECT --reject-with icmp-port-unreachable',
    ...nc.filter.filter((l) => l.startsWith('-A OUTPUT')),
    'COMMIT',
    '',
  ].join('\n');
}

/** Put node-cache's 12 rules back on top of their chains (idempotent: whatever copies are there
 *  go first). */
export function restoreNodeCacheRules(ns: string): void {
  deleteNodeCacheRules(ns);
  const nc = nodeCacheRules();
  const restore = ['*raw', ...nc.raw, 'COMMIT', '*filter', ...nc.filter, 'COMMIT', '']
    .join('\n')
    .replace(/^-A /gm, '-I ');
  sh('ip', ['netns', 'exec', ns, 'iptables-restore', '-w', '--noflush'], restore);
}

export function deleteNodeCacheRules(ns: string): void {
  for (const t of ['raw', 'filter']) {
    const rules = nsx(ns, 'iptables-save', '-t', t)
      .split('\n')
      .filter((l) => l.includes('NodeLocal DNS Cache'));
    for (const r of rules) nsSh(ns, `iptables -w -t ${t} -D ${r.slice(3)}`);
  }
}

// ---- CoreDNS pods -------------------------------------------------------------------------------

export interface ClusterAddrs {
  apiIp: string;
  corednsIp: string;
  svcBase: string;
  /** the nodes: a CoreDNS pod forwards `.` to what its node's kubelet hands it */
  nodes: LabNode[];
}

export const corednsPid = (dir: string, ep: LabEndpoint) => join(dir, `coredns-${ep.podNs}.pid`);

/** A CoreDNS pod: unbound serving the cluster's records from local data, UDP and TCP, many
 *  concurrent TCP clients (dnsmasq allows only 20 TCP children: 20 nodes probing at once overran
 *  it), forwarding `.` to the lab's upstream resolver as the kubelet's resolvConf tells it. */
export function startCoredns(ep: LabEndpoint, dir: string, a: ClusterAddrs): void {
  const conf = join(dir, `coredns-${ep.podNs}.conf`);
  const node = a.nodes.find((n) => n.name === ep.node);
  const upstream = node ? kubeletNameservers(dir, node.ns) : [];
  const big = Array.from({ length: 8 }, () => `"${'x'.repeat(200)}"`).join(' ');
  writeFileSync(
    conf,
    [
      ...unboundServer(ep.ip, corednsPid(dir, ep), dir),
      '  logfile: ""',
      '  verbosity: 0',
      '  num-threads: 1',
      '  so-reuseport: no',
      '  incoming-num-tcp: 1000',
      '  tcp-idle-timeout: 10000',
      '  access-control: 0.0.0.0/0 allow',
      '  module-config: "iterator"',
      '  do-not-query-localhost: no',
      '  cache-max-ttl: 0',
      '  cache-max-negative-ttl: 0',
      '  infra-host-ttl: 1',
      '  infra-keep-probing: yes',
      '  outbound-msg-retry: 1',
      // CoreDNS's forward waits seconds for its upstream; unbound retransmits after 50 ms at first,
      // which a pod slowed on purpose (slow-pod.ts) turned into SERVFAIL
      '  infra-cache-min-rtt: 1000',
      `  local-zone: "${DOMAIN}." static`,
      `  local-data: "kubernetes.default.svc.${DOMAIN}. 0 IN A ${a.apiIp}"`,
      `  local-data: "kube-dns.kube-system.svc.${DOMAIN}. 0 IN A ${a.corednsIp}"`,
      `  local-data: "${ep.pod}.kube-system.pod.${DOMAIN}. 0 IN A ${ep.ip}"`,
      `  local-data-ptr: "${a.apiIp} 0 kubernetes.default.svc.${DOMAIN}."`,
      `  local-data-ptr: "${a.corednsIp} 0 kube-dns.kube-system.svc.${DOMAIN}."`,
      `  local-data: 'big.${DOMAIN}. 0 IN TXT ${big}'`,
      'remote-control:',
      '  control-enable: no',
      // `forward . /etc/resolv.conf` in the pod: what its node's kubelet hands it (dnsPolicy Default);
      // the upstream resolver answers external names (none: an address nothing answers)
      'forward-zone:',
      '  name: "."',
      ...(upstream.length ? upstream : ['127.0.0.1@1']).map(
        (x) => `  forward-addr: ${x.includes('@') ? x : `${x}@53`}`,
      ),
      '  forward-first: no',
      '',
    ].join('\n'),
  );
  nsDaemon(ep.podNs, corednsPid(dir, ep), 'unbound', '-c', conf);
}

// ---- OpenSSH and users --------------------------------------------------------------------------

export interface LabUsers {
  nopasswd: string;
  passwd: string;
  password: string;
  stall: string;
}

export function writeSshdConf(
  dir: string,
  ns: string,
  address: string,
  authorizedKeysDir: string,
  users: LabUsers | null,
): void {
  const hostKey = join(dir, `ssh_host_ed25519_${ns}`);
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  writeFileSync(
    join(dir, `sshd_${ns}.conf`),
    [
      `ListenAddress ${address}`,
      'Port 22',
      `HostKey ${hostKey}`,
      `PidFile ${sshdPid(dir, ns)}`,
      `AuthorizedKeysFile ${authorizedKeysDir}/%u`,
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      'LogLevel ERROR',
      'MaxStartups 200:30:400',
      'MaxSessions 50',
      ...(users
        ? [
            `Match User ${users.passwd}`,
            '  PasswordAuthentication yes',
            `Match User ${users.stall}`,
            '  ForceCommand sleep 3600',
          ]
        : []),
      '',
    ].join('\n'),
  );
}

export const sshdPid = (dir: string, ns: string) => join(dir, `sshd_${ns}.pid`);

/** sshd in the node's namespace. `ip netns exec` gives it a private mount namespace, where the
 *  node's own /etc is mounted (resolver.ts: an overlay holding its kubelet config and resolv.conf)
 *  and where the controller's own ~/.bashrc is masked: the nodes share this machine's /root, and a dev box's
 *  bashrc (here `pyenv init`, ~80 ms per SSH command) would make every lab node slower than a
 *  stock node. Affects the validator and Ansible (bench) alike. */
export function startSshd(dir: string, ns: string): void {
  if (pidAlive(sshdPid(dir, ns))) return;
  nsSh(
    ns,
    `for f in /root/.bashrc /root/.bash_profile /root/.profile; do [ -f "$f" ] && mount --bind /dev/null "$f"; done; ${existsSync(nodeEtcPath(dir, ns, '/etc/resolv.conf')) ? `${etcOverlayScript(dir, ns)} && ` : ''}exec /usr/sbin/sshd -f '${join(dir, `sshd_${ns}.conf`)}'`,
  );
}

/** A new SSH host key and a restarted sshd (a rebuilt node, or an attacker). */
export function rotateHostKey(dir: string, ns: string): void {
  killPidFile(sshdPid(dir, ns));
  const hostKey = join(dir, `ssh_host_ed25519_${ns}`);
  rmSync(hostKey, { force: true });
  rmSync(`${hostKey}.pub`, { force: true });
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  startSshd(dir, ns);
}

/** Two sudo users on the host (sshd in the namespaces authenticates against the host's accounts):
 *  one with passwordless sudo, one whose sudo asks for a password; and a third whose every SSH
 *  command hangs (sshd ForceCommand): a node that stalls mid-command. `record` is told of each user
 *  and the sudoers file before they exist. */
export function createUsers(
  k: number,
  dir: string,
  authorizedKeysDir: string,
  pubKey: Buffer,
  record: (kind: 'user' | 'sudoers', name: string) => void,
): LabUsers {
  // sshd reads authorized_keys as the user: the lab directory must be traversable
  chmodSync(dir, 0o755);
  chmodSync(authorizedKeysDir, 0o755);
  const nopasswd = `ksv${k}np`;
  const passwd = `ksv${k}pw`;
  const stall = `ksv${k}st`;
  const password = `Lab-${randomBytes(9).toString('base64url')}`;
  for (const u of [nopasswd, passwd, stall]) {
    quiet('userdel', ['-f', u]);
    record('user', u);
    sh('useradd', ['-M', '-d', dir, '-s', '/bin/sh', u]);
    writeFileSync(join(authorizedKeysDir, u), pubKey);
  }
  for (const u of [nopasswd, stall]) sh('usermod', ['-p', '*', u]); // no password, not locked (sshd refuses locked accounts)
  sh('chpasswd', [], `${passwd}:${password}\n`);
  const sudoers = `/etc/sudoers.d/ksv-lab-${k}`;
  record('sudoers', sudoers);
  writeFileSync(
    sudoers,
    `${nopasswd} ALL=(ALL) NOPASSWD: ALL\n${passwd} ALL=(ALL) ALL\nDefaults:${passwd} !lecture, timestamp_timeout=0\n`,
    { mode: 0o440 },
  );
  return { nopasswd, passwd, password, stall };
}

// ---- kubectl ------------------------------------------------------------------------------------

/** Marker files the kubectl stand-in looks at: `endpoints-gone` (faults) and, per node address,
 *  `kubectl-fail-<address>` (a test makes it fail on one node). */
export const endpointsGoneMarker = (dir: string) => join(dir, 'endpoints-gone');

/** JSON as kubectl prints it: 4-space indent, keys sorted (kubectl prints unstructured objects). */
function kubectlJson(v: unknown): string {
  const sort = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sort)
      : x && typeof x === 'object'
        ? Object.fromEntries(
            Object.keys(x)
              .sort()
              .map((key) => [key, sort((x as Record<string, unknown>)[key])]),
          )
        : x;
  return JSON.stringify(sort(v), null, 4) + '\n';
}

/** The kubectl stand-in (the only simulated piece of the lab) answers, as kubectl does against a
 *  Kubernetes >= 1.33 API server:
 *  - `-n kube-system get endpoints coredns -o json`: the v1 Endpoints object, with the API server's
 *    deprecation warning on stderr; with the endpoints-gone fault, the error of a server without
 *    the resource (exit 1);
 *  - `-n kube-system get endpointslices -l kubernetes.io/service-name=coredns -o json`: the
 *    discovery.k8s.io/v1 EndpointSlices in the v1 List kubectl wraps every list in;
 *  - `get --raw /apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices?labelSelector=…`:
 *    the API's own EndpointSliceList. */
export function writeKubectl(dir: string, binDir: string, endpoints: LabEndpoint[], statePath: string): void {
  mkdirSync(binDir, { recursive: true });
  const labels = { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'coredns' };
  const created = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const svcUid = randomUUID();
  const podUid = new Map(endpoints.map((e) => [e.pod, randomUUID()]));
  const targetRef = (e: LabEndpoint) => ({
    kind: 'Pod',
    name: e.pod,
    namespace: 'kube-system',
    uid: podUid.get(e.pod),
  });
  const ports = [
    { name: 'dns', port: 53, protocol: 'UDP' },
    { name: 'dns-tcp', port: 53, protocol: 'TCP' },
    { name: 'metrics', port: 9153, protocol: 'TCP' },
  ];
  const epFile = join(dir, 'coredns-endpoints.json');
  writeFileSync(
    epFile,
    JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: 'coredns', namespace: 'kube-system', labels },
        subsets: [
          { addresses: endpoints.map((e) => ({ ip: e.ip, nodeName: e.node, targetRef: targetRef(e) })), ports },
        ],
      },
      null,
      4,
    ) + '\n',
  );
  const slice = {
    addressType: 'IPv4',
    apiVersion: 'discovery.k8s.io/v1',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: e.node,
      targetRef: targetRef(e),
    })),
    kind: 'EndpointSlice',
    metadata: {
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': created },
      creationTimestamp: created,
      generateName: 'coredns-',
      generation: 1,
      labels: {
        ...labels,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        'kubernetes.io/service-name': 'coredns',
      },
      name: `coredns-${randomBytes(3).toString('hex').slice(0, 5)}`,
      namespace: 'kube-system',
      ownerReferences: [
        { apiVersion: 'v1', blockOwnerDeletion: true, controller: true, kind: 'Service', name: 'coredns', uid: svcUid },
      ],
      resourceVersion: '1042',
      uid: randomUUID(),
    },
    ports,
  };
  const slicesFile = join(dir, 'coredns-endpointslices.json');
  writeFileSync(
    slicesFile,
    kubectlJson({ apiVersion: 'v1', items: [slice], kind: 'List', metadata: { resourceVersion: '' } }),
  );
  const rawFile = join(dir, 'coredns-endpointslicelist.json');
  // the API server's own order: metadata first, then the slice's fields
  const item = {
    metadata: slice.metadata,
    addressType: slice.addressType,
    endpoints: slice.endpoints,
    ports: slice.ports,
  };
  writeFileSync(
    rawFile,
    JSON.stringify({
      kind: 'EndpointSliceList',
      apiVersion: 'discovery.k8s.io/v1',
      metadata: { resourceVersion: '1042' },
      items: [item],
    }) + '\n',
  );
  writeFileSync(
    join(binDir, 'kubectl'),
    [
      '#!/bin/sh',
      '# lab stand-in for kubectl: the coredns Endpoints and EndpointSlices, nothing else',
      `me=$(ip -o -4 addr show dev eth0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)`,
      `if [ -n "$me" ] && [ -e '${dir}/kubectl-fail-'"$me" ]; then echo "error: the server could not find the requested resource" >&2; exit 1; fi`,
      'a=" $* "',
      // pods (--pod-probes create): kubectl-pods.ts makes and removes real pod sandboxes in the lab
      `case "$a" in *" run "*|*" get pods "*|*" get pod "*|*" get nodes "*|*" delete pods "*|*" delete pod "*|*" logs "*) exec '${process.execPath}' --import '${import.meta.resolve('tsx')}' '${fileURLToPath(new URL('./kubectl-pods.ts', import.meta.url))}' '${statePath}' "$@" ;; esac`,
      'case "$a" in *" get endpoints coredns "*) what=endpoints ;; *" get endpointslices "*|*" get endpointslice "*|*" get endpointslices.discovery.k8s.io "*) what=slices ;; *" get --raw /apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dcoredns "*) what=raw ;; *) what= ;; esac',
      'case "$a" in *" -l kubernetes.io/service-name=coredns "*|*" -l=kubernetes.io/service-name=coredns "*|*" --selector kubernetes.io/service-name=coredns "*|*" --selector=kubernetes.io/service-name=coredns "*) ;; *) [ "$what" = slices ] && what= ;; esac',
      'case "$what" in',
      '  endpoints)',
      `    if [ -e '${endpointsGoneMarker(dir)}' ]; then echo 'error: the server doesn'"'"'t have a resource type "endpoints"' >&2; exit 1; fi`,
      `    echo 'Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice' >&2; cat '${epFile}' ;;`,
      `  slices) cat '${slicesFile}' ;;`,
      `  raw) cat '${rawFile}' ;;`,
      '  *) echo "error: the lab kubectl only answers: get endpoints coredns -o json, get endpointslices -l kubernetes.io/service-name=coredns -o json" >&2; exit 1 ;;',
      'esac',
      '',
    ].join('\n'),
  );
  chmodSync(join(binDir, 'kubectl'), 0o755);
}

// ---- readiness ----------------------------------------------------------------------------------

/** Wait until NodeLocalDNS answers on every node (after start or clear); gives up after 10 s. */
export async function waitReady(nodes: LabNode[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (const node of nodes) {
    for (;;) {
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          node.ns,
          'dig',
          `@${NLD_IP}`,
          '+tries=1',
          '+time=1',
          '+short',
          `kubernetes.default.svc.${DOMAIN}`,
        ],
        { encoding: 'utf8', timeout: 5000 },
      );
      if (r.status === 0 && r.stdout.trim()) break;
      if (Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
}
