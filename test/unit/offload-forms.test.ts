// checksum-offload in its other real forms, on hand-built evidence: the UDP mirror image (counted
// in the CoreDNS pods' own namespaces), Felix's own fix (TX off, RX on), every overlay Kubespray
// installs, what Felix should have done; nic-tunnel-offload on a vmxnet3 parent; and the
// look-alikes that must not be blamed on offload, nor on a firewall when offload fits.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diagnose } from '../../src/diagnose/index.js';
import { safeFixes } from '../../src/fix/index.js';
import { parseEthtoolI, parseEthtoolK } from '../../src/collect/ethtool.js';
import { podKey } from '../../src/collect/counters.js';
import type {
  CheckResult,
  ClusterModel,
  Counters,
  DiagnoseInput,
  LinkFacts,
  NodeFacts,
  OffloadFacts,
  ProbeResult,
  ProbeRole,
  Transport,
} from '../../src/types.js';
import { CLUSTER, EPS, HOSTS, probeOf } from './model.js';
import { ROOT } from '../e2e/helpers.js';

const fx = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'collect', f), 'utf8');
const podOf = (node: string) => EPS.find((e) => e.nodeName === node)?.ip;

type Behaviour = (host: string, role: ProbeRole, tr: Transport, epNode: string | null) => number;
interface Scenario {
  cluster?: Partial<ClusterModel>;
  ok?: Behaviour;
  /** device -> [tx, rx] per host; default: the plugin's first device with both on */
  offload?: (host: string) => Record<string, [boolean, boolean]>;
  kernel?: string;
  counters?: (host: string) => Counters;
  /** the overlay's parent NIC: ethtool -k and -i output */
  parent?: { nic: string; k: string; i: string };
}

const feat = (tx: boolean, rx: boolean): OffloadFacts => ({
  features: { 'tx-checksumming': { on: tx, fixed: false }, 'rx-checksumming': { on: rx, fixed: false } },
});

function build(s: Scenario): DiagnoseInput {
  const cluster: ClusterModel = { ...CLUSTER, nodes: HOSTS, podsSubnets: ['10.233.64.0/18'], ...s.cluster };
  const ok = s.ok ?? (() => 5);
  const probes: ProbeResult[] = [];
  const results: CheckResult[] = [];
  const facts: Record<string, NodeFacts> = {};
  const counterDeltas: Record<string, Counters> = {};
  const dev =
    cluster.networkPlugin === 'flannel'
      ? 'flannel.1'
      : cluster.networkPlugin === 'cilium'
        ? 'cilium_vxlan'
        : 'vxlan.calico';
  for (const h of HOSTS) {
    const mk = (role: ProbeRole, server: string, tr: Transport, name: string, type: string, epNode: string | null) => {
      probes.push(
        probeOf({ host: h, server, role, transport: tr, name, type, endpointHost: epNode }, ok(h, role, tr, epNode)),
      );
    };
    for (const tr of ['udp', 'tcp'] as const) {
      for (const [name, type] of [
        ['kubernetes.default.svc.cluster.local', 'A'],
        ['1.0.233.10.in-addr.arpa', 'PTR'],
      ] as const) {
        mk('nodelocaldns', '169.254.25.10', tr, name, type, null);
        mk('coredns-service', '10.233.0.3', tr, name, type, null);
      }
      for (const e of EPS) mk('coredns-endpoint', e.ip, tr, 'kubernetes.default.svc.cluster.local', 'A', e.nodeName);
    }
    const offload: NodeFacts['offload'] = {};
    for (const [d, [tx, rx]] of Object.entries(s.offload?.(h) ?? { [dev]: [true, true] })) offload[d] = feat(tx, rx);
    const links: LinkFacts[] = [];
    if (s.parent) {
      offload[s.parent.nic] = { ...(parseEthtoolK(s.parent.k) as OffloadFacts), driver: parseEthtoolI(s.parent.i) };
      links.push({
        name: dev,
        kind: 'vxlan',
        up: true,
        operstate: 'UNKNOWN',
        mtu: 1450,
        parent: s.parent.nic,
        addresses: [],
        vxlan: { id: 4096, port: 4789, local: null },
      });
      links.push({ name: s.parent.nic, kind: null, up: true, operstate: 'UP', mtu: 1500, parent: null, addresses: [] });
    }
    facts[h] = {
      host: h,
      kernel: s.kernel ?? '6.1.0-18-amd64',
      links,
      iptables: { backends: ['nft'], rules: [] },
      counters: {},
      offload,
    };
    counterDeltas[h] = s.counters?.(h) ?? {};
    for (const role of ['nodelocaldns', 'coredns-service', 'coredns-endpoint'] as const)
      for (const tr of ['udp', 'tcp'] as const) {
        const ps = probes.filter((p) => p.host === h && p.role === role && p.transport === tr);
        results.push({
          check: `dns.${role}.${tr}`,
          host: h,
          status: ps.every((p) => p.ok === p.sent) ? 'pass' : 'fail',
          summary: '',
          evidence: {},
        });
      }
  }
  return {
    cluster,
    hosts: HOSTS.map((h) => ({ name: h, address: h, inspected: true, error: null })),
    results,
    probes,
    facts,
    counterDeltas,
    endpoints: EPS,
    endpointError: null,
  };
}

