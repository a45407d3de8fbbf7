// Diagnosis rules on hand-built evidence sets: each root cause, and the look-alikes that must
// never be blamed on checksum offload.
import test from 'ava';
import { diagnose } from '../../src/diagnose/index.js';
import { safeFixes } from '../../src/fix/index.js';
import type {
  CheckResult,
  Counters,
  DiagnoseInput,
  Endpoint,
  IptablesRule,
  NodeFacts,
  ProbeResult,
  ProbeRole,
  Transport,
} from '../../src/types.js';
import { parseIptablesSave } from '../../src/collect/iptables.js';
import { CLUSTER, EPS, HOSTS, probeOf } from './model.js';

/** ok(host, role, transport, endpointNode) -> good answers out of 5 */
type Behaviour = (host: string, role: ProbeRole, tr: Transport, epNode: string | null, type?: string) => number;

interface Scenario {
  ok?: Behaviour;
  offload?: boolean | ((host: string) => boolean);
  counters?: (host: string) => Counters;
  checks?: Partial<Record<string, Record<string, CheckResult['status']>>>; // host -> check -> status
  down?: Record<string, string>; // host -> error
  endpoints?: Endpoint[] | null;
  errors?: (host: string, role: ProbeRole, tr: Transport) => Record<string, number>;
  /** iptables-save output per host (parsed as the nft backend) */
  iptables?: (host: string) => string;
}

