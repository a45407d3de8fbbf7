// pod-to-host-blocked on hand-built evidence: the probes from a pod's network namespace, the node's
// own probes and its iptables rules (iptables-save text, parsed as on a node). The look-alikes
// (the node does not route, node-cache's rules missing, NodeLocalDNS down, no rule found) and the
// node's own CoreDNS pod, whose replies the same rule drops, never named a dead pod.
import test from 'ava';
import { diagnose } from '../../src/diagnose/index.js';
import { parseIptablesSave } from '../../src/collect/iptables.js';
import type {
  CheckResult,
  ClusterModel,
  DiagnoseInput,
  IptablesRule,
  NodeFacts,
  ProbeResult,
  ProbeRole,
  Transport,
} from '../../src/types.js';
import { CLUSTER, EPS, HOSTS, probeOf } from './model.js';

// the pod probed from on each node: node1's and node2's CoreDNS pods (as in the lab); none on node3
const POD: Record<string, { ip: string; ns: string; hostIf: string } | undefined> = {
  node1: { ip: '10.233.64.1', ns: 'cni-0c4ca1b2-0000-4000-8000-000000000001', hostIf: 'cali1111111111a' },
  node2: { ip: '10.233.65.1', ns: 'cni-0c4ca1b2-0000-4000-8000-000000000002', hostIf: 'cali2222222222b' },
};

// node-cache's rules and a hardened INPUT chain, as iptables-nft-save prints them
const BASE = [
  '*raw',
  ':PREROUTING ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  '-A PREROUTING -d 169.254.25.10/32 -p udp -m udp --dport 53 -m comment --comment "NodeLocal DNS Cache: skip conntrack" -j NOTRACK',
  '-A PREROUTING -d 169.254.25.10/32 -p tcp -m tcp --dport 53 -m comment --comment "NodeLocal DNS Cache: skip conntrack" -j NOTRACK',
  'COMMIT',
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  '%DECL%',
  '%INPUT%',
  '-A INPUT -d 169.254.25.10/32 -p udp -m udp --dport 53 -m comment --comment "NodeLocal DNS Cache: allow DNS traffic" -j ACCEPT',
  '-A INPUT -d 169.254.25.10/32 -p tcp -m tcp --dport 53 -m comment --comment "NodeLocal DNS Cache: allow DNS traffic" -j ACCEPT',
  '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT',
  '-A INPUT -j REJECT --reject-with icmp-port-unreachable',
  '%CHAINS%',
  'COMMIT',
  '',
].join('\n');
/** the base rules with `input` first in INPUT and user chains (`-A <chain> …` lines) declared and appended */
const rules = (input: string[] = [], chains: string[] = []) => {
  const names = [...new Set(chains.map((l) => l.split(' ')[1]!))];
  return BASE.replace('%DECL%', names.map((n) => `:${n} - [0:0]`).join('\n'))
    .replace('%INPUT%', input.join('\n'))
    .replace('%CHAINS%', chains.join('\n'));
};
const LAB_DROP = rules(['-A INPUT -i cali+ -j DROP']);

interface Scenario {
  /** good answers out of 5 per probe */
  ok?: (host: string, from: 'host' | 'pod', role: ProbeRole, tr: Transport, epNode: string | null) => number;
  iptables?: (host: string) => string;
  /** why the probes that failed failed (default timeout) */
  error?: (host: string, from: 'host' | 'pod', role: ProbeRole) => string;
  checks?: Record<string, Record<string, CheckResult['status']>>;
  cluster?: Partial<ClusterModel>;
  inspected?: string[];
}

/** the pod on node2 gets nothing from NodeLocalDNS; node2's own probes to its pod get no reply */
const blockedOn =
  (bad: string): Scenario['ok'] =>
  (h, from, role, _tr, ep) => {
    if (h !== bad) return 5;
    if (from === 'pod') return role === 'nodelocaldns' ? 0 : 5;
    if (role === 'coredns-endpoint') return ep === h ? 0 : 5;
    if (role === 'coredns-service') return 3;
    return 5;
  };