const failing = (i: DiagnoseInput) =>
  diagnose(i)
    .filter((d) => d.severity === 'fail')
    .map((d) => d.id)
    .sort();
const find = (i: DiagnoseInput, id: string) => diagnose(i).find((d) => d.id === id);

/** UDP leaving the bad nodes' overlay device is corrupt: UDP across the overlay through them is
 *  lost (to a pod on the other side, or the replies of their own pod), TCP and same-node paths
 *  work, NodeLocalDNS works (it forwards over TCP); from a node without a CoreDNS pod every UDP
 *  query to the service crosses the overlay. */
const udpOn =
  (bad: string[]): Behaviour =>
  (h, role, tr, ep) => {
    if (tr === 'tcp' || role === 'nodelocaldns') return 5;
    const crosses = (to: string) => to !== h && (bad.includes(h) || bad.includes(to));
    if (role === 'coredns-endpoint') return crosses(ep!) ? 0 : 5;
    const lost = EPS.filter((e) => crosses(e.nodeName!)).length;
    return lost === EPS.length ? 0 : lost ? 3 : 5;
  };
/** the checksum fault: TCP across the overlay through the bad nodes is lost, UDP works */
const tcpOn =
  (bad: string[]): Behaviour =>
  (h, role, tr, ep) => {
    if (tr === 'udp') return 5;
    if (role === 'coredns-endpoint') return ep !== h && (bad.includes(h) || bad.includes(ep!)) ? 0 : 5;
    return bad.includes(h) ? 2 : 5;
  };
const retrans = () => ({ 'Tcp.RetransSegs': 4, 'TcpExt.TCPSynRetrans': 4 });

/** Counters as the python prober reads them: the node's own, and its pod namespaces' by address. */
const csum =
  (perNode: Record<string, { own?: number; pod?: number }>, read = true) =>
  (h: string): Counters => {
    const c: Counters = { 'Udp.InCsumErrors': perNode[h]?.own ?? 0 };
    if (read) {
      c['Netns.pods'] = 0;
      const ip = podOf(h);
      if (ip) c[podKey(ip, 'Udp.InCsumErrors')] = perNode[h]?.pod ?? 0;
    }
    return c;
  };

