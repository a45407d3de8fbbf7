// The lab's faults, one record each: its scope (a node, or the cluster: applied once, through the
// first node), how it is applied and lifted, how to read back that it holds, and what the validator
// must report while it does (test/e2e/faults.test.ts runs every record). Adding a fault is adding a
// record here; the lab, its CLI, the README's list and the fault test all follow this table.
//
// Every fault is the real kernel mechanism (a rule, a sysctl, a dead process, a device setting),
// never a scripted answer; the only simulated piece it may touch is the kubectl stand-in.
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { killNs, killPidFile, nsOk, nsPids, nsRead, nsSh, pidAlive, quiet, sh, until, waitPidFile } from './sys.js';
import {
  corednsPid,
  deleteNodeCacheRules,
  endpointsGoneMarker,
  nodeCacheUp,
  restartNodeCache,
  restartNodeCacheScript,
  restoreNodeCacheRules,
  sshdPid,
  startCoredns,
  startNodeCache,
  startSshd,
  stopNodeCache,
  EXTERNAL,
} from './services.js';
import { NLD_IP, overlayOf, type Desc, type LabEndpoint, type LabNode } from './topology.js';
import { RESOLV, STUB, fileSays, restartChecked, restore } from './resolver-faults.js';
import {
  readNodeCachePod,
  resolvConf,
  startUpstream,
  stopUpstream,
  upstreamUp,
  upstreamWildcard,
  writeNodeFile,
} from './resolver.js';
import { firewalldUp, startFirewalld, stopFirewalld } from './firewalld.js';

export interface FaultDef {
  scope: 'node' | 'cluster';
  /** what it reproduces, one line (the CLI's usage prints it) */
  about: string;
  apply(d: Desc, node: LabNode): void;
  /** idempotent, and harmless where the fault is not applied (`npm run lab -- clear` lifts blindly) */
  lift(d: Desc, node: LabNode): void;
  /** true once the fault holds on the node: its mechanism read back from the kernel, not a DNS answer */
  ready(d: Desc, node: LabNode): boolean;
  /** what the validator must make of it */
  expect: FaultExpectation;
}

/** What a validator run on the lab must report while the fault holds. Hosts are said relative to the
 *  nodes the fault is applied to ("applied"); `{node}`, `{device}`, `{port}` and `{podInputIf}` in a
 *  pattern stand for an applied node and the overlay's device, VXLAN port and pod interfaces. */
export interface FaultExpectation {
  /** how the table test applies it: each entry is one run, on these nodes (none given: on every node,
   *  or once for a cluster fault); `fix`: then validate again with --fix, which must pass */
  runs: { on?: string[]; fix?: boolean; tolerated?: string[] }[];
  /** the failing diagnoses, exactly (an empty list: the run passes) */
  diagnoses: string[];
  /** failing diagnoses that may also appear (in every run, or in one run: `runs[].tolerated`) */
  tolerated?: string[];
  /** the nodes the first diagnosis names, for a run on chosen nodes: exactly the applied ones;
   *  null: a cluster-wide diagnosis (or none) */
  hosts: 'applied' | null;
  exit: 0 | 1 | 3;
  /** look-alike diagnoses that must not appear at all, at any severity */
  absent: string[];
  /** for a run on chosen nodes: the checks that fail (fail or error), exactly, and only on those nodes */
  flips?: string[];
  /** patterns (regular expressions) each matching a line of the first diagnosis's evidence */
  evidence?: string[];
  /** a pattern its summary matches */
  summary?: string;
  /** a command its remediation lists */
  fix?: string;
  /** check results on the applied nodes (every node for a cluster fault), on the others, or the one result
   *  of a check made once for the cluster: their status, and evidence fields (a text the field's JSON
   *  holds, or the length of a list) */
  results?: {
    check: string;
    on: 'applied' | 'others' | 'cluster';
    status: string;
    evidence?: { field: string; holds?: string; length?: number }[];
  }[];
}

/** The diagnoses a DNS fault on a node or in the cluster is mistaken for. */
export const DNS_LOOKALIKES = [
  'checksum-offload',
  'coredns-endpoint-down',
  'coredns-unreachable',
  'nodelocaldns-down',
  'udp-blocked',
  'tcp-blocked',
  'dns-unexplained',
];
/** ... and the checksum offload bug's own: every other way DNS across the overlay can fail. */
export const OFFLOAD_LOOKALIKES = [
  'udp-blocked',
  'tcp-blocked',
  'dns-unexplained',
  'coredns-endpoint-down',
  'coredns-unreachable',
  'nodelocaldns-down',
  'overlay-blocked',
  'conntrack-drops',
];

/** firewall.host with firewalld on the applied node: its status there, nothing to see on the others. */
const firewallHost = (status: 'warn' | 'pass'): NonNullable<FaultExpectation['results']> => [
  { check: 'firewall.host', on: 'applied', status, evidence: [{ field: 'firewalls', holds: 'inet firewalld' }] },
  { check: 'firewall.host', on: 'others', status: 'skip' },
];