function build(s: Scenario): DiagnoseInput {
  const ok = s.ok ?? (() => 5);
  const inspected = s.inspected ?? HOSTS;
  const hosts = inspected.map((h) => ({
    name: h,
    address: `192.0.2.${HOSTS.indexOf(h) + 10}`,
    inspected: true,
    error: null,
  }));
  const probes: ProbeResult[] = [];
  const results: CheckResult[] = [];
  const facts: Record<string, NodeFacts> = {};
  for (const h of inspected) {
    const pod = POD[h];
    for (const from of pod ? (['host', 'pod'] as const) : (['host'] as const)) {
      const mk = (
        role: ProbeRole,
        server: string,
        tr: Transport,
        name: string,
        type: string,
        epNode: string | null,
      ) => {
        const n = Math.max(0, Math.min(5, ok(h, from, role, tr, epNode)));
        probes.push({
          ...probeOf({ host: h, server, role, transport: tr, name, type, endpointHost: epNode }, n, {
            [s.error?.(h, from, role) ?? 'timeout']: 5 - n,
          }),
          from,
          ...(from === 'pod' ? { netns: pod!.ns, podIp: pod!.ip } : {}),
        });
      };
      for (const tr of ['udp', 'tcp'] as const) {
        mk('nodelocaldns', '169.254.25.10', tr, 'kubernetes.default.svc.cluster.local', 'A', null);
        mk('coredns-service', '10.233.0.3', tr, 'kubernetes.default.svc.cluster.local', 'A', null);
        for (const e of EPS) mk('coredns-endpoint', e.ip, tr, 'kubernetes.default.svc.cluster.local', 'A', e.nodeName);
      }
    }
    facts[h] = {
      host: h,
      kernel: '6.1',
      links: [],
      counters: {},
      offload: { 'vxlan.calico': { features: { 'tx-checksumming': { on: true, fixed: false } } } },
      iptables: { backends: ['nft'], rules: parseIptablesSave(s.iptables?.(h) ?? rules(), 'nft') as IptablesRule[] },
      podProbe: pod
        ? { netns: { name: pod.ns, pid: 4242, addresses: [pod.ip], hostIf: pod.hostIf }, skipped: null, error: null }
        : { netns: null, skipped: 'no pod network namespace on this node', error: null },
    };
    for (const id of ['nodelocaldns.iptables', 'nodelocaldns.interface', 'sysctl.forwarding']) {
      const st = s.checks?.[h]?.[id] ?? 'pass';
      results.push({
        check: id,
        host: h,
        status: st,
        summary: `${id} ${st}`,
        evidence: id === 'sysctl.forwarding' ? { 'net.ipv4.ip_forward': st === 'fail' ? '0' : '1' } : {},
      });
    }
    for (const from of ['host', 'pod'] as const)
      for (const role of ['nodelocaldns', 'coredns-service', 'coredns-endpoint'] as const)
        for (const tr of ['udp', 'tcp'] as const) {
          const ps = probes.filter((p) => p.host === h && p.from === from && p.role === role && p.transport === tr);
          if (ps.length)
            results.push({
              check: `dns.${from === 'pod' ? 'pod.' : ''}${role}.${tr}`,
              host: h,
              status: ps.every((p) => p.ok === p.sent) ? 'pass' : 'fail',
              summary: '',
              evidence: {},
            });
        }
  }
  return {
    cluster: { ...CLUSTER, podsSubnets: ['10.233.64.0/18'], ...s.cluster },
    hosts,
    results,
    probes,
    facts,
    counterDeltas: {},
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

test('healthy, pods and nodes alike: no diagnosis', (t) => {
  t.deepEqual(diagnose(build({ iptables: () => rules() })), []);
});

test('pod interfaces dropped in INPUT on node2: pod-to-host-blocked on node2 only, the rule named, the own-pod failures explained', (t) => {
  const i = build({ ok: blockedOn('node2'), iptables: (h) => (h === 'node2' ? LAB_DROP : rules()) });
  t.deepEqual(failing(i), ['pod-to-host-blocked']);
  const d = find(i, 'pod-to-host-blocked')!;
  t.deepEqual(d.hosts, ['node2']);
  t.true(
    d.evidence.some((e) =>
      e.includes('"-A INPUT -i cali+ -j DROP" (nft, filter INPUT) drops udp/53 and tcp/53 arriving on cali2222222222b'),
    ),
    d.evidence.join('\n'),
  );
  t.true(
    d.evidence.some((e) =>
      /from the pod 10\.233\.65\.1 \(network namespace cni-0c4ca1b2-0000-4000-8000-000000000002, behind cali2222222222b\), NodeLocalDNS 169\.254\.25\.10 answered 0\/10/.test(
        e,
      ),
    ),
  );
  t.true(d.evidence.some((e) => /the node itself gets answers from NodeLocalDNS: 10\/10/.test(e)));
  t.true(
    d.evidence.some((e) => /its own probes to its CoreDNS pod 10\.233\.65\.1 \(coredns-b\) fail too \(0\/10\)/.test(e)),
  );
  t.true(d.fix.some((f) => f.includes('calico_endpoint_to_host_action: "ACCEPT"')));
  const allow = d.remediations.filter((r) => r.argv);
  t.deepEqual(
    allow.map((r) => r.argv!.join(' ')),
    ['udp', 'tcp'].map((p) => `iptables -I INPUT 1 -i cali+ -d 169.254.25.10/32 -p ${p} -m ${p} --dport 53 -j ACCEPT`),
  );
  t.true(
    allow.every((r) => !r.safe && r.hosts?.join() === 'node2'),
    '--fix never opens a firewall by itself',
  );
});

test('--limit node2 (the only client of its own pod): its pod is not called dead', (t) => {
  const i = build({ ok: blockedOn('node2'), iptables: () => LAB_DROP, inspected: ['node2'] });
  t.deepEqual(failing(i), ['pod-to-host-blocked']);
});

test("REJECT, a jump to a chain that drops, and a rule for the one interface count; a drop after node-cache's ACCEPT does not", (t) => {
  for (const [why, ipt] of [
    ['REJECT on cali+', rules(['-A INPUT -i cali+ -j REJECT --reject-with icmp-port-unreachable'])],
    [
      'a jump to a dropping chain',
      rules(['-A INPUT -j KSV-PODS'], ['-A KSV-PODS -i lo -j RETURN', '-A KSV-PODS -i cali+ -j DROP']),
    ],
    ["the pod's own interface", rules(['-A INPUT -i cali2222222222b -j DROP'])],
  ] as const) {
    const i = build({ ok: blockedOn('node2'), iptables: (h) => (h === 'node2' ? ipt : rules()) });
    t.deepEqual(failing(i), ['pod-to-host-blocked'], why);
  }
  const after = build({
    ok: blockedOn('node2'),
    iptables: () => rules().replace('-A INPUT -j REJECT', '-A INPUT -i cali+ -j DROP\n-A INPUT -j REJECT'),
  });
  t.falsy(find(after, 'pod-to-host-blocked'), 'node-cache ACCEPTs it first: not the cause');
  t.true(
    find(after, 'dns-unexplained')!.evidence.some((e) =>
      /node2: its pods get no answer from NodeLocalDNS while the node does .*but: no rule or policy that drops pod traffic to 169\.254\.25\.10 was found on node2/.test(
        e,
      ),
    ),
  );
});

test('a rule for another interface, or one that may not match (a set, a mark ahead of it), is not read as the drop', (t) => {
  for (const input of [
    ['-A INPUT -i cali9999999999z -j DROP'],
    ['-A INPUT -i cali+ -m set --match-set bad src -j DROP'],
    ['-A INPUT -m mark --mark 0x10000/0x10000 -j ACCEPT', '-A INPUT -i cali+ -j DROP'],
  ]) {
    const i = build({ ok: blockedOn('node2'), iptables: () => rules(input) });
    t.falsy(find(i, 'pod-to-host-blocked'), input.join(' | '));
    t.deepEqual(failing(i), ['dns-unexplained'], input.join(' | '));
  }
});

test("Felix's workload-to-host chain: walked through its jumps and gotos, or named by its DefaultEndpointToHostAction DROP where the way there cannot be judged", (t) => {
  const chains = [
    '-A cali-INPUT -i cali+ -m comment --comment "cali:FewJpBykm9iJ-YNH" -g cali-wl-to-host',
    '-A cali-INPUT -m mark --mark 0x10000/0x10000 -m comment --comment "cali:hder3ARWznqqv8Va" -j ACCEPT',
    '-A cali-wl-to-host -m comment --comment "cali:Ee9Sbo10IpVujdIY" -j cali-from-wl-dispatch',
    '-A cali-wl-to-host -m comment --comment "cali:nSZbcOoG1xPONxb8" -m comment --comment "Configured DefaultEndpointToHostAction" -j DROP',
    '-A cali-from-wl-dispatch -i cali2222222222b -m comment --comment "cali:x" -g cali-fw-cali2222222222b',
    '-A cali-from-wl-dispatch -m comment --comment "cali:y" -m comment --comment "Unknown interface" -j DROP',
    '-A cali-fw-cali2222222222b -m comment --comment "cali:z" -j MARK --set-xmark 0x0/0x10000',
    '-A cali-fw-cali2222222222b -m comment --comment "cali:p" -j cali-pro-kns.kube-system',
    '-A cali-fw-cali2222222222b -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN',
    '-A cali-fw-cali2222222222b -m comment --comment "Drop if no profiles matched" -j DROP',
    '-A cali-pro-kns.kube-system -m comment --comment "cali:q" -j MARK --set-xmark 0x10000/0x10000',
    '-A cali-pro-kns.kube-system -m comment --comment "cali:r" -m mark --mark 0x10000/0x10000 -j RETURN',
  ];
  const jump = '-A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT';
  const walked = build({ ok: blockedOn('node2'), iptables: (h) => (h === 'node2' ? rules([jump], chains) : rules()) });
  t.deepEqual(failing(walked), ['pod-to-host-blocked']);
  t.true(
    find(walked, 'pod-to-host-blocked')!.evidence.some((e) =>
      /Configured DefaultEndpointToHostAction.* -j DROP" \(nft, filter INPUT via cali-INPUT → cali-wl-to-host\)/.test(
        e,
      ),
    ),
    find(walked, 'pod-to-host-blocked')!.evidence.join('\n'),
  );
  // a rule ahead of it that may accept (a mark): the walk cannot tell, Felix's setting can
  const unsure = build({
    ok: blockedOn('node2'),
    iptables: (h) => (h === 'node2' ? rules(['-A INPUT -m mark --mark 0x1/0x1 -j ACCEPT', jump], chains) : rules()),
  });
  t.deepEqual(failing(unsure), ['pod-to-host-blocked']);
  t.true(
    find(unsure, 'pod-to-host-blocked')!.evidence.some((e) =>
      /Felix drops what workloads send to the host: .*Configured DefaultEndpointToHostAction.* -j DROP/.test(e),
    ),
  );
  // DefaultEndpointToHostAction ACCEPT (Kubespray's advice): nothing to name
  const accept = build({
    ok: blockedOn('node2'),
    iptables: () =>
      rules(
        [jump],
        chains.map((l) =>
          l.replace(
            '"Configured DefaultEndpointToHostAction" -j DROP',
            '"Configured DefaultEndpointToHostAction" -j ACCEPT',
          ),
        ),
      ),
  });
  t.falsy(find(accept, 'pod-to-host-blocked'));
});

test('calico_endpoint_to_host_action: DROP in the inventory is the policy found', (t) => {
  const i = build({ ok: blockedOn('node2'), cluster: { calicoEndpointToHostAction: 'DROP' } });
  t.deepEqual(find(i, 'pod-to-host-blocked')?.hosts, ['node2']);
  t.true(find(i, 'pod-to-host-blocked')!.evidence.some((e) => /calico_endpoint_to_host_action: "DROP"/.test(e)));
  t.falsy(
    find(build({ ok: blockedOn('node2'), cluster: { calicoEndpointToHostAction: 'RETURN' } }), 'pod-to-host-blocked'),
  );
});

test('look-alikes: a node that does not route, missing node-cache rules, a dead NodeLocalDNS', (t) => {
  const fwd = build({
    ok: blockedOn('node2'),
    iptables: () => LAB_DROP,
    checks: { node2: { 'sysctl.forwarding': 'fail' } },
  });
  t.deepEqual(failing(fwd), ['ip-forward-disabled']);
  const missing = build({
    ok: blockedOn('node2'),
    iptables: () => LAB_DROP,
    checks: { node2: { 'nodelocaldns.iptables': 'fail' } },
  });
  t.falsy(find(missing, 'pod-to-host-blocked'));
  t.true(failing(missing).includes('nodelocaldns-rules-missing'));
  // NodeLocalDNS gone on node2 (nothing listens: refused), and the rule: the node's own failures are not the rule's
  const deadOk = (h: string, from: 'host' | 'pod', role: ProbeRole, tr: Transport, ep: string | null) =>
    h === 'node2' && role === 'nodelocaldns' ? 0 : blockedOn('node2')!(h, from, role, tr, ep);
  const down = build({
    ok: deadOk,
    iptables: () => LAB_DROP,
    error: (h, _f, role) => (h === 'node2' && role === 'nodelocaldns' ? 'refused' : 'timeout'),
  });
  t.falsy(find(down, 'pod-to-host-blocked'), 'the node gets nothing from NodeLocalDNS either, refused: not this');
  t.true(failing(down).includes('nodelocaldns-down'));
  const gone = build({ ok: deadOk, iptables: () => LAB_DROP, checks: { node2: { 'nodelocaldns.interface': 'fail' } } });
  t.falsy(find(gone, 'pod-to-host-blocked'), 'its interface is gone: not this');
});

test("node-cache's own upstream sticks to the CoreDNS pod on its node, whose replies the rule drops: the node's own queries time out too, and that is explained", (t) => {
  const sticky = (h: string, from: 'host' | 'pod', role: ProbeRole, tr: Transport, ep: string | null) =>
    h === 'node2' && role === 'nodelocaldns' ? 0 : blockedOn('node2')!(h, from, role, tr, ep);
  const i = build({ ok: sticky, iptables: (h) => (h === 'node2' ? LAB_DROP : rules()) });
  t.deepEqual(failing(i), ['pod-to-host-blocked']);
  const d = find(i, 'pod-to-host-blocked')!;
  t.deepEqual(d.hosts, ['node2']);
  t.true(
    d.evidence.some((e) =>
      /node2: the node's own queries to NodeLocalDNS fail too \(0\/10\): it forwards to the CoreDNS service, and the replies of the CoreDNS pod\(s\) on node2 \(10\.233\.65\.1 \(coredns-b\)\) are dropped by the same rule/.test(
        e,
      ),
    ),
    d.evidence.join('\n'),
  );
});

test('pods that reach NodeLocalDNS in part are not blocked', (t) => {
  const i = build({
    ok: (h, from, role) => (h === 'node2' && from === 'pod' && role === 'nodelocaldns' ? 2 : 5),
    iptables: () => LAB_DROP,
  });
  t.falsy(find(i, 'pod-to-host-blocked'));
});