test("UDP form on a node without CoreDNS: checksum-offload on that node, counted in the CoreDNS pods' namespaces; not udp-blocked; --fix plans the ethtool fix there only", (t) => {
  const i = build({ ok: udpOn(['node3']), counters: csum({ node1: { pod: 5 }, node2: { pod: 5 } }) });
  t.deepEqual(failing(i), ['checksum-offload']);
  const d = find(i, 'checksum-offload')!;
  t.deepEqual(d.hosts, ['node3']);
  t.regex(
    d.summary,
    /DNS over UDP across the overlay fails while TCP works: checksum offload on vxlan\.calico corrupts datagrams on node3/,
  );
  t.true(
    d.evidence.some((e) =>
      /the CoreDNS pod 10\.233\.65\.1 on node2: Udp\.InCsumErrors \+5 in its network namespace/.test(e),
    ),
    d.evidence.join('\n'),
  );
  t.true(
    d.evidence.some((e) =>
      /DNS over UDP from node3 to the CoreDNS pod 10\.233\.64\.1 on node1: 0\/5; over TCP 5\/5/.test(e),
    ),
  );
  t.true(d.evidence.some((e) => /cross-node paths without node3 work over both transports \(node1, node2\)/.test(e)));
  t.deepEqual(
    safeFixes(diagnose(i), i).map((a) => [a.host, a.command]),
    [['node3', 'ethtool --offload vxlan.calico rx off tx off']],
  );
  t.falsy(find(i, 'udp-blocked'));
  t.falsy(find(i, 'dns-unexplained'));
});

test("UDP form on a node hosting CoreDNS: its pod's replies are counted on the client nodes, its queries in the other pod's namespace", (t) => {
  const i = build({ ok: udpOn(['node1']), counters: csum({ node2: { own: 3, pod: 5 }, node3: { own: 3 } }) });
  t.deepEqual(failing(i), ['checksum-offload']);
  const d = find(i, 'checksum-offload')!;
  t.deepEqual(d.hosts, ['node1']);
  t.true(
    d.evidence.some((e) =>
      /node3: Udp\.InCsumErrors \+3 during the probes \(replies from the CoreDNS pod 10\.233\.64\.1 on node1\)/.test(e),
    ),
    d.evidence.join('\n'),
  );
  t.true(d.evidence.some((e) => /CoreDNS pod 10\.233\.65\.1 on node2: Udp\.InCsumErrors \+5/.test(e)));
});

test('UDP form without the pod counters (the bash fallback): not named, not blamed on a firewall; dns-unexplained says which evidence is missing', (t) => {
  const i = build({ ok: udpOn(['node3']), counters: csum({}, false) });
  t.falsy(find(i, 'checksum-offload'));
  t.falsy(find(i, 'udp-blocked'), 'a firewall is not named when offload fits but for counters that could not be read');
  const u = find(i, 'dns-unexplained')!;
  t.truthy(u);
  t.true(
    u.evidence.some((e) =>
      /node3 looks like checksum offload, but: no UDP checksum errors were counted.*the network namespace of the CoreDNS pod 10\.233\.64\.1 on node1 was not read: node1 ran the bash fallback of the probe program \(no python3\)/.test(
        e,
      ),
    ),
    u.evidence.join('\n'),
  );
  // kube_pods_subnet unknown: said so
  const j = build({ ok: udpOn(['node3']), counters: csum({}, false), cluster: { podsSubnets: [] } });
  t.true(find(j, 'dns-unexplained')!.evidence.some((e) => /kube_pods_subnet could not be read/.test(e)));
});

test('look-alike: UDP lost across the overlay, pod namespaces read and clean -> not checksum-offload', (t) => {
  const i = build({ ok: udpOn(['node3']), counters: csum({}) });
  t.falsy(find(i, 'checksum-offload'));
  t.deepEqual(
    failing(i),
    ['udp-blocked'],
    'the counters were read and show no corruption: offload does not explain it',
  );
});

