// The lab: a Kubespray-like cluster network built from Linux network namespaces, shared by the
// e2e tests, the benchmark and the demo. Everything lives in namespaces it creates and in
// 198.18.0.0/15 (plus 169.254.25.10 inside node namespaces); nothing touches the host's network.
//
// Per lab (index k, 0..63):
//   underlay   198.18.k.0/24       bridge ksv<k>br; node i = 198.18.k.(10+i); root ns = .1 (none with a bastion)
//   bastion    198.18.(64+k).0/30  root ns .1 <-> bastion .2 (bastion also has 198.18.k.5 on the bridge)
//   services   198.18.(128+k).0/24 CoreDNS service = .3, kubernetes API service = .1
//   pods       198.19.k.0/24       node i block 198.19.k.(4i)/30: CoreDNS pod .4i+1, VTEP .4i+2
//
// Each node namespace: eth0 (veth, offload off so checksums are real), a real OpenSSH sshd, ip_forward,
// vxlan.calico (VNI 4096, port 4789, MTU 1450) with Calico's neighbour + fdb + onlink-route scheme,
// an interface named nodelocaldns (a bridge: this kernel has no dummy) holding 169.254.25.10 with
// unbound forwarding every zone to the CoreDNS service over TCP (node-cache's force_tcp), node-cache's
// 12 iptables rules, kube-proxy-like random DNAT for the service, and a hardened INPUT chain.
// CoreDNS pods (unbound serving local data) run in pod namespaces behind cali* veths. `kubectl` is a tiny stand-in
// that prints the coredns Endpoints object (the only simulated piece).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TestFn } from 'ava';

export type Fault = 'checksum' | 'rules-missing' | 'nodelocaldns-down' | 'coredns-down' | 'endpoint-down' | 'sshd-down' | 'mtu' | 'udp-blocked';
export const FAULTS: Fault[] = ['checksum', 'rules-missing', 'nodelocaldns-down', 'coredns-down', 'endpoint-down', 'sshd-down', 'mtu', 'udp-blocked'];

export interface LabOptions {
  prefix?: string;
  nodes?: number;
  /** node indexes (0-based) that run a CoreDNS pod */
  corednsNodes?: number[];
  bastion?: boolean;
  /** create two non-root users on the host (sshd in the namespaces authenticates against the
   *  host's accounts): one with passwordless sudo, one whose sudo asks for a password */
  users?: boolean;
}

export interface LabNode {
  name: string;
  ns: string;
  address: string;
  podCidr: string;
  controlPlane: boolean;
  index: number;
}

export interface LabEndpoint {
  ip: string;
  node: string;
  pod: string;
  podNs: string;
}

export interface Lab {
  prefix: string;
  index: number;
  dir: string;
  nodes: LabNode[];
  bastion: { name: string; ns: string; address: string; inner: string } | null;
  inventoryDir: string;
  keyFile: string;
  authorizedKeysDir: string;
  serviceCidr: string;
  corednsIp: string;
  clusterDomain: string;
  nodelocaldnsIp: string;
  externalName: string;
  endpoints: LabEndpoint[];
  /** with `users: true`: the sudo users (removed at teardown) */
  users: { nopasswd: string; passwd: string; password: string; stall: string } | null;
  /** give a node a new SSH host key and restart its sshd (a rebuilt node, or an attacker) */
  rotateHostKey(node: string): Promise<void>;
  /** run a shell command inside a node's namespace (as root); returns stdout */
  exec(node: string, cmd: string): Promise<string>;
  fault(name: Fault, opts?: { nodes?: string[] }): Promise<void>;
  /** lift one fault (or all) on the given nodes (or all) */
  clear(name?: Fault, opts?: { nodes?: string[] }): Promise<void>;
  down(): Promise<void>;
}

const STATE_DIR = join(tmpdir(), 'ksv-labs');
const NLD_IP = '169.254.25.10';
const DOMAIN = 'cluster.local';
const EXTERNAL = 'kubernetes.io';

function sh(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`lab: ${`${cmd} ${args.join(' ')}`.slice(0, 160)}: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' | ')}`);
  }
}
const nsx = (ns: string, cmd: string, ...args: string[]) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);
const nsSh = (ns: string, script: string) => sh('ip', ['netns', 'exec', ns, 'sh', '-c', script]);
const quiet = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });

/** Why the lab cannot run here, or null when it can. */
export function labUnavailable(): string | null {
  if (process.platform !== 'linux') return 'the lab needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, veths, VXLAN, sshd): run the tests as root, e.g. sudo bash .ci/run';
  const missing = ['ip', 'iptables-restore', '/usr/sbin/nft', 'ethtool', 'unbound', 'ssh-keygen', 'dig', 'python3'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (!existsSync('/usr/sbin/sshd')) missing.push('sshd');
  if (missing.length) return `the lab needs: ${missing.join(', ')} (apt-get install iproute2 iptables nftables ethtool unbound bind9-dnsutils openssh-server python3 sudo)`;
  return null;
}

function netnsList(): string[] {
  return sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

function mac(k: number, i: number): string {
  const h = (n: number) => n.toString(16).padStart(2, '0');
  return `66:ee:${h(k)}:00:${h(i >> 8)}:${h(i & 255)}`;
}

interface Saved {
  prefix: string;
  index: number;
  dir: string;
  namespaces: string[];
  links: string[];
  users?: string[];
  sudoers?: string;
  desc?: Desc;
}

function savedPath(prefix: string): string {
  return join(STATE_DIR, `${prefix}.json`);
}

/** Tear down whatever a lab (possibly from a crashed run) left: processes, namespaces, links, files. */
export function destroySaved(s: Saved): void {
  for (const ns of s.namespaces) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
    for (const pid of pids) quiet('kill', ['-9', pid]);
  }
  for (const l of s.links) quiet('ip', ['link', 'del', l]);
  for (const ns of s.namespaces) quiet('ip', ['netns', 'del', ns]);
  for (const u of s.users ?? []) quiet('userdel', ['-f', u]);
  if (s.sudoers) rmSync(s.sudoers, { force: true });
  rmSync(s.dir, { recursive: true, force: true });
  rmSync(savedPath(s.prefix), { force: true });
  rmSync(join(STATE_DIR, `slot-${s.index}`), { recursive: true, force: true });
}

export function listSaved(): Saved[] {
  if (!existsSync(STATE_DIR)) return [];
  const out: Saved[] = [];
  for (const f of readdirSync(STATE_DIR)) {
    if (!f.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(STATE_DIR, f), 'utf8')) as Saved);
    } catch {
      /* ignore */
    }
  }
  return out;
}

/** Reserve a lab index atomically (mkdir), so labs started at the same moment by parallel test
 *  files never collide. A slot whose owner process is gone and whose lab is gone is reused. */
function pickIndex(): number {
  const used = new Set(listSaved().map((s) => s.index));
  const present = netnsList();
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (let k = 0; k < 64; k++) {
    const inUse = used.has(k) || present.some((n) => n.startsWith(`ksv${k}-`)) || new RegExp(`: ksv${k}(br|v)`).test(links);
    const slot = join(STATE_DIR, `slot-${k}`);
    if (!inUse && existsSync(slot)) {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(slot, 'pid'), 'utf8'));
      } catch {
        /* being written */
      }
      if (owner && !procAlive(owner)) rmSync(slot, { recursive: true, force: true });
    }
    if (inUse) continue;
    try {
      mkdirSync(slot);
    } catch {
      continue; // taken by someone else just now
    }
    writeFileSync(join(slot, 'pid'), String(process.pid));
    return k;
  }
  throw new Error('lab: 64 labs already exist (npm run lab -- down --all)');
}

function unboundConf(dir: string, name: string, svc: string): string {
  const zones = [DOMAIN, 'in-addr.arpa', 'ip6.arpa', '.'];
  return [
    'server:',
    `  interface: ${NLD_IP}`,
    '  port: 53',
    '  do-ip6: no',
    '  do-daemonize: yes',
    `  pidfile: "${join(dir, `unbound-${name}.pid`)}"`,
    '  chroot: ""',
    '  username: ""',
    `  directory: "${dir}"`,
    '  use-syslog: no',
    '  logfile: ""',
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
    '  tcp-upstream: yes',
    // a fresh upstream connection per query: unbound pipelining queries on a reused connection
    // without TCP_NODELAY stalls one in ~50 for the peer's 40 ms delayed ACK; node-cache (Go, NODELAY
    // on) has no such stall, and the probes' latency should not carry the stand-in's
    '  max-reuse-tcp-queries: 1',
    '  outbound-msg-retry: 1',
    // forget an upstream's failures at once (node-cache's forward plugin health-checks every 0.5 s)
    '  infra-host-ttl: 1',
    '  infra-keep-probing: yes',
    ...zones.filter((z) => z !== '.').map((z) => `  local-zone: "${z}." nodefault`),
    ...zones.filter((z) => z !== '.').map((z) => `  domain-insecure: "${z}"`),
    'remote-control:',
    '  control-enable: no',
    ...zones.flatMap((z) => ['forward-zone:', `  name: "${z}"`, `  forward-addr: ${svc}@53`, '  forward-tcp-upstream: yes', '  forward-first: no']),
    '',
  ].join('\n');
}

function nodeCacheRules(): { raw: string[]; filter: string[] } {
  const c = (t: string) => `-m comment --comment "NodeLocal DNS Cache: ${t}"`;
  const raw: string[] = [];
  const filter: string[] = [];
  for (const p of ['tcp', 'udp']) raw.push(`-A PREROUTING -d ${NLD_IP}/32 -p ${p} -m ${p} --dport 53 ${c('skip conntrack')} -j NOTRACK`);
  for (const p of ['tcp', 'udp']) filter.push(`-A INPUT -d ${NLD_IP}/32 -p ${p} -m ${p} --dport 53 ${c('allow DNS traffic')} -j ACCEPT`);
  for (const p of ['tcp', 'udp']) raw.push(`-A OUTPUT -s ${NLD_IP}/32 -p ${p} -m ${p} --sport 53 ${c('skip conntrack')} -j NOTRACK`);
  for (const p of ['tcp', 'udp']) filter.push(`-A OUTPUT -s ${NLD_IP}/32 -p ${p} -m ${p} --sport 53 ${c('allow DNS traffic')} -j ACCEPT`);
  for (const p of ['tcp', 'udp']) raw.push(`-A OUTPUT -d ${NLD_IP}/32 -p ${p} -m ${p} --dport 53 ${c('skip conntrack')} -j NOTRACK`);
  raw.push(`-A OUTPUT -d ${NLD_IP}/32 -p tcp -m tcp --dport 8080 ${c('skip conntrack')} -j NOTRACK`);
  raw.push(`-A OUTPUT -s ${NLD_IP}/32 -p tcp -m tcp --sport 8080 ${c('skip conntrack')} -j NOTRACK`);
  return { raw, filter };
}