function build(s: Scenario): DiagnoseInput {
  const ok = s.ok ?? (() => 5);
  const eps = s.endpoints === undefined ? EPS : s.endpoints;
  const hosts = HOSTS.map((h) => ({ name: h, address: h, inspected: !s.down?.[h], error: s.down?.[h] ?? null }));
  const probes: ProbeResult[] = [];
  const results: CheckResult[] = [];
  const facts: Record<string, NodeFacts> = {};
  const counterDeltas: Record<string, Counters> = {};
  for (const h of HOSTS) {
    if (s.down?.[h]) continue;
    const mk = (role: ProbeRole, server: string, tr: Transport, name: string, type: string, epNode: string | null) => {
      const n = Math.max(0, Math.min(5, ok(h, role, tr, epNode, type)));
      probes.push(
        probeOf({ host: h, server, role, transport: tr, name, type, endpointHost: epNode }, n, s.errors?.(h, role, tr)),
      );
    };
    for (const tr of ['udp', 'tcp'] as const) {
      for (const [name, type] of [
        ['kubernetes.default.svc.cluster.local', 'A'],
        ['1.0.233.10.in-addr.arpa', 'PTR'],
      ]) {
        mk('nodelocaldns', '169.254.25.10', tr, name!, type!, null);
        mk('coredns-service', '10.233.0.3', tr, name!, type!, null);
      }
      for (const e of eps ?? [])
        mk('coredns-endpoint', e.ip, tr, 'kubernetes.default.svc.cluster.local', 'A', e.nodeName);
    }
    const on = typeof s.offload === 'function' ? s.offload(h) : (s.offload ?? true);
    facts[h] = {
      host: h,
      kernel: '6.1',
      links: [],
      iptables: {
        backends: ['nft'],
        rules: s.iptables ? (parseIptablesSave(s.iptables(h), 'nft') as IptablesRule[]) : [],
      },
      counters: {},
      offload: {
        'vxlan.calico': {
          features: { 'tx-checksumming': { on, fixed: false }, 'rx-checksumming': { on, fixed: false } },
        },
      },
    };
    counterDeltas[h] = s.counters?.(h) ?? {};
    for (const id of ['nodelocaldns.iptables', 'nodelocaldns.interface', 'overlay.mtu', 'sysctl.forwarding']) {
      const st = s.checks?.[h]?.[id] ?? 'pass';
      results.push({
        check: id,
        host: h,
        status: st,
        summary: `${id} ${st}`,
        evidence:
          st === 'fail' && id === 'nodelocaldns.iptables'
            ? { missing: ['raw PREROUTING -p tcp -d 169.254.25.10 --dport 53 -j NOTRACK'] }
            : st === 'fail' && id === 'overlay.mtu'
              ? { device: 'vxlan.calico', maxOverlayMtu: 1450 }
              : id === 'sysctl.forwarding'
                ? { 'net.ipv4.ip_forward': st === 'fail' ? '0' : '1' }
                : {},
      });
    }
    for (const role of ['nodelocaldns', 'coredns-service', 'coredns-endpoint'] as const)
      for (const tr of ['udp', 'tcp'] as const) {
        const ps = probes.filter((p) => p.host === h && p.role === role && p.transport === tr);
        if (ps.length)
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
    cluster: CLUSTER,
    hosts,
    results,
    probes,
    facts,
    counterDeltas,
    endpoints: eps,
    endpointError: eps ? null : 'kubectl failed',
  };
}

const ids = (i: DiagnoseInput) =>
  diagnose(i)
    .filter((d) => d.severity === 'fail')
    .map((d) => d.id)
    .sort();
const find = (i: DiagnoseInput, id: string) => diagnose(i).find((d) => d.id === id);
const retrans = () => ({ 'Tcp.RetransSegs': 4, 'TcpExt.TCPSynRetrans': 4 });

// The checksum fault: TCP across the overlay fails on a node, UDP fine, same-node fine.
const seedOn =
  (bad: string[]): Behaviour =>
  (h, role, tr, ep) => {
    if (tr === 'udp') return 5;
    if (role === 'coredns-endpoint') return ep !== h && (bad.includes(h) || bad.includes(ep!)) ? 0 : 5;
    if (role === 'coredns-service' || role === 'nodelocaldns') return bad.includes(h) ? 2 : 5;
    return 5;
  };

test('healthy: no diagnosis', (t) => {
  t.deepEqual(diagnose(build({})), []);
});

test('the checksum fault on every node: checksum-offload on all, with the ethtool fix, and --fix plans it', (t) => {
  const i = build({ ok: seedOn(HOSTS), counters: retrans });
  t.deepEqual(ids(i), ['checksum-offload']);
  const d = find(i, 'checksum-offload')!;
  t.deepEqual(d.hosts.sort(), HOSTS);
  t.true(d.fix.some((f) => f.includes('ethtool --offload vxlan.calico rx off tx off')));
  t.true(d.fix.some((f) => f.includes('ChecksumOffloadBroken=true')));
  t.true(d.evidence.some((e) => /checksum offload is on/.test(e)));
  t.true(d.evidence.some((e) => /RetransSegs/.test(e)));
  const fixes = safeFixes(diagnose(i), i);
  t.is(fixes.length, 3);
  t.true(fixes.every((f) => f.command === 'ethtool --offload vxlan.calico rx off tx off'));
});

test('the checksum fault on node3 only names node3', (t) => {
  const i = build({ ok: seedOn(['node3']), counters: (h) => (h === 'node3' ? retrans() : {}) });
  t.deepEqual(find(i, 'checksum-offload')?.hosts, ['node3']);
});

test('the checksum fault on a node hosting CoreDNS: replies from it are lost, the node is named', (t) => {
  const i = build({
    ok: seedOn(['node1']),
    counters: (h): Counters => (h === 'node1' ? {} : { 'Tcp.InCsumErrors': 3 }),
  });
  t.deepEqual(find(i, 'checksum-offload')?.hosts, ['node1']);
});

test('look-alike: TCP fails the same way but offload is already off -> not checksum-offload, says so', (t) => {
  const i = build({ ok: seedOn(HOSTS), counters: retrans, offload: false });
  t.falsy(find(i, 'checksum-offload'));
  const u = find(i, 'dns-unexplained')!;
  t.truthy(u);
  t.true(u.evidence.some((e) => /offload is already off/.test(e)));
});

test('one lost TCP probe with background retransmissions is noise, not checksum-offload', (t) => {
  const one = build({
    endpoints: null,
    ok: (h, role, tr, _ep, type) =>
      h === 'node2' && role === 'coredns-service' && tr === 'tcp' && type === 'A' ? 4 : 5,
    counters: retrans,
  });
  t.falsy(find(one, 'checksum-offload'));
  t.true(find(one, 'dns-unexplained')!.evidence.some((e) => /too few to tell from noise/.test(e)));
  const two = build({
    endpoints: null,
    ok: (h, role, tr) => (h === 'node2' && role === 'coredns-service' && tr === 'tcp' ? 4 : 5),
    counters: retrans,
  });
  t.deepEqual(find(two, 'checksum-offload')?.hosts, ['node2'], 'two lost probes on one node is a pattern');
});

test('look-alike: TCP fails but no retransmission or checksum error was counted -> not checksum-offload', (t) => {
  const i = build({ ok: seedOn(HOSTS) });
  t.falsy(find(i, 'checksum-offload'));
});

test('look-alike: TCP blocked everywhere, same-node paths too (a firewall) -> tcp-blocked, not checksum-offload', (t) => {
  const i = build({ ok: (_h, _r, tr) => (tr === 'tcp' ? 0 : 5), counters: retrans });
  t.falsy(find(i, 'checksum-offload'));
  t.deepEqual(ids(i), ['tcp-blocked']);
});

test('look-alike: TCP blocked on a CoreDNS node, its own pod too -> tcp-blocked there, not checksum-offload', (t) => {
  const i = build({ ok: (h, _r, tr) => (tr === 'tcp' && h === 'node1' ? 0 : 5), counters: retrans });
  t.falsy(find(i, 'checksum-offload'));
  t.deepEqual(find(i, 'tcp-blocked')?.hosts, ['node1']);
});

test('look-alike: CoreDNS overloaded (TCP lost here and there, even to a pod on the same node) -> not checksum-offload', (t) => {
  const i = build({
    ok: (h, role, tr, ep) =>
      tr === 'tcp' && role === 'coredns-endpoint' && (ep !== h || h === 'node1') ? (h === 'node3' ? 2 : 4) : 5,
    counters: retrans,
  });
  t.falsy(find(i, 'checksum-offload'));
  t.truthy(find(i, 'dns-unexplained')?.evidence.some((e) => /does not cross the overlay/.test(e)));
});

test('look-alike: udp blocked -> udp-blocked on those nodes only', (t) => {
  const i = build({ ok: (h, _r, tr) => (tr === 'udp' && h === 'node2' ? 0 : 5) });
  t.deepEqual(ids(i), ['udp-blocked']);
  t.deepEqual(find(i, 'udp-blocked')!.hosts, ['node2']);
});

test('look-alike: CoreDNS down everywhere -> coredns-unreachable only', (t) => {
  const i = build({
    ok: (_h, role) => (role === 'nodelocaldns' ? 0 : role === 'coredns-service' || role === 'coredns-endpoint' ? 0 : 5),
    counters: retrans,
    errors: (_h, role): Record<string, number> => (role === 'nodelocaldns' ? { timeout: 5 } : { refused: 5 }),
  });
  t.deepEqual(ids(i), ['coredns-unreachable']);
});

test('look-alike: one CoreDNS endpoint dead -> coredns-endpoint-down on its node', (t) => {
  const i = build({
    ok: (_h, role, _tr, ep) => (role === 'coredns-endpoint' && ep === 'node1' ? 0 : role === 'coredns-service' ? 3 : 5),
    counters: retrans,
  });
  t.deepEqual(ids(i), ['coredns-endpoint-down']);
  t.deepEqual(find(i, 'coredns-endpoint-down')!.hosts, ['node1']);
});

test('look-alike: node-cache rules missing -> nodelocaldns-rules-missing, not nodelocaldns-down', (t) => {
  const i = build({
    ok: (h, role) => (h === 'node2' && role === 'nodelocaldns' ? 0 : 5),
    checks: { node2: { 'nodelocaldns.iptables': 'fail' } },
    errors: () => ({ refused: 5 }),
  });
  t.deepEqual(ids(i), ['nodelocaldns-rules-missing']);
  t.deepEqual(find(i, 'nodelocaldns-rules-missing')!.hosts, ['node2']);
});

test('look-alike: the cache is dead while CoreDNS answers the node -> nodelocaldns-down', (t) => {
  const i = build({
    ok: (h, role) => (h === 'node2' && role === 'nodelocaldns' ? 0 : 5),
    errors: () => ({ refused: 5 }),
  });
  t.deepEqual(ids(i), ['nodelocaldns-down']);
  t.deepEqual(find(i, 'nodelocaldns-down')!.hosts, ['node2']);
});

test('nodelocaldns failing only because its upstream over TCP fails is not nodelocaldns-down', (t) => {
  const i = build({
    ok: (h, role, tr) => (h === 'node3' && (role === 'nodelocaldns' || tr === 'tcp') ? 0 : 5),
    counters: retrans,
  });
  t.falsy(find(i, 'nodelocaldns-down'));
});

test("the service's TCP answers came from a reachable pod while one endpoint fails: not nodelocaldns-down", (t) => {
  // checksum offload on the overlay: node2's probes of the service all landed on its own CoreDNS pod,
  // node-cache's upstream connections went to node1's across the broken overlay
  const i = build({
    ok: (h, role, tr, epNode) =>
      h === 'node2' && (role === 'nodelocaldns' || (tr === 'tcp' && role === 'coredns-endpoint' && epNode === 'node1'))
        ? 0
        : 5,
    counters: retrans,
  });
  t.falsy(find(i, 'nodelocaldns-down'), JSON.stringify(ids(i)));
});

test('look-alike: MTU -> overlay-mtu with the MTU fix', (t) => {
  const i = build({ checks: { node2: { 'overlay.mtu': 'fail' } } });
  t.deepEqual(ids(i), ['overlay-mtu']);
  t.true(find(i, 'overlay-mtu')!.fix.some((f) => f.includes('1450')));
});

test('look-alike: unreachable node -> host-unreachable with the reason, others judged normally', (t) => {
  const i = build({ down: { node3: 'connection refused by root@node3:22' } });
  t.deepEqual(ids(i), ['host-unreachable']);
  const d = find(i, 'host-unreachable')!;
  t.deepEqual(d.hosts, ['node3']);
  t.regex(d.evidence[0]!, /connection refused/);
});

test('without endpoints, TCP-only failures to the service still point at the node (with evidence)', (t) => {
  const i = build({
    endpoints: null,
    ok: (h, role, tr) => (h === 'node2' && role === 'coredns-service' && tr === 'tcp' ? 2 : 5),
    counters: (h) => (h === 'node2' ? retrans() : {}),
  });
  t.deepEqual(find(i, 'checksum-offload')?.hosts, ['node2']);
});

test('safe fixes only for checksum-offload, only on inspected hosts', (t) => {
  const i = build({ checks: { node2: { 'overlay.mtu': 'fail' } } });
  t.deepEqual(safeFixes(diagnose(i), i), []);
});

// Overlay blocked to one node: every path through its overlay dead on both transports.
const blockedOn =
  (x: string): Behaviour =>
  (h, role, _tr, ep) => {
    if (role === 'coredns-endpoint') return ep !== h && (h === x || ep === x) ? 0 : 5;
    if (role === 'coredns-service' || role === 'nodelocaldns') return h === x ? 2 : 5;
    return 5;
  };
const frozenRx =
  (x: string) =>
  (h: string): Counters =>
    h === x
      ? { 'Link.vxlan.calico.rx_packets': 0, 'Link.vxlan.calico.tx_packets': 14, 'Tcp.RetransSegs': 6 }
      : { 'Link.vxlan.calico.rx_packets': 20, 'Link.vxlan.calico.tx_packets': 18 };

test('overlay blocked to node3 (no CoreDNS pod): overlay-blocked on node3 from its frozen RX, none of the look-alikes', (t) => {
  const i = build({ ok: blockedOn('node3'), counters: frozenRx('node3') });
  t.deepEqual(ids(i), ['overlay-blocked']);
  const d = find(i, 'overlay-blocked')!;
  t.deepEqual(d.hosts, ['node3']);
  t.true(d.evidence.some((e) => /vxlan\.calico received 0 packet\(s\) and sent 14/.test(e)));
  t.true(d.evidence.some((e) => /not checksum offload/.test(e)));
  t.regex(d.fix.join('\n'), /4789\/udp/);
  t.deepEqual(safeFixes(diagnose(i), i), []);
});

test('overlay blocked to node2 (hosts a CoreDNS pod, reaches it itself): overlay-blocked on node2, not coredns-endpoint-down', (t) => {
  const i = build({ ok: blockedOn('node2'), counters: frozenRx('node2') });
  t.deepEqual(ids(i), ['overlay-blocked']);
  t.deepEqual(find(i, 'overlay-blocked')!.hosts, ['node2']);
  t.true(find(i, 'overlay-blocked')!.evidence.some((e) => /reaches its own CoreDNS pod/.test(e)));
});

test('overlay blocked by a rule found in INPUT: the rule is the evidence, even with RX counters unknown', (t) => {
  const ipt = (h: string) =>
    `*filter\n:INPUT ACCEPT [0:0]\n${h === 'node3' ? '-A INPUT -p udp -m udp --dport 4789 -j DROP\n' : ''}-A INPUT -p udp -m udp --dport 4789 -j ACCEPT\nCOMMIT\n`;
  const i = build({ ok: blockedOn('node3'), iptables: ipt });
  t.deepEqual(ids(i), ['overlay-blocked']);
  t.true(find(i, 'overlay-blocked')!.evidence.some((e) => e.includes('"-A INPUT -p udp -m udp --dport 4789 -j DROP"')));
});

test('look-alike: the same dead paths but checksum errors counted -> not overlay-blocked', (t) => {
  const i = build({
    ok: blockedOn('node3'),
    counters: (h) => ({ ...frozenRx('node3')(h), 'Udp.InCsumErrors': h === 'node1' ? 4 : 0 }),
  });
  t.falsy(find(i, 'overlay-blocked'));
});

test('look-alike: the same dead paths, RX still moving and no rule found -> not named, dns-unexplained', (t) => {
  const i = build({
    ok: blockedOn('node3'),
    counters: () => ({ 'Link.vxlan.calico.rx_packets': 9, 'Link.vxlan.calico.tx_packets': 9 }),
  });
  t.deepEqual(ids(i), ['dns-unexplained']);
});

test('ip_forward=0 on node2: ip-forward-disabled on node2, its alive pod is not called dead', (t) => {
  // the pod on node2 is unreachable from every node, node2 itself included
  const i = build({
    ok: (h, role, _tr, ep) => (role === 'coredns-endpoint' && ep === 'node2' ? 0 : role === 'coredns-service' ? 3 : 5),
    checks: { node2: { 'sysctl.forwarding': 'fail' } },
  });
  t.deepEqual(ids(i), ['ip-forward-disabled']);
  const d = find(i, 'ip-forward-disabled')!;
  t.deepEqual(d.hosts, ['node2']);
  t.true(d.evidence.some((e) => /ip_forward is 0/.test(e)));
  t.true(d.evidence.some((e) => /10\.233\.65\.1.*alive but cannot be reached/.test(e)));
  t.falsy(find(i, 'coredns-endpoint-down'));
  // the same probes without the sysctl: a dead pod
  t.deepEqual(
    ids(
      build({
        ok: (h, role, _tr, ep) =>
          role === 'coredns-endpoint' && ep === 'node2' ? 0 : role === 'coredns-service' ? 3 : 5,
      }),
    ),
    ['coredns-endpoint-down'],
  );
});

test('conntrack drops where UDP was intermittent: conntrack-drops (warn) on that node only', (t) => {
  const flakyUdp: Behaviour = (h, _role, tr) => (h === 'node1' && tr === 'udp' ? 3 : 5);
  const ct = (h: string): Counters =>
    h === 'node1' ? { 'Conntrack.insert_failed': 2 } : h === 'node2' ? { 'Conntrack.insert_failed': 5 } : {};
  const d = diagnose(build({ ok: flakyUdp, counters: ct })).find((x) => x.id === 'conntrack-drops')!;
  t.is(d.severity, 'warn');
  t.deepEqual(d.hosts, ['node1'], 'node2 counted drops but its UDP answered every probe');
  t.true(d.evidence.some((e) => /insert_failed \+2/.test(e)));
  t.falsy(
    diagnose(build({ ok: flakyUdp })).find((x) => x.id === 'conntrack-drops'),
    'no counter rise, no conntrack-drops',
  );
});

test('a dead endpoint behind the service: random DNAT losing UDP on one path is not read as udp-blocked', (t) => {
  // node2's pod unreachable (ip_forward=0 there): node3's UDP queries through the service and
  // NodeLocalDNS happened to land on it every time, its TCP ones on the live pod
  const i = build({
    ok: (h, role, tr, ep) =>
      role === 'coredns-endpoint' && ep === 'node2'
        ? 0
        : role !== 'coredns-endpoint' && h === 'node3' && tr === 'udp'
          ? 0
          : role !== 'coredns-endpoint' && tr === 'tcp' && h !== 'node3'
            ? 3
            : 5,
    checks: { node2: { 'sysctl.forwarding': 'fail' } },
  });
  t.deepEqual(ids(i), ['ip-forward-disabled']);
});