test('look-alike: UDP dropped on the node itself (its own pod and NodeLocalDNS too) -> udp-blocked, even with offload on and errors elsewhere', (t) => {
  const i = build({
    ok: (h, _r, tr) => (tr === 'udp' && h === 'node1' ? 0 : 5),
    counters: csum({ node2: { pod: 1 } }),
  });
  t.deepEqual(failing(i), ['udp-blocked']);
  t.deepEqual(find(i, 'udp-blocked')!.hosts, ['node1']);
});

test("Felix's own fix (TX off, RX on): a healthy cluster has no diagnosis; with the checksum fault's symptoms offload is not blamed, and that is said", (t) => {
  const felix = () => ({ 'vxlan.calico': [false, true] as [boolean, boolean] });
  t.deepEqual(diagnose(build({ offload: felix })), []);
  const i = build({ ok: tcpOn(['node2']), offload: felix, counters: retrans });
  t.falsy(find(i, 'checksum-offload'));
  t.true(
    find(i, 'dns-unexplained')!.evidence.some((e) =>
      /TX checksum offload is already off for vxlan\.calico on node2 \(RX on, as Felix leaves it\)/.test(e),
    ),
  );
});

test('which Felix case applies: kernel above 5.7 (set the override), <= 5.7.0 (Felix should have; restart calico-node), override already set (not applied: no second suggestion)', (t) => {
  const seed = { ok: tcpOn(['node2']), counters: (h: string) => (h === 'node2' ? retrans() : {}) };
  const modern = find(build(seed), 'checksum-offload')!;
  t.true(
    modern.evidence.some((e) =>
      /node2: kernel 6\.1\.0-18-amd64 is above 5\.7\.0: Calico >= 3\.28 \(Kubespray >= v2\.26\) leaves offload on/.test(
        e,
      ),
    ),
  );
  t.true(modern.fix.some((f) => f.includes('calico_feature_detect_override: "ChecksumOffloadBroken=true"')));
  const old = find(build({ ...seed, kernel: '5.4.0-150-generic' }), 'checksum-offload')!;
  t.true(old.evidence.some((e) => /kernel 5\.4\.0-150-generic is in the range Felix itself treats as broken/.test(e)));
  t.true(old.fix.some((f) => /rollout restart daemonset calico-node/.test(f)));
  const set = find(
    build({ ...seed, cluster: { calicoFeatureDetectOverride: 'ChecksumOffloadBroken=true' } }),
    'checksum-offload',
  )!;
  t.true(
    set.fix.some((f) =>
      /already sets calico_feature_detect_override "ChecksumOffloadBroken=true" but TX offload is still on: Felix has not applied it/.test(
        f,
      ),
    ),
  );
  t.false(
    set.fix.some((f) => f.includes('set calico_feature_detect_override: "ChecksumOffloadBroken=true"')),
    'the same setting is not suggested again',
  );
  t.false(set.fix.some((f) => f.includes('kubectl patch felixconfiguration')));
});