const ipt = (ns: string, ...args: string[]) => nsOk(ns, 'iptables', '-w', ...args);
/** delete a rule until no copy is left */
const iptDeleteAll = (ns: string, bin: string, table: string, rule: string[]) => {
  for (let i = 0; i < 20 && nsOk(ns, bin, '-w', '-t', table, '-D', ...rule); i++);
};
const ethtoolK = (ns: string, dev: string) => nsRead(ns, 'ethtool', '-k', dev);
const txOn = (ns: string, dev: string) => /^tx-checksumming: on/m.test(ethtoolK(ns, dev));
/** the lab's default: checksum offload on, as a VXLAN device comes up (a fix under test may have
 *  turned it off) */
export const offloadDefault = (d: Desc, n: LabNode) =>
  quiet('ip', ['netns', 'exec', n.ns, 'ethtool', '-K', overlayOf(d).device, 'tx', 'on', 'rx', 'on']);
const podsOn = (d: Desc, n: LabNode) => d.endpoints.filter((e) => e.node === n.name);

/** Broken TX checksum offload on the overlay device, the way it shows on the wire: every `proto`
 *  segment leaving the device gets a wrong checksum while tx offload is on (nftables
 *  `<proto> checksum set` on egress; veth would otherwise never compute one). A watcher lifts it the
 *  moment tx offload is turned off — `ethtool --offload <dev> rx off tx off`, the fix under test. */
function checksumFault(
  proto: 'tcp' | 'udp',
  table: string,
  watchFile: (ns: string) => string,
  about: string,
  restartCache: boolean,
  expect: FaultExpectation,
): FaultDef {
  return {
    scope: 'node',
    about,
    expect,
    apply(d, node) {
      const { ns } = node;
      const dev = overlayOf(d).device;
      nsSh(
        ns,
        `/usr/sbin/nft add table inet ${table} && /usr/sbin/nft add chain inet ${table} post "{ type filter hook postrouting priority 0; }" && /usr/sbin/nft add rule inet ${table} post oifname "${dev}" meta l4proto ${proto} ${proto} checksum set 0xdead`,
      );
      nsSh(ns, `ethtool -K ${dev} tx on rx on`);
      // once lifted, the lab's unbound (standing in for node-cache, whose forward plugin health-checks
      // its upstream every 0.5 s) is restarted so it does not hold on to its backoff for minutes
      const after = restartCache ? `; ${restartNodeCacheScript(d.dir, node)}` : '';
      const script = `while ethtool -k ${dev} | grep -q "^tx-checksumming: on"; do sleep 0.2; done; /usr/sbin/nft delete table inet ${table}${after}`;
      const w = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', script], { detached: true, stdio: 'ignore' });
      if (w.pid) writeFileSync(join(d.dir, watchFile(ns)), String(w.pid));
      w.unref();
    },
    lift(d, node) {
      const watcher = join(d.dir, watchFile(node.ns));
      // offload already off: the watcher is lifting the fault itself (and restarting node-cache);
      // killed halfway, it would leave node-cache down
      if (!txOn(node.ns, overlayOf(d).device)) waitPidFile(watcher, 3000);
      killPidFile(watcher);
      quiet('ip', ['netns', 'exec', node.ns, '/usr/sbin/nft', 'delete', 'table', 'inet', table]);
      offloadDefault(d, node);
    },
    ready: (d, node) =>
      nsOk(node.ns, '/usr/sbin/nft', 'list', 'table', 'inet', table) && txOn(node.ns, overlayOf(d).device),
  };
}

/** One node's whole ruleset moved between the iptables backends (iptables-nft <-> iptables-legacy),
 *  as on a node whose `iptables` is the other one; the source backend's tables are emptied. */
function moveRules(ns: string, from: 'nft' | 'legacy', to: 'nft' | 'legacy'): void {
  const rules = sh('ip', ['netns', 'exec', ns, `iptables-${from}-save`]);
  sh('ip', ['netns', 'exec', ns, `iptables-${to}-restore`, '-w'], rules);
  for (const t of ['raw', 'nat', 'filter'])
    nsSh(ns, `iptables-${from} -w -t ${t} -F && iptables-${from} -w -t ${t} -X`);
}

const SHADOW = ['!', '-p', '253', '-j', 'ACCEPT'];
const SHADOW_SAVED = '-A PREROUTING ! -p 253 -j ACCEPT';
/** the first rule of raw PREROUTING in a backend is the shadowing ACCEPT */
const shadowFirst = (ns: string, backend: 'nft' | 'legacy') =>
  nsRead(ns, `iptables-${backend}-save`, '-t', 'raw')
    .split('\n')
    .find((l) => l.startsWith('-A PREROUTING ')) === SHADOW_SAVED;
/** legacy tables exist in this namespace (reading them with iptables-legacy would create them) */
const legacyRaw = (ns: string) => nsRead(ns, 'cat', '/proc/net/ip_tables_names').split('\n').includes('raw');

/** The ipvs-* faults: no lab run sees them as a node in IPVS mode would (the lab has no IPVS); the
 *  replay bundles made from them (test/fixtures/bundles/ipvs-*) are their test, lab.test.ts proves
 *  the symptom. */
const IPVS_REPLAYED = (hosts: 'applied' | null): FaultExpectation => ({
  runs: [],
  diagnoses: ['ipvs-stale-backend'],
  hosts,
  exit: 1,
  absent: ['coredns-service-unrouted', 'udp-blocked', 'tcp-blocked'],
});