function iptablesRestore(svc: string, pods: string[], withNodeCache: boolean): string {
  const nc = nodeCacheRules();
  const dnat: string[] = [];
  for (const p of ['udp', 'tcp']) {
    pods.forEach((pod, j) => {
      const left = pods.length - j;
      const stat = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(11)} ` : '';
      dnat.push(`-A KUBE-SVC-DNS -p ${p} -m ${p} --dport 53 ${stat}-j DNAT --to-destination ${pod}:53`);
    });
  }
  return [
    '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...(withNodeCache ? nc.raw : []), 'COMMIT',
    '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':KUBE-SVC-DNS - [0:0]',
    `-A PREROUTING -d ${svc}/32 -j KUBE-SVC-DNS`, `-A OUTPUT -d ${svc}/32 -j KUBE-SVC-DNS`, ...dnat, 'COMMIT',
    '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
    ...(withNodeCache ? nc.filter.filter((l) => l.startsWith('-A INPUT')) : []),
    '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    // replies node-cache marked NOTRACK (its rules 5-10) come back untracked
    '-A INPUT -m conntrack --ctstate UNTRACKED -j ACCEPT',
    '-A INPUT -i lo -s 127.0.0.0/8 -j ACCEPT',
    '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT',
    '-A INPUT -p udp -m udp --dport 4789 -j ACCEPT',
    '-A INPUT -p icmp -j ACCEPT',
    '-A INPUT -j REJECT --reject-with icmp-port-unreachable',
    ...(withNodeCache ? nc.filter.filter((l) => l.startsWith('-A OUTPUT')) : []),
    'COMMIT', '',
  ].join('\n');
}

/** Build a lab. Throws (after tearing down what it built) when something fails. */
export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const why = labUnavailable();
  if (why) throw new Error(why);
  const n = opts.nodes ?? 3;
  if (n < 1 || n > 200) throw new Error('lab: 1..200 nodes');
  const prefix = opts.prefix ?? `ksv${process.pid}`;
  if (!/^[a-z0-9-]{1,24}$/.test(prefix)) throw new Error('lab: prefix must be [a-z0-9-]{1,24}');
  mkdirSync(STATE_DIR, { recursive: true });
  for (const s of listSaved()) if (s.prefix === prefix) destroySaved(s);
  const k = pickIndex();
  const dir = mkdtempSync(join(tmpdir(), `ksv-lab-${prefix}-`));
  const saved: Saved = { prefix, index: k, dir, namespaces: [], links: [] };
  const save = () => writeFileSync(savedPath(prefix), JSON.stringify(saved));
  save();
  const exitHook = () => destroySaved(saved);
  process.once('exit', exitHook);
  try {
    const lab = build(opts, n, prefix, k, dir, saved, save, () => process.removeListener('exit', exitHook));
    await waitReady(lab);
    return lab;
  } catch (err) {
    destroySaved(saved);
    process.removeListener('exit', exitHook);
    throw err;
  }
}

function build(opts: LabOptions, n: number, prefix: string, k: number, dir: string, saved: Saved, save: () => void, unhook: () => void): Lab {
  const tag = `ksv${k}`;
  const bridge = `${tag}br`;
  const svcBase = `198.18.${128 + k}`;
  const serviceCidr = `${svcBase}.0/24`;
  const corednsIp = `${svcBase}.3`;
  const apiIp = `${svcBase}.1`;
  const corednsNodes = (opts.corednsNodes ?? [0, 1]).filter((i) => i < n);
  if (!corednsNodes.length) corednsNodes.push(0);

  // keys and files
  const keyFile = join(dir, 'id_ed25519');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `ksv-lab-${prefix}`, '-f', keyFile]);
  const authorizedKeysDir = join(dir, 'authorized_keys');
  mkdirSync(authorizedKeysDir, { recursive: true });
  writeFileSync(join(authorizedKeysDir, 'root'), readFileSync(`${keyFile}.pub`));
  mkdirSync('/run/sshd', { recursive: true });
  let users: Lab['users'] = null;
  if (opts.users) {
    // sshd reads authorized_keys as the user: the lab directory must be traversable
    chmodSync(dir, 0o755);
    chmodSync(authorizedKeysDir, 0o755);
    const nopasswd = `ksv${k}np`;
    const passwd = `ksv${k}pw`;
    const password = `Lab-${randomBytes(9).toString('base64url')}`;
    for (const u of [nopasswd, passwd]) {
      quiet('userdel', ['-f', u]);
      sh('useradd', ['-M', '-d', dir, '-s', '/bin/sh', u]);
      saved.users = [...(saved.users ?? []), u];
      save();
      writeFileSync(join(authorizedKeysDir, u), readFileSync(`${keyFile}.pub`));
    }
    sh('usermod', ['-p', '*', nopasswd]); // no password, not locked (sshd refuses locked accounts)
    sh('chpasswd', [], `${passwd}:${password}\n`);
    const sudoers = `/etc/sudoers.d/ksv-lab-${k}`;
    writeFileSync(sudoers, `${nopasswd} ALL=(ALL) NOPASSWD: ALL\n${passwd} ALL=(ALL) ALL\nDefaults:${passwd} !lecture, timestamp_timeout=0\n`, { mode: 0o440 });
    saved.sudoers = sudoers;
    save();
    // a third user whose every SSH command hangs (sshd ForceCommand): a node that stalls mid-command
    const stall = `ksv${k}st`;
    quiet('userdel', ['-f', stall]);
    sh('useradd', ['-M', '-d', dir, '-s', '/bin/sh', stall]);
    saved.users = [...(saved.users ?? []), stall];
    save();
    sh('usermod', ['-p', '*', stall]);
    writeFileSync(join(authorizedKeysDir, stall), readFileSync(`${keyFile}.pub`));
    users = { nopasswd, passwd, password, stall };
  }
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });

  sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
  saved.links.push(bridge);
  save();
  sh('ip', ['link', 'set', bridge, 'up']);
  if (!opts.bastion) sh('ip', ['addr', 'add', `198.18.${k}.1/24`, 'dev', bridge]);

  const nodes: LabNode[] = Array.from({ length: n }, (_, i) => ({
    name: `node${i + 1}`,
    ns: `${tag}-n${i + 1}`,
    address: `198.18.${k}.${10 + i}`,
    podCidr: `198.19.${k}.${4 * i}/30`,
    controlPlane: i === 0 || (n >= 3 && i < 1),
    index: i,
  }));
  const endpoints: LabEndpoint[] = corednsNodes.map((i) => ({ ip: `198.19.${k}.${4 * i + 1}`, node: nodes[i]!.name, pod: `coredns-lab-${i + 1}`, podNs: `${tag}-p${i + 1}` }));

  const sshdConf = (ns: string, address: string) => {
    const hostKey = join(dir, `ssh_host_ed25519_${ns}`);
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    const conf = join(dir, `sshd_${ns}.conf`);
    writeFileSync(conf, [
      `ListenAddress ${address}`, 'Port 22', `HostKey ${hostKey}`, `PidFile ${join(dir, `sshd_${ns}.pid`)}`,
      `AuthorizedKeysFile ${authorizedKeysDir}/%u`, 'StrictModes no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
      'UsePAM no', 'PermitRootLogin prohibit-password', 'AllowTcpForwarding yes', 'LogLevel ERROR', 'MaxStartups 200:30:400', 'MaxSessions 50',
      ...(users ? [`Match User ${users.passwd}`, '  PasswordAuthentication yes', `Match User ${users.stall}`, '  ForceCommand sleep 3600'] : []), '',
    ].join('\n'));
    return conf;
  };

  for (const node of nodes) {
    const { ns, address } = node;
    const i = node.index;
    sh('ip', ['netns', 'add', ns]);
    saved.namespaces.push(ns);
    save();
    const host = `${tag}v${i + 1}`;
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    saved.links.push(host);
    save();
    sh('ip', ['link', 'set', host, 'master', bridge, 'up']);
    sh('ethtool', ['-K', host, 'tx', 'off', 'rx', 'off']);
    nsSh(ns, [
      'sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0',
      'ip link set lo up',
      `ip addr add ${address}/24 dev eth0`,
      'ip link set eth0 up',
      'ethtool -K eth0 tx off rx off',
      'sysctl -qw net.ipv4.conf.eth0.rp_filter=0',
      `ip route add ${serviceCidr} dev eth0 scope link`,
      `ip link add vxlan.calico address ${mac(k, i)} type vxlan id 4096 dstport 4789 dev eth0 local ${address} nolearning`,
      'ip link set vxlan.calico mtu 1450 up',
      'echo 0 > /proc/sys/net/ipv4/conf/vxlan.calico/rp_filter',
      `ip addr add 198.19.${k}.${4 * i + 2}/32 dev vxlan.calico`,
      'ip link add nodelocaldns type bridge',
      `ip addr add ${NLD_IP}/32 dev nodelocaldns`,
      'ip link set nodelocaldns up',
    ].join(' && '));
    // Calico's VXLAN routing: per remote node a permanent neighbour for its VTEP, an fdb entry to
    // its underlay address and an onlink route for its block.
    const ipBatch: string[] = [];
    const fdbBatch: string[] = [];
    for (const other of nodes) {
      if (other === node) continue;
      const j = other.index;
      ipBatch.push(`neigh add 198.19.${k}.${4 * j + 2} lladdr ${mac(k, j)} dev vxlan.calico nud permanent`);
      ipBatch.push(`route add 198.19.${k}.${4 * j}/30 via 198.19.${k}.${4 * j + 2} dev vxlan.calico onlink`);
      fdbBatch.push(`fdb add ${mac(k, j)} dev vxlan.calico dst ${other.address}`);
    }
    if (ipBatch.length) sh('ip', ['-n', ns, '-batch', '-'], ipBatch.join('\n') + '\n');
    if (fdbBatch.length) sh('ip', ['netns', 'exec', ns, 'bridge', '-batch', '-'], fdbBatch.join('\n') + '\n');
  }

  // CoreDNS pods
  for (const [j, ep] of endpoints.entries()) {
    const node = nodes.find((x) => x.name === ep.node)!;
    const i = node.index;
    sh('ip', ['netns', 'add', ep.podNs]);
    saved.namespaces.push(ep.podNs);
    save();
    const cali = `cali${k}x${i + 1}`;
    sh('ip', ['-n', node.ns, 'link', 'add', cali, 'address', 'ee:ee:ee:ee:ee:ee', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ep.podNs]);
    nsSh(node.ns, [
      `ip link set ${cali} up`, `ethtool -K ${cali} tx off rx off`, `sysctl -qw net.ipv4.conf.${cali}.proxy_arp=1 net.ipv4.conf.${cali}.rp_filter=0`,
      `ip route add ${ep.ip}/32 dev ${cali} scope link`,
    ].join(' && '));
    nsSh(ep.podNs, [
      'ip link set lo up', `ip addr add ${ep.ip}/32 dev eth0`, 'ip link set eth0 up', 'ethtool -K eth0 tx off rx off',
      'ip route add 169.254.1.1 dev eth0 scope link', 'ip route add default via 169.254.1.1 dev eth0', 'ip neigh replace 169.254.1.1 lladdr ee:ee:ee:ee:ee:ee dev eth0 nud permanent',
    ].join(' && '));
    startCoredns(ep, dir, apiIp, corednsIp, svcBase);
    void j;
  }

  // NodeLocalDNS, iptables, sshd
  for (const node of nodes) {
    sh('ip', ['netns', 'exec', node.ns, 'iptables-restore', '-w'], iptablesRestore(corednsIp, endpoints.map((e) => e.ip), true));
    const conf = join(dir, `unbound-${node.name}.conf`);
    writeFileSync(conf, unboundConf(dir, node.name, corednsIp));
    nsx(node.ns, 'unbound', '-c', conf);
    sshdConf(node.ns, node.address);
    startSshd(dir, node.ns);
  }

  let bastion: Lab['bastion'] = null;
  if (opts.bastion) {
    const ns = `${tag}-b`;
    sh('ip', ['netns', 'add', ns]);
    saved.namespaces.push(ns);
    save();
    const host = `${tag}vb`;
    const hostUp = `${tag}vbu`;
    sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    saved.links.push(host);
    sh('ip', ['link', 'set', host, 'master', bridge, 'up']);
    sh('ip', ['link', 'add', hostUp, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', ns]);
    saved.links.push(hostUp);
    save();
    sh('ip', ['addr', 'add', `198.18.${64 + k}.1/30`, 'dev', hostUp]);
    sh('ip', ['link', 'set', hostUp, 'up']);
    nsSh(ns, ['ip link set lo up', `ip addr add 198.18.${k}.5/24 dev eth0`, 'ip link set eth0 up', `ip addr add 198.18.${64 + k}.2/30 dev eth1`, 'ip link set eth1 up', 'sysctl -qw net.ipv4.ip_forward=0'].join(' && '));
    sshdConf(ns, `198.18.${64 + k}.2`);
    startSshd(dir, ns);
    bastion = { name: 'bastion', ns, address: `198.18.${64 + k}.2`, inner: `198.18.${k}.5` };
  }

  // kubectl stand-in: answers `get endpoints coredns -o json` exactly as kubectl would print it
  const epJson = join(dir, 'coredns-endpoints.json');
  writeFileSync(epJson, JSON.stringify({
    apiVersion: 'v1', kind: 'Endpoints',
    metadata: { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'coredns' } },
    subsets: [{
      addresses: endpoints.map((e) => ({ ip: e.ip, nodeName: e.node, targetRef: { kind: 'Pod', name: e.pod, namespace: 'kube-system' } })),
      ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }, { name: 'metrics', port: 9153, protocol: 'TCP' }],
    }],
  }, null, 4) + '\n');
  writeFileSync(join(binDir, 'kubectl'), [
    '#!/bin/sh',
    '# lab stand-in for kubectl: only `-n kube-system get endpoints coredns -o json`',
    // a test can make it fail on one node: touch <dir>/kubectl-fail-<node address>
    `me=$(ip -o -4 addr show dev eth0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)`,
    `if [ -n "$me" ] && [ -e '${dir}/kubectl-fail-'"$me" ]; then echo "error: the server could not find the requested resource" >&2; exit 1; fi`,
    'case " $* " in',
    `  *" get endpoints coredns "*) cat '${epJson}' ;;`,
    '  *) echo "error: the lab kubectl only answers: get endpoints coredns -o json" >&2; exit 1 ;;',
    'esac',
    '',
  ].join('\n'));
  chmodSync(join(binDir, 'kubectl'), 0o755);

  const inventoryDir = writeInventory(dir, nodes, bastion, { keyFile, binDir, serviceCidr, podCidr: `198.19.${k}.0/24` });

  const byName = (name: string) => {
    const node = nodes.find((x) => x.name === name);
    if (!node) throw new Error(`lab: no node ${name}`);
    return node;
  };
  const pick = (o?: { nodes?: string[] }) => (o?.nodes ? o.nodes.map(byName) : nodes);
  const active = new Map<string, Set<Fault>>();
  const desc: Desc = { k, dir, nodes, endpoints, apiIp, corednsIp, svcBase };
  saved.desc = desc;
  save();
  const { apply, lift } = faultOps(desc);
  const clusterWide: Fault[] = ['coredns-down', 'endpoint-down'];

  let isDown = false;
  const lab: Lab = {
    prefix, index: k, dir, nodes, bastion, inventoryDir, keyFile, authorizedKeysDir, serviceCidr, corednsIp,
    clusterDomain: DOMAIN, nodelocaldnsIp: NLD_IP, externalName: EXTERNAL, endpoints, users,
    async rotateHostKey(name) {
      const node = byName(name);
      killPidFile(join(dir, `sshd_${node.ns}.pid`));
      const hostKey = join(dir, `ssh_host_ed25519_${node.ns}`);
      rmSync(hostKey, { force: true });
      rmSync(`${hostKey}.pub`, { force: true });
      sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
      startSshd(dir, node.ns);
    },
    async exec(name, cmd) {
      return nsSh(byName(name).ns, cmd);
    },
    async fault(f, o) {
      const targets = clusterWide.includes(f) ? [nodes[0]!] : pick(o);
      for (const node of targets) {
        const set = active.get(node.name) ?? new Set<Fault>();
        if (set.has(f)) continue;
        apply(f, node);
        set.add(f);
        active.set(node.name, set);
      }
      // wait until the fault's symptom holds (processes gone, rules in place)
      await new Promise((r) => setTimeout(r, 150));
    },
    async clear(f, o) {
      for (const node of o?.nodes ? pick(o) : nodes) {
        const set = active.get(node.name);
        if (!set) continue;
        for (const x of [...set]) {
          if (f && x !== f) continue;
          lift(x, node);
          set.delete(x);
        }
      }
      // the fix under test may have turned offload off: every clear restores the lab's defaults
      if (!f) for (const node of o?.nodes ? pick(o) : nodes) quiet('ip', ['netns', 'exec', node.ns, 'ethtool', '-K', 'vxlan.calico', 'tx', 'on', 'rx', 'on']);
      await waitReady(lab);
    },
    async down() {
      if (isDown) return;
      isDown = true;
      destroySaved(saved);
      unhook();
    },
  };
  return lab;
}

/** Kill every process in a namespace (a pod's DNS server and anything it forked). */
function killNs(ns: string): void {
  for (let i = 0; i < 50; i++) {
    const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean);
    if (!pids.length) return;
    for (const pid of pids) quiet('kill', ['-9', pid]);
    spawnSync('sleep', ['0.02']);
  }
}

/** What fault operations need to know about a lab; saved so `npm run lab -- fault` can attach. */
export interface Desc {
  k: number;
  dir: string;
  nodes: LabNode[];
  endpoints: LabEndpoint[];
  apiIp: string;
  corednsIp: string;
  svcBase: string;
}

/** sshd in the node's namespace. `ip netns exec` gives it a private mount namespace, where the
 *  controller's own ~/.bashrc is masked: the nodes share this machine's /root, and a dev box's
 *  bashrc (here `pyenv init`, ~80 ms per SSH command) would make every lab node slower than a
 *  stock node. Affects the validator and Ansible (bench) alike. */
const startSshd = (dir: string, ns: string) => {
  if (pidAlive(join(dir, `sshd_${ns}.pid`))) return;
  nsSh(ns, `for f in /root/.bashrc /root/.bash_profile /root/.profile; do [ -f "$f" ] && mount --bind /dev/null "$f"; done; exec /usr/sbin/sshd -f '${join(dir, `sshd_${ns}.conf`)}'`);
};

function pidAlive(file: string): boolean {
  try {
    return procAlive(Number(readFileSync(file, 'utf8').trim()));
  } catch {
    return false;
  }
}

function procAlive(pid: number): boolean {
  try {
    if (!(pid > 1)) return false;
    // a killed daemon may linger as a zombie when nothing reaps orphans (PID 1 in containers)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** Apply and lift each fault on one node. Lifts are idempotent (the CLI lifts blindly). */
export function faultOps(d: Desc): { apply: (f: Fault, node: LabNode) => void; lift: (f: Fault, node: LabNode) => void } {
  const { dir, endpoints, apiIp, corednsIp, svcBase } = d;
  // node-cache's forward plugin health-checks its upstream every 0.5 s and uses it again at once;
  // the unbound stand-in backs off a failed upstream for far longer (SERVFAIL for 10+ s after CoreDNS
  // is back), so lifting a fault that broke its upstream restarts it (CoreDNS faults: on every node)
  const startNodeCache = (n: LabNode) => nsx(n.ns, 'unbound', '-c', join(dir, `unbound-${n.name}.conf`));
  const restartNodeCache = (n: LabNode) => {
    const pid = join(dir, `unbound-${n.name}.pid`);
    if (!pidAlive(pid)) return; // down on purpose (nodelocaldns-down): leave it so
    killPidFile(pid);
    startNodeCache(n);
  };
  const restartNodeCaches = () => d.nodes.forEach(restartNodeCache);
  const apply = (f: Fault, node: LabNode) => {
    const { ns } = node;
    switch (f) {
      case 'checksum': {
        // Corrupt every TCP segment leaving vxlan.calico while tx checksum offload is on (as the
        // broken offload does); a watcher lifts it the moment offload is turned off.
        nsSh(ns, '/usr/sbin/nft add table inet ksvlab && /usr/sbin/nft add chain inet ksvlab post "{ type filter hook postrouting priority 0; }" && /usr/sbin/nft add rule inet ksvlab post oifname "vxlan.calico" meta l4proto tcp tcp checksum set 0xdead');
        nsSh(ns, 'ethtool -K vxlan.calico tx on rx on');
        // Once lifted, the lab's unbound (standing in for node-cache, whose forward plugin health-checks
        // its upstream every 0.5 s) is restarted so it does not hold on to its backoff for minutes.
        const pid = join(dir, `unbound-${node.name}.pid`);
        const conf = join(dir, `unbound-${node.name}.conf`);
        const script = `while ethtool -k vxlan.calico | grep -q "^tx-checksumming: on"; do sleep 0.2; done; /usr/sbin/nft delete table inet ksvlab; kill -9 $(cat '${pid}') 2>/dev/null; sleep 0.1; unbound -c '${conf}'`;
        const w = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', script], { detached: true, stdio: 'ignore' });
        if (w.pid) writeFileSync(join(dir, `watch-${ns}.pid`), String(w.pid));
        w.unref();
        break;
      }
      case 'rules-missing':
        for (const t of ['raw', 'filter']) {
          const rules = nsx(ns, 'iptables-save', '-t', t).split('\n').filter((l) => l.includes('NodeLocal DNS Cache'));
          for (const r of rules) nsSh(ns, `iptables -w -t ${t} -D ${r.slice(3)}`);
        }
        break;
      case 'nodelocaldns-down':
        killPidFile(join(dir, `unbound-${node.name}.pid`));
        break;
      case 'coredns-down':
        for (const ep of endpoints) killNs(ep.podNs);
        break;
      case 'endpoint-down':
        killNs(endpoints[0]!.podNs);
        break;
      case 'sshd-down':
        killPidFile(join(dir, `sshd_${ns}.pid`));
        break;
      case 'mtu':
        // overlay MTU = parent MTU (a vxlan cannot exceed its lower device's MTU - 50, so lower the parent)
        nsSh(ns, 'ip link set eth0 mtu 1450');
        break;
      case 'udp-blocked':
        nsSh(ns, 'iptables -w -I OUTPUT -p udp -m udp --dport 53 -j DROP');
        break;
    }
  };
  const lift = (f: Fault, node: LabNode) => {
    const { ns } = node;
    switch (f) {
      case 'checksum':
        killPidFile(join(dir, `watch-${ns}.pid`));
        quiet('ip', ['netns', 'exec', ns, '/usr/sbin/nft', 'delete', 'table', 'inet', 'ksvlab']);
        nsSh(ns, 'ethtool -K vxlan.calico tx on rx on');
        restartNodeCache(node);
        break;
      case 'rules-missing': {
        // idempotent: drop whatever node-cache rules are there, then put all 12 back on top
        for (const t of ['raw', 'filter']) {
          const rules = nsx(ns, 'iptables-save', '-t', t).split('\n').filter((l) => l.includes('NodeLocal DNS Cache'));
          for (const r of rules) nsSh(ns, `iptables -w -t ${t} -D ${r.slice(3)}`);
        }
        const nc = nodeCacheRules();
        const restore = ['*raw', ...nc.raw, 'COMMIT', '*filter', ...nc.filter, 'COMMIT', ''].join('\n').replace(/^-A /gm, '-I ');
        sh('ip', ['netns', 'exec', ns, 'iptables-restore', '-w', '--noflush'], restore);
        break;
      }
      case 'nodelocaldns-down':
        if (!pidAlive(join(dir, `unbound-${node.name}.pid`))) startNodeCache(node);
        break;
      case 'coredns-down':
        for (const ep of endpoints) if (!pidAlive(join(dir, `coredns-${ep.podNs}.pid`))) startCoredns(ep, dir, apiIp, corednsIp, svcBase);
        restartNodeCaches();
        break;
      case 'endpoint-down':
        if (!pidAlive(join(dir, `coredns-${endpoints[0]!.podNs}.pid`))) startCoredns(endpoints[0]!, dir, apiIp, corednsIp, svcBase);
        restartNodeCaches();
        break;
      case 'sshd-down':
        startSshd(dir, ns);
        break;
      case 'mtu':
        nsSh(ns, 'ip link set eth0 mtu 1500');
        break;
      case 'udp-blocked':
        for (let i = 0; i < 10; i++) if (quiet('ip', ['netns', 'exec', ns, 'iptables', '-w', '-D', 'OUTPUT', '-p', 'udp', '-m', 'udp', '--dport', '53', '-j', 'DROP']).status !== 0) break;
        break;
    }
  };
  return { apply, lift };
}

function killPidFile(file: string): void {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (pid > 1) {
      process.kill(pid, 'SIGKILL');
      const until = Date.now() + 3000;
      while (Date.now() < until && procAlive(pid)) spawnSync('sleep', ['0.02']);
    }
  } catch {
    /* not running */
  }
  rmSync(file, { force: true });
}

/** A CoreDNS pod: unbound serving the cluster's records from local data, UDP and TCP, many
 *  concurrent TCP clients (dnsmasq allows only 20 TCP children: 20 nodes probing at once overran
 *  it). `local-zone: "." static` means it never asks anyone else: nothing leaves the lab. */
function startCoredns(ep: LabEndpoint, dir: string, apiIp: string, corednsIp: string, svcBase: string): void {
  const conf = join(dir, `coredns-${ep.podNs}.conf`);
  const big = Array.from({ length: 8 }, () => `"${'x'.repeat(200)}"`).join(' ');
  writeFileSync(conf, [
    'server:',
    `  interface: ${ep.ip}`, '  port: 53', '  do-ip6: no', '  do-daemonize: yes',
    `  pidfile: "${join(dir, `coredns-${ep.podNs}.pid`)}"`, '  chroot: ""', '  username: ""', `  directory: "${dir}"`,
    '  use-syslog: no', '  logfile: ""', '  verbosity: 0', '  num-threads: 1', '  so-reuseport: no',
    '  incoming-num-tcp: 1000', '  tcp-idle-timeout: 10000', '  access-control: 0.0.0.0/0 allow', '  module-config: "iterator"',
    '  local-zone: "." static',
    `  local-zone: "${DOMAIN}." static`,
    `  local-data: "kubernetes.default.svc.${DOMAIN}. 0 IN A ${apiIp}"`,
    `  local-data: "kube-dns.kube-system.svc.${DOMAIN}. 0 IN A ${corednsIp}"`,
    `  local-data: "${ep.pod}.kube-system.pod.${DOMAIN}. 0 IN A ${ep.ip}"`,
    `  local-data-ptr: "${apiIp} 0 kubernetes.default.svc.${DOMAIN}."`,
    `  local-data-ptr: "${corednsIp} 0 kube-dns.kube-system.svc.${DOMAIN}."`,
    `  local-data: 'big.${DOMAIN}. 0 IN TXT ${big}'`,
    `  local-zone: "${EXTERNAL}." static`,
    `  local-data: "${EXTERNAL}. 0 IN A ${svcBase}.250"`,
    'remote-control:', '  control-enable: no', '',
  ].join('\n'));
  sh('ip', ['netns', 'exec', ep.podNs, 'unbound', '-c', conf]);
}

/** Wait until every node's sshd accepts and NodeLocalDNS answers (after start or clear). */
async function waitReady(lab: Lab): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (const node of lab.nodes) {
    for (;;) {
      const r = spawnSync('ip', ['netns', 'exec', node.ns, 'dig', `@${NLD_IP}`, '+tries=1', '+time=1', '+short', `kubernetes.default.svc.${DOMAIN}`], { encoding: 'utf8', timeout: 5000 });
      if (r.status === 0 && r.stdout.trim()) break;
      if (Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
}

function writeInventory(dir: string, nodes: LabNode[], bastion: Lab['bastion'], v: { keyFile: string; binDir: string; serviceCidr: string; podCidr: string }): string {
  const inv = join(dir, 'inventory');
  mkdirSync(join(inv, 'group_vars', 'all'), { recursive: true });
  mkdirSync(join(inv, 'group_vars', 'k8s_cluster'), { recursive: true });
  const cp = nodes.slice(0, 1);
  const lines = ['all:', '  hosts:'];
  for (const n of nodes) lines.push(`    ${n.name}:`, `      ansible_host: ${n.address}`, `      ip: ${n.address}`, `      access_ip: ${n.address}`);
  if (bastion) lines.push('    bastion:', `      ansible_host: ${bastion.address}`);
  lines.push('  children:');
  lines.push('    kube_control_plane:', '      hosts:', ...cp.map((n) => `        ${n.name}:`));
  lines.push('    etcd:', '      hosts:', ...cp.map((n) => `        ${n.name}:`));
  lines.push('    kube_node:', '      hosts:', ...nodes.map((n) => `        ${n.name}:`));
  lines.push('    k8s_cluster:', '      children:', '        kube_control_plane:', '        kube_node:');
  lines.push('    calico_rr:', '      hosts: {}');
  if (bastion) lines.push('    bastion:', '      hosts:', '        bastion:');
  writeFileSync(join(inv, 'hosts.yaml'), lines.join('\n') + '\n');
  writeFileSync(join(inv, 'group_vars', 'all', 'all.yml'), [
    '# written by the kubespray-validate lab',
    'ansible_user: root',
    `ansible_ssh_private_key_file: ${v.keyFile}`,
    'ansible_python_interpreter: /usr/bin/python3',
    `bin_dir: ${v.binDir}`,
    '',
  ].join('\n'));
  writeFileSync(join(inv, 'group_vars', 'k8s_cluster', 'k8s-cluster.yml'), [
    'kube_network_plugin: calico',
    `kube_service_addresses: ${v.serviceCidr}`,
    `kube_pods_subnet: ${v.podCidr}`,
    `cluster_name: ${DOMAIN}`,
    'kube_proxy_mode: iptables',
    'enable_nodelocaldns: true',
    `nodelocaldns_ip: ${NLD_IP}`,
    '',
  ].join('\n'));
  writeFileSync(join(inv, 'group_vars', 'k8s_cluster', 'k8s-net-calico.yml'), ['calico_network_backend: vxlan', 'calico_vxlan_mode: Always', 'calico_ipip_mode: Never', ''].join('\n'));
  return inv;
}

/** ava: one lab per test file, always torn down. Without root the tests fail under CI=true and
 *  are skipped with the reason otherwise. */
export function useLab(test: TestFn, opts: LabOptions = {}): () => Lab {
  let lab: Lab | null = null;
  const why = labUnavailable();
  test.before(async (t) => {
    if (why) {
      if (process.env.CI) throw new Error(`lab tests cannot run: ${why}`);
      t.log(`lab tests skipped: ${why}`);
      return;
    }
    lab = await startLab(opts);
  });
  test.after.always(async () => {
    await lab?.down();
  });
  test.beforeEach((t) => {
    if (!lab && why) t.log(`skipped: ${why}`);
  });
  return () => {
    if (!lab) throw new Error(why ? `lab unavailable: ${why}` : 'lab not started');
    return lab;
  };
}