test('flannel: the checksum fault on flannel.1 is named with flannel.1 in the fix and the lasting fix flannel needs; Cilium names cilium_vxlan', (t) => {
  const flannel = {
    networkPlugin: 'flannel',
    calicoBackend: null,
    flannelBackendType: 'vxlan',
    flannelVxlanVni: 1,
    flannelVxlanPort: 8472,
  } as Partial<ClusterModel>;
  const i = build({ cluster: flannel, ok: tcpOn(['node2']), counters: (h) => (h === 'node2' ? retrans() : {}) });
  const d = find(i, 'checksum-offload')!;
  t.deepEqual(d.hosts, ['node2']);
  t.regex(d.summary, /on flannel\.1/);
  t.deepEqual(
    safeFixes(diagnose(i), i).map((a) => [a.host, a.command]),
    [['node2', 'ethtool --offload flannel.1 rx off tx off']],
  );
  t.true(d.fix.some((f) => /flannel-io\/flannel#1279/.test(f) && /KERNEL=="flannel\.1"/.test(f)));
  t.false(d.fix.some((f) => /calico|Felix|felixconfiguration/i.test(f)));
  const u = build({ cluster: flannel, ok: udpOn(['node3']), counters: csum({ node1: { pod: 4 }, node2: { pod: 4 } }) });
  t.deepEqual(find(u, 'checksum-offload')?.hosts, ['node3']);
  const c = build({
    cluster: { networkPlugin: 'cilium', calicoBackend: null, ciliumTunnelMode: 'vxlan' },
    ok: tcpOn(['node1']),
    counters: retrans,
  });
  t.deepEqual(
    safeFixes(diagnose(c), c).map((a) => a.command),
    ['ethtool --offload cilium_vxlan rx off tx off'],
  );
});

test('Calico without encapsulation: TCP failing across nodes is not blamed on an overlay there is not', (t) => {
  const i = build({
    cluster: { calicoBackend: 'bird', calicoVxlanMode: 'Never', calicoIpipMode: 'Never' },
    ok: tcpOn(['node2']),
    counters: retrans,
  });
  t.falsy(find(i, 'checksum-offload'));
  t.true(
    find(i, 'dns-unexplained')!.evidence.some((e) => /configures no overlay \(Calico without encapsulation/.test(e)),
  );
});

test('dual stack: every overlay device with TX on gets the fix', (t) => {
  const i = build({
    cluster: { ipv6Stack: true, calicoVxlanModeIpv6: 'Always' },
    offload: () => ({ 'vxlan.calico': [true, true], 'vxlan-v6.calico': [true, true] }),
    ok: tcpOn(['node3']),
    counters: retrans,
  });
  t.deepEqual(
    safeFixes(diagnose(i), i).map((a) => [a.host, a.command]),
    [
      ['node3', 'ethtool --offload vxlan.calico rx off tx off'],
      ['node3', 'ethtool --offload vxlan-v6.calico rx off tx off'],
    ],
  );
});

test('nic-tunnel-offload: a vmxnet3 parent with UDP-tunnel offloads on is a warning on those nodes, never applied by --fix; failing paths across the overlay are said', (t) => {
  const vm = { nic: 'ens192', k: fx('ethtool-k-vmxnet3-el8.3.txt'), i: fx('ethtool-i-vmxnet3.txt') };
  const quiet = build({ parent: vm });
  t.deepEqual(failing(quiet), []);
  const d = find(quiet, 'nic-tunnel-offload')!;
  t.is(d.severity, 'warn');
  t.deepEqual(d.hosts, HOSTS);
  t.true(
    d.evidence.some((e) =>
      /node1: ens192 \(driver vmxnet3 1\.5\.0\.0-k-NAPI\) carries vxlan\.calico with tx-udp_tnl-segmentation and tx-udp_tnl-csum-segmentation on/.test(
        e,
      ),
    ),
  );
  t.true(d.evidence.some((e) => /answered on all/.test(e)));
  t.true(
    d.fix.some((f) => f.includes('ethtool -K ens192 tx-udp_tnl-segmentation off tx-udp_tnl-csum-segmentation off')),
  );
  t.deepEqual(safeFixes(diagnose(quiet), quiet), []);
  const broken = build({ parent: vm, ok: tcpOn(['node2']), counters: retrans });
  t.true(
    find(broken, 'nic-tunnel-offload')!.evidence.some((e) =>
      /DNS across the overlay fails on \d+ of \d+ path\(s\)/.test(e),
    ),
  );
  // EL 8.2's driver: the offloads are off [fixed], nothing to say
  t.falsy(find(build({ parent: { ...vm, k: fx('ethtool-k-vmxnet3-el8.2.txt') } }), 'nic-tunnel-offload'));
  // another driver with the same offloads on (virtio, veth): not a known offender
  t.falsy(find(build({ parent: { ...vm, i: fx('ethtool-i-veth.txt') } }), 'nic-tunnel-offload'));
});