// an ACCEPT ahead of node-cache's NOTRACK rules: the rules check names it, and says which rules it hides
const SHADOWED: FaultExpectation = {
  runs: [{ on: ['node2'] }],
  diagnoses: ['nodelocaldns-rules-missing'],
  hosts: 'applied',
  exit: 1,
  absent: [],
  results: [
    {
      check: 'nodelocaldns.iptables',
      on: 'applied',
      status: 'fail',
      evidence: [
        { field: 'shadowingRules', holds: '-A PREROUTING ! -p 253 -j ACCEPT' },
        // the two PREROUTING NOTRACK rules
        { field: 'shadowed', length: 2 },
      ],
    },
    { check: 'nodelocaldns.iptables', on: 'others', status: 'pass' },
  ],
};

/** The lab has no IPVS (this kernel has none): it runs kube-proxy's iptables-mode rules, the random
 *  DNAT of chain KUBE-SVC-DNS. The ipvs-* faults change those rules so that the service behaves on the
 *  wire as it does when kube-proxy's IPVS table is in that state; the IPVS tables the validator reads
 *  in the bundles made from them come from public captures (test/fixtures/bundles/README.md). */
const svcJump = (d: Desc, chain: 'PREROUTING' | 'OUTPUT') => [chain, '-d', `${d.corednsIp}/32`, '-j', 'KUBE-SVC-DNS'];
/** An address in the block of the first CoreDNS pod's node that no pod holds: a pod that is gone. */
export function gonePodIp(endpoints: readonly LabEndpoint[]): string {
  const ep = endpoints[0]!;
  const o = ep.ip.split('.').map(Number);
  return [o[0], o[1], o[2], (o[3]! & ~3) + 3].join('.');
}
const STALE_SHARE = '0.34000000000';
const staleRule = (d: Desc, p: string) => [
  'KUBE-SVC-DNS',
  '-p',
  p,
  '-m',
  p,
  '--dport',
  '53',
  '-m',
  'statistic',
  '--mode',
  'random',
  '--probability',
  STALE_SHARE,
  '-j',
  'DNAT',
  '--to-destination',
  `${gonePodIp(d.endpoints)}:53`,
];
const rejectSvc = (d: Desc, chain: 'OUTPUT' | 'FORWARD', p: string) => [
  chain,
  '-d',
  `${d.corednsIp}/32`,
  '-p',
  p,
  '-m',
  p,
  '--dport',
  '53',
  '-j',
  'REJECT',
];

/** `rule` (chain first, as iptables -A takes it) inserted at the top of its chain in `table`. */
const iptFirst = (ns: string, table: string, rule: string[]) =>
  ipt(ns, '-t', table, '-I', rule[0]!, '1', ...rule.slice(1));

/** The node's jumps to kube-proxy's service chain, removed and put back (idempotent). */
function dropSvcJumps(d: Desc, n: LabNode): void {
  for (const c of ['PREROUTING', 'OUTPUT'] as const) iptDeleteAll(n.ns, 'iptables', 'nat', svcJump(d, c));
}
function restoreSvcJumps(d: Desc, n: LabNode): void {
  for (const c of ['PREROUTING', 'OUTPUT'] as const)
    if (!ipt(n.ns, '-t', 'nat', '-C', ...svcJump(d, c))) ipt(n.ns, '-t', 'nat', '-A', ...svcJump(d, c));
}

/** the host firewall's rule that drops the overlay's VXLAN packets arriving on the underlay */
const vxlanDrop = (d: Desc) => [
  'INPUT',
  '-i',
  'eth0',
  '-p',
  'udp',
  '-m',
  'udp',
  '--dport',
  String(overlayOf(d).port),
  '-j',
  'DROP',
];

const TABLE = {
  checksum: checksumFault(
    'tcp',
    'ksvlab',
    (ns) => `watch-${ns}.pid`,
    'TCP leaving the overlay device gets a bad checksum while its tx offload is on; turning offload off lifts it',
    true,
    {
      // on every node, node2's NodeLocalDNS (forwarding over TCP, half its upstreams across the broken
      // overlay) may fail all its probes: that is checksum-offload's, never nodelocaldns-down
      runs: [{ fix: true }, { on: ['node3'] }],
      diagnoses: ['checksum-offload'],
      hosts: 'applied',
      exit: 1,
      absent: [...OFFLOAD_LOOKALIKES, 'nodelocaldns-rules-missing'],
      // TCP across the overlay fails; NodeLocalDNS forwards over TCP, so it fails over both transports
      flips: ['dns.coredns-endpoint.tcp', 'dns.coredns-service.tcp', 'dns.nodelocaldns.tcp', 'dns.nodelocaldns.udp'],
      summary: 'DNS over TCP across the overlay fails while UDP works: checksum offload on {device}',
      evidence: ['RetransSegs|TCPSynRetrans|TCPTimeouts|InCsumErrors'],
      fix: 'ethtool --offload {device} rx off tx off',
    },
  ),
  'rules-missing': {
    scope: 'node',
    expect: {
      runs: [{ on: ['node2'] }],
      diagnoses: ['nodelocaldns-rules-missing'],
      hosts: 'applied',
      exit: 1,
      absent: ['checksum-offload'],
      // the node's pod loses NodeLocalDNS as the node does
      flips: [
        'dns.nodelocaldns.tcp',
        'dns.nodelocaldns.udp',
        'dns.pod.nodelocaldns.tcp',
        'dns.pod.nodelocaldns.udp',
        'nodelocaldns.iptables',
      ],
    },
    about: "node-cache's 12 iptables rules deleted",
    apply: (_d, n) => deleteNodeCacheRules(n.ns),
    lift: (_d, n) => restoreNodeCacheRules(n.ns),
    ready: (_d, n) => !nsRead(n.ns, 'iptables-save').includes('NodeLocal DNS Cache'),
  },
  'nodelocaldns-down': {
    scope: 'node',
    expect: {
      runs: [{ on: ['node2'] }],
      diagnoses: ['nodelocaldns-down'],
      hosts: 'applied',
      exit: 1,
      absent: ['checksum-offload'],
      flips: ['dns.nodelocaldns.tcp', 'dns.nodelocaldns.udp', 'dns.pod.nodelocaldns.tcp', 'dns.pod.nodelocaldns.udp'],
    },
    about: 'NodeLocalDNS (node-cache) not running',
    apply: (d, n) => stopNodeCache(d.dir, n),
    lift: (d, n) => {
      if (!nodeCacheUp(d.dir, n)) startNodeCache(d.dir, n);
    },
    ready: (d, n) => !nodeCacheUp(d.dir, n),
  },
  'coredns-down': {
    scope: 'cluster',
    expect: {
      runs: [{}],
      diagnoses: ['coredns-unreachable'],
      hosts: null,
      exit: 1,
      absent: ['checksum-offload'],
    },
    about: 'every CoreDNS pod dead',
    apply: (d) => d.endpoints.forEach((e) => killNs(e.podNs)),
    lift: (d) => {
      for (const e of d.endpoints) if (!pidAlive(corednsPid(d.dir, e))) startCoredns(e, d.dir, d);
    },
    ready: (d) => d.endpoints.every((e) => !nsPids(e.podNs).length),
  },
  'endpoint-down': {
    scope: 'cluster',
    expect: {
      runs: [{}],
      diagnoses: ['coredns-endpoint-down'],
      hosts: null,
      exit: 1,
      absent: ['checksum-offload'],
    },
    about: 'the first CoreDNS pod dead, the others answering',
    apply: (d) => killNs(d.endpoints[0]!.podNs),
    lift: (d) => {
      if (!pidAlive(corednsPid(d.dir, d.endpoints[0]!))) startCoredns(d.endpoints[0]!, d.dir, d);
    },
    ready: (d) => !nsPids(d.endpoints[0]!.podNs).length,
  },
  'sshd-down': {
    scope: 'node',
    expect: {
      runs: [{ on: ['node3'] }],
      diagnoses: ['host-unreachable'],
      hosts: 'applied',
      exit: 3,
      absent: ['checksum-offload'],
      flips: ['ssh.reachable'],
    },
    about: 'no sshd on the node',
    apply: (d, n) => killPidFile(sshdPid(d.dir, n.ns)),
    lift: (d, n) => startSshd(d.dir, n.ns),
    ready: (d, n) => !pidAlive(sshdPid(d.dir, n.ns)),
  },
  mtu: {
    scope: 'node',
    expect: {
      runs: [{ on: ['node2'] }],
      diagnoses: ['overlay-mtu'],
      hosts: 'applied',
      exit: 1,
      absent: ['checksum-offload'],
      flips: ['overlay.mtu'],
    },
    // a vxlan cannot exceed its lower device's MTU - 50, so the parent is lowered to the overlay's
    about:
      'overlay MTU = parent NIC MTU (no room for the 50-byte VXLAN header); on veth large packets still pass, so only the MTU check finds it',
    apply: (_d, n) => nsSh(n.ns, 'ip link set eth0 mtu 1450'),
    lift: (_d, n) => nsSh(n.ns, 'ip link set eth0 mtu 1500'),
    ready: (_d, n) => nsRead(n.ns, 'cat', '/sys/class/net/eth0/mtu').trim() === '1450',
  },
  'udp-blocked': {
    scope: 'node',
    expect: {
      runs: [{}, { on: ['node1'] }],
      diagnoses: ['udp-blocked'],
      hosts: 'applied',
      exit: 1,
      absent: ['checksum-offload'],
      flips: ['dns.coredns-endpoint.udp', 'dns.coredns-service.udp', 'dns.nodelocaldns.udp'],
    },
    about: 'an OUTPUT rule drops udp/53 leaving the node',
    apply: (_d, n) => nsSh(n.ns, 'iptables -w -I OUTPUT -p udp -m udp --dport 53 -j DROP'),
    lift: (_d, n) =>
      iptDeleteAll(n.ns, 'iptables', 'filter', ['OUTPUT', '-p', 'udp', '-m', 'udp', '--dport', '53', '-j', 'DROP']),
    ready: (_d, n) => ipt(n.ns, '-C', 'OUTPUT', '-p', 'udp', '-m', 'udp', '--dport', '53', '-j', 'DROP'),
  },
  'overlay-blocked': {
    scope: 'node',
    expect: {
      runs: [{ on: ['node3'] }, { on: ['node1'] }],
      diagnoses: ['overlay-blocked'],
      hosts: 'applied',
      exit: 1,
      absent: DNS_LOOKALIKES,
      evidence: ['{node}: {device} received 0 packet', '--dport {port} -j DROP'],
    },
    about:
      "a host firewall drops the overlay's VXLAN packets arriving on the node's underlay (udp/4789 Calico, udp/8472 flannel): every path through its overlay fails, same-node paths work",
    apply: (d, n) => iptFirst(n.ns, 'filter', vxlanDrop(d)),
    lift: (d, n) => iptDeleteAll(n.ns, 'iptables', 'filter', vxlanDrop(d)),
    ready: (d, n) => ipt(n.ns, '-C', ...vxlanDrop(d)),
  },
  'pod-to-host-blocked': {
    scope: 'node',
    expect: {
      runs: [{ on: ['node2'] }],
      diagnoses: ['pod-to-host-blocked'],
      hosts: 'applied',
      exit: 1,
      absent: [...DNS_LOOKALIKES, 'nodelocaldns-rules-missing', 'overlay-blocked', 'ip-forward-disabled'],
      evidence: ['"-A INPUT -i {podInputIf} -j DROP" \\(nft, filter INPUT\\) drops udp/53 and tcp/53 arriving on'],
    },
    // what Calico's DefaultEndpointToHostAction=DROP or a host firewall trusting only lo and the NIC
    // does: everything a pod sends to the node itself is dropped in INPUT, ahead of node-cache's
    // ACCEPT rules; forwarded pod traffic (FORWARD) and the node's own queries (lo) pass
    about:
      "a host firewall drops what pods send to the node itself (`iptables -I INPUT 1 -i cali+ -j DROP`; cni0 with flannel): pods get nothing from NodeLocalDNS while the node does, and the node's queries to its own pods get no reply",
    apply: (d, n) => nsSh(n.ns, `iptables -w -I INPUT 1 -i ${overlayOf(d).podInputIf} -j DROP`),
    lift: (d, n) => iptDeleteAll(n.ns, 'iptables', 'filter', ['INPUT', '-i', overlayOf(d).podInputIf, '-j', 'DROP']),
    ready: (d, n) => ipt(n.ns, '-C', 'INPUT', '-i', overlayOf(d).podInputIf, '-j', 'DROP'),
  },
  'ip-forward': {
    scope: 'node',
    expect: {
      // node2 hosts a CoreDNS pod: the pod is not called dead
      runs: [{ on: ['node2'] }],
      diagnoses: ['ip-forward-disabled'],
      hosts: 'applied',
      exit: 1,
      absent: DNS_LOOKALIKES,
      results: [
        { check: 'sysctl.forwarding', on: 'applied', status: 'fail' },
        { check: 'sysctl.forwarding', on: 'others', status: 'pass' },
      ],
    },
    about:
      "net.ipv4.ip_forward=0 (which turns every interface's forwarding off): nothing is forwarded to the node's pods, and in Calico mode proxy ARP stops answering their gateway 169.254.1.1, so they are unreachable even from the node",
    apply: (d, n) => {
      nsSh(n.ns, 'sysctl -qw net.ipv4.ip_forward=0');
      // the pod's neighbour cache would remember the gateway for a while: forget it, as after a restart
      for (const e of podsOn(d, n)) nsSh(e.podNs, 'ip neigh flush all');
    },
    lift: (d, n) => {
      const perIf = podsOn(d, n)
        .filter((e) => e.hostIf)
        .map((e) => ` net.ipv4.conf.${e.hostIf}.forwarding=1`)
        .join('');
      nsSh(n.ns, `sysctl -qw net.ipv4.ip_forward=1${perIf}`);
      for (const e of podsOn(d, n)) quiet('ip', ['netns', 'exec', e.podNs, 'ip', 'neigh', 'flush', 'all']);
    },
    ready: (_d, n) => nsRead(n.ns, 'cat', '/proc/sys/net/ipv4/ip_forward').trim() === '0',
  },
  'rules-shadowed': {
    scope: 'node',
    expect: SHADOWED,
    // kubernetes/dns#745: an ACCEPT first in raw PREROUTING (a tuning guide's `! -p 253 -j ACCEPT`)
    // ends the chain before node-cache's NOTRACK rules: node-cache's rules are all present, and DNS
    // from pods to NodeLocalDNS is connection-tracked again
    about:
      "`iptables -t raw -I PREROUTING 1 ! -p 253 -j ACCEPT` ahead of node-cache's NOTRACK rules (kubernetes/dns#745): every rule present, pods' DNS to NodeLocalDNS conntracked",
    apply: (_d, n) => nsSh(n.ns, 'iptables -w -t raw -I PREROUTING 1 ! -p 253 -j ACCEPT'),
    lift: (_d, n) => iptDeleteAll(n.ns, 'iptables', 'raw', ['PREROUTING', ...SHADOW]),
    ready: (_d, n) => shadowFirst(n.ns, 'nft'),
  },
  'rules-shadowed-legacy': {
    scope: 'node',
    expect: SHADOWED,
    about:
      "rules-shadowed on a node whose iptables is iptables-legacy: its whole ruleset, node-cache's rules and the shadowing ACCEPT live in the legacy backend",
    apply: (_d, n) => {
      if (quiet('sh', ['-c', 'command -v iptables-legacy-restore']).status !== 0)
        throw new Error('lab: rules-shadowed-legacy needs iptables-legacy (apt-get install iptables)');
      moveRules(n.ns, 'nft', 'legacy');
      nsSh(n.ns, 'iptables-legacy -w -t raw -I PREROUTING 1 ! -p 253 -j ACCEPT');
    },
    lift: (_d, n) => {
      if (!legacyRaw(n.ns) || !shadowFirst(n.ns, 'legacy')) return;
      iptDeleteAll(n.ns, 'iptables-legacy', 'raw', ['PREROUTING', ...SHADOW]);
      moveRules(n.ns, 'legacy', 'nft');
    },
    ready: (_d, n) =>
      legacyRaw(n.ns) &&
      shadowFirst(n.ns, 'legacy') &&
      !nsRead(n.ns, 'iptables-nft-save').includes('NodeLocal DNS Cache'),
  },
  'checksum-udp': checksumFault(
    'udp',
    'ksvlab-udp',
    (ns) => `watch-udp-${ns}.pid`,
    'UDP leaving the overlay device gets a bad checksum while its tx offload is on (projectcalico/calico#11197): UDP DNS across the overlay times out, TCP works; turning offload off lifts it',
    false,
    {
      runs: [{ on: ['node3'], fix: true }],
      diagnoses: ['checksum-offload'],
      hosts: 'applied',
      exit: 1,
      absent: OFFLOAD_LOOKALIKES,
      summary: 'DNS over UDP across the overlay fails while TCP works: checksum offload on {device}',
      evidence: ['Udp\\.InCsumErrors \\+\\d+'],
      fix: 'ethtool --offload {device} rx off tx off',
    },
  ),
  'felix-tx-off': {
    scope: 'node',
    expect: {
      runs: [{}],
      diagnoses: [],
      hosts: null,
      exit: 0,
      absent: ['checksum-offload'],
      results: [
        {
          check: 'overlay.offload',
          on: 'applied',
          status: 'pass',
        },
      ],
    },
    about: 'the overlay device as Felix leaves it with ChecksumOffloadBroken: tx checksum offload off, rx on (healthy)',
    apply: (d, n) => nsSh(n.ns, `ethtool -K ${overlayOf(d).device} tx off rx on`),
    lift: (d, n) => offloadDefault(d, n),
    ready: (d, n) => {
      const k = ethtoolK(n.ns, overlayOf(d).device);
      return /^tx-checksumming: off/m.test(k) && /^rx-checksumming: on/m.test(k);
    },
  },
  firewalld: {
    scope: 'node',
    expect: {
      // node2 hosts a CoreDNS pod: the other nodes lose it (overlay), its own pod loses NodeLocalDNS
      runs: [{ on: ['node2'] }],
      diagnoses: ['overlay-blocked', 'pod-to-host-blocked'],
      hosts: 'applied',
      exit: 1,
      absent: [...DNS_LOOKALIKES, 'nodelocaldns-rules-missing', 'ip-forward-disabled'],
      evidence: [
        '"reject with icmpx admin-prohibited" \\(nftables, firewalld filter_INPUT via filter_INPUT_ZONES → filter_IN_public\\) drops UDP {port}',
        "{node}: the rule is firewalld's: no zone names eth0 or the source: firewalld's default zone public",
      ],
      fix: 'firewall-cmd --permanent --zone=public --add-port=',
      results: firewallHost('warn'),
    },
    about:
      "the real firewalld with its packaged defaults (zone public: ssh and dhcpv6-client, `reject with icmpx admin-prohibited` in its own `table inet firewalld`), started after the node's iptables rules: the overlay's VXLAN port and what pods send to the node are rejected, whatever iptables accepts",
    apply: (d, n) => startFirewalld(d, n),
    lift: (d, n) => stopFirewalld(d, n),
    ready: (d, n) => firewalldUp(d, n),
  },
  'firewalld-open': {
    scope: 'node',
    expect: {
      runs: [{ on: ['node2'] }],
      diagnoses: [],
      hosts: null,
      exit: 0,
      absent: [...DNS_LOOKALIKES, 'overlay-blocked', 'pod-to-host-blocked'],
      results: firewallHost('pass'),
    },
    about:
      "firewalld with the documented fix: the plugin's devices (pod interfaces, the overlay device, nodelocaldns) in zone trusted and the overlay's port open in zone public — healthy",
    apply: (d, n) => {
      const ov = overlayOf(d);
      startFirewalld(d, n, [
        ...[ov.podInputIf, ov.device, 'nodelocaldns'].map((dev) => [
          '--permanent',
          '--zone=trusted',
          `--add-interface=${dev}`,
        ]),
        ['--permanent', '--zone=public', `--add-port=${ov.port}/udp`],
      ]);
    },
    lift: (d, n) => stopFirewalld(d, n),
    ready: (d, n) =>
      firewalldUp(d, n) &&
      nsRead(n.ns, '/usr/sbin/nft', 'list', 'table', 'inet', 'firewalld').includes(
        `udp dport ${overlayOf(d).port} accept`,
      ),
  },
  'nft-vxlan-drop': {
    scope: 'node',
    expect: {
      runs: [{ on: ['node3'] }],
      diagnoses: ['overlay-blocked'],
      hosts: 'applied',
      exit: 1,
      absent: DNS_LOOKALIKES,
      evidence: [
        '{node}: "udp dport {port} counter packets \\d+ bytes \\d+ drop" \\(nftables, hostfw input\\) drops UDP {port}',
        '{node}: the rule is the native nftables table inet hostfw',
      ],
      results: [{ check: 'firewall.host', on: 'applied', status: 'warn' }],
    },
    about:
      "a native nftables table of its own (as /etc/nftables.conf would load) drops the overlay's VXLAN port arriving on the node, which iptables-save never shows",
    apply: (d, n) =>
      nsSh(
        n.ns,
        `/usr/sbin/nft add table inet hostfw && /usr/sbin/nft add chain inet hostfw input "{ type filter hook input priority 0; policy accept; }" && /usr/sbin/nft add rule inet hostfw input udp dport ${overlayOf(d).port} counter drop`,
      ),
    lift: (_d, n) => quiet('ip', ['netns', 'exec', n.ns, '/usr/sbin/nft', 'delete', 'table', 'inet', 'hostfw']),
    ready: (_d, n) => nsOk(n.ns, '/usr/sbin/nft', 'list', 'table', 'inet', 'hostfw'),
  },
  'endpoints-gone': {
    scope: 'cluster',
    expect: {
      // the endpoints come from EndpointSlices: nothing changes
      runs: [{}],
      diagnoses: [],
      tolerated: ['dns-unexplained'],
      hosts: null,
      exit: 0,
      absent: ['coredns-endpoint-down', 'coredns-unreachable'],
      results: [
        {
          check: 'coredns.endpoints',
          on: 'cluster',
          status: 'pass',
          evidence: [{ field: 'source', holds: '"endpointslices"' }],
        },
      ],
    },
    about:
      '`kubectl get endpoints` fails as on a server without v1 Endpoints (`error: the server doesn\'t have a resource type "endpoints"`); EndpointSlices still answer',
    apply: (d) => writeFileSync(endpointsGoneMarker(d.dir), ''),
    lift: (d) => rmSync(endpointsGoneMarker(d.dir), { force: true }),
    ready: (d) => existsSync(endpointsGoneMarker(d.dir)),
  },

  'resolv-loop': {
    scope: 'node',
    expect: {
      runs: [{ on: ['node2'] }],
      diagnoses: ['resolver-loop'],
      hosts: 'applied',
      exit: 1,
      absent: [...DNS_LOOKALIKES, 'upstream-dns-unreachable'],
      flips: [
        'resolver.config',
        'dns.nodelocaldns.tcp',
        'dns.nodelocaldns.udp',
        'dns.pod.nodelocaldns.tcp',
        'dns.pod.nodelocaldns.udp',
      ],
      evidence: [
        '^{node}: /etc/resolv\\.conf:\\d+ `nameserver 169\\.254\\.25\\.10` names 169\\.254\\.25\\.10, NodeLocalDNS itself',
        '^{node}: loop: node-cache on 169\\.254\\.25\\.10 forwards `\\.` to 169\\.254\\.25\\.10: to itself',
        '^{node}: pod nodelocaldns-{node} on {node}: CrashLoopBackOff, 2 restart\\(s\\); its previous container\'s last loop line: \\[FATAL\\] plugin/loop: Loop \\(169\\.254\\.25\\.10:\\d+ -> 169\\.254\\.25\\.10:53\\) detected for zone "\\."',
      ],
      fix: 'upstream_dns_servers',
      results: [
        { check: 'resolver.config', on: 'applied', status: 'fail', evidence: [{ field: 'loops', length: 1 }] },
        { check: 'resolver.config', on: 'others', status: 'pass' },
      ],
    },
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
    expect: {
      runs: [{ on: ['node3'] }],
      diagnoses: ['resolver-loop'],
      hosts: 'applied',
      exit: 1,
      absent: [...DNS_LOOKALIKES, 'upstream-dns-unreachable'],
      flips: ['resolver.config'],
      evidence: [
        '^{node}: /etc/resolv\\.conf:\\d+ `nameserver 127\\.0\\.0\\.53` names 127\\.0\\.0\\.53, a loopback stub',
        '^{node}: loop: CoreDNS pods forward `\\.` to 127\\.0\\.0\\.53 in their own network namespace',
        '^{node}: the external name kubernetes\\.io through NodeLocalDNS: 0/\\d+ good answers',
      ],
      results: [{ check: 'resolver.config', on: 'applied', status: 'fail' }],
    },
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
    expect: {
      runs: [{}],
      diagnoses: ['upstream-dns-unreachable'],
      hosts: null,
      exit: 1,
      absent: [...DNS_LOOKALIKES, 'resolver-loop'],
      evidence: [
        '^the DNS pods forward `\\.` to 198\\.18\\.\\d+\\.4 \\(from /etc/resolv\\.conf\\)$',
        '^198\\.18\\.\\d+\\.4 asked directly from every node: UDP 0/\\d+ .*, TCP 0/\\d+',
      ],
      summary: '^the upstream DNS servers 198\\.18\\.\\d+\\.4 \\(from /etc/resolv\\.conf\\) answer no node',
      results: [{ check: 'resolver.upstream', on: 'cluster', status: 'fail' }],
    },
    about: 'the upstream resolver the nodes name (and NodeLocalDNS and CoreDNS forward `.` to) is down',
    apply: (d) => stopUpstream(d.dir),
    lift: (d) => {
      if (!upstreamUp(d.dir)) startUpstream(d.k, d.dir, EXTERNAL);
    },
    ready: (d) => !upstreamUp(d.dir),
  },
  'search-wildcard': {
    scope: 'cluster',
    expect: {
      runs: [{}],
      diagnoses: [],
      hosts: null,
      exit: 0,
      absent: [...DNS_LOOKALIKES, 'resolver-loop', 'upstream-dns-unreachable'],
      results: [
        {
          check: 'resolver.config',
          on: 'applied',
          status: 'warn',
          evidence: [{ field: 'wildcard', holds: '"outcome":"answers"' }],
        },
      ],
    },
    about: "the hosts' search domain has a wildcard record at the upstream (kubespray#5484): any name under it answers",
    apply: (d) => startUpstream(d.k, d.dir, EXTERNAL, true),
    lift: (d) => {
      if (upstreamWildcard(d.dir) || !upstreamUp(d.dir)) startUpstream(d.k, d.dir, EXTERNAL);
    },
    ready: (d) => upstreamUp(d.dir) && upstreamWildcard(d.dir),
  },
  'ipvs-stale': {
    scope: 'node',
    expect: IPVS_REPLAYED('applied'),
    about:
      "IPVS keeps a gone CoreDNS pod as a real server of the service (no IPVS here: a third of the node's service traffic, as round robin over three real servers sends it, is DNATed to an address no pod holds, ahead of kube-proxy's iptables-mode rules)",
    apply: (d, n) => ['udp', 'tcp'].forEach((p) => iptFirst(n.ns, 'nat', staleRule(d, p))),
    lift: (d, n) => ['udp', 'tcp'].forEach((p) => iptDeleteAll(n.ns, 'iptables', 'nat', staleRule(d, p))),
    ready: (d, n) => ipt(n.ns, '-t', 'nat', '-C', ...staleRule(d, 'udp')),
  },
  'ipvs-no-real-server': {
    scope: 'cluster',
    expect: IPVS_REPLAYED(null),
    about:
      'the CoreDNS service has no real server ("IPVS: rr: UDP …:53 - no destination available"; no IPVS here: every node rejects its service traffic with port unreachable instead of DNATing it)',
    apply: (d) =>
      d.nodes.forEach((n) => {
        dropSvcJumps(d, n);
        for (const c of ['OUTPUT', 'FORWARD'] as const)
          for (const p of ['udp', 'tcp']) iptFirst(n.ns, 'filter', rejectSvc(d, c, p));
      }),
    lift: (d) =>
      d.nodes.forEach((n) => {
        for (const c of ['OUTPUT', 'FORWARD'] as const)
          for (const p of ['udp', 'tcp']) iptDeleteAll(n.ns, 'iptables', 'filter', rejectSvc(d, c, p));
        restoreSvcJumps(d, n);
      }),
    ready: (d) => d.nodes.every((n) => ipt(n.ns, '-C', ...rejectSvc(d, 'OUTPUT', 'udp'))),
  },
  'ipvs-no-address': {
    scope: 'node',
    expect: IPVS_REPLAYED('applied'),
    about:
      "kube-ipvs0 does not hold the CoreDNS service address, so IPVS never sees the node's traffic to it (no IPVS here: the node's jumps to kube-proxy's service chain are removed; the traffic leaves unanswered)",
    apply: (d, n) => dropSvcJumps(d, n),
    lift: (d, n) => restoreSvcJumps(d, n),
    ready: (d, n) => !ipt(n.ns, '-t', 'nat', '-C', ...svcJump(d, 'OUTPUT')),
  },
} satisfies Record<string, FaultDef>;

export type Fault = keyof typeof TABLE;
export const FAULTS = Object.keys(TABLE) as Fault[];
export const FAULT_DEFS: Readonly<Record<Fault, FaultDef>> = TABLE;

/** Apply, lift and read back each fault on one node (cluster-scoped faults: the first node). */
export function faultOps(d: Desc): {
  apply: (f: Fault, node: LabNode) => void;
  lift: (f: Fault, node: LabNode) => void;
  /** after lifting: every running node-cache started again. node-cache's forward plugin
   *  health-checks its upstream every 0.5 s and uses it again at once; the unbound standing in for it
   *  backs off an upstream that failed (a CoreDNS pod dead or cut off, the upstream resolver down) for
   *  longer than the lab waits, on a loaded machine past 10 s */
  recover: () => void;
  ready: (f: Fault, node: LabNode) => boolean;
  /** wait (up to `ms`) until the fault reads back as holding: a daemon forks, a watcher polls */
  held: (f: Fault, node: LabNode, ms?: number) => Promise<boolean>;
} {
  const ready = (f: Fault, node: LabNode) => TABLE[f].ready(d, node);
  return {
    apply: (f, node) => TABLE[f].apply(d, node),
    lift: (f, node) => TABLE[f].lift(d, node),
    recover: () => d.nodes.forEach((n) => restartNodeCache(d.dir, n)),
    ready,
    held: (f, node, ms) => until(() => ready(f, node), ms),
  };
}

/** The nodes a fault applies to: cluster-scoped faults once, through the first node. */
export function faultTargets(f: Fault, nodes: LabNode[], chosen: LabNode[]): LabNode[] {
  return TABLE[f].scope === 'cluster' ? [nodes[0]!] : chosen;
}
