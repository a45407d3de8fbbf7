// The late reading of the CoreDNS pods' namespaces: only when a UDP probe across the overlay lost
// what its TCP twin did not, only on nodes hosting CoreDNS endpoints whose probe program read them,
// filed as the end of their window; a failure leaves the first reading.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recountPodNamespaces, udpLostAcrossOverlay, type RecountState } from '../../src/run/recount.js';
import { parsePodCounters, podKey, counterDelta } from '../../src/collect/counters.js';
import { podCountersScript } from '../../src/probe/program.js';
import type { EndpointLookup } from '../../src/checks/module.js';
import type { ExecOptions, ExecResult, NodeSession, ProbeResult, Target } from '../../src/types.js';
import { CLUSTER } from './model.js';
import { ROOT } from '../e2e/helpers.js';

const snmp = readFileSync(join(ROOT, 'test', 'fixtures', 'collect', 'proc-net-snmp.txt'), 'utf8')
  .split('\n')
  .filter((l) => /^(Tcp|Udp):/.test(l));
/** the Tcp/Udp lines with Udp.InCsumErrors set to n */
const withCsum = (n: number) => {
  const head = snmp.find((l) => l.startsWith('Udp:') && /InCsumErrors/.test(l))!.split(/\s+/);
  const i = head.indexOf('InCsumErrors');
  return snmp
    .map((l) =>
      l.startsWith('Udp:') && !/InCsumErrors/.test(l)
        ? l
            .split(/\s+/)
            .map((v, j) => (j === i ? String(n) : v))
            .join(' ')
        : l,
    )
    .join('\n');
};
const LOOKUP: EndpointLookup = {
  endpoints: [
    { ip: '10.233.64.1', port: 53, nodeName: 'node1', podName: 'a', ready: true },
    { ip: '10.233.65.1', port: 53, nodeName: 'node2', podName: 'b', ready: true },
  ],
  error: null,
  askedOn: 'node1',
  tried: [],
};
const CL = { ...CLUSTER, podsSubnets: ['10.233.64.0/18'] };

function probe(
  host: string,
  server: string,
  role: ProbeResult['role'],
  transport: ProbeResult['transport'],
  ok: number,
): ProbeResult {
  return {
    host,
    server,
    role,
    transport,
    name: 'kubernetes.default.svc.cluster.local',
    type: 'A',
    sent: 3,
    answered: ok,
    ok,
    internal: true,
    rcodes: ok ? { NOERROR: ok } : {},
    latencyMs: { p50: null, max: null },
  };
}

function state(
  name: string,
  reply: ExecResult | Error | null,
  probes: ProbeResult[] = [],
  python = true,
): RecountState & { ran: string[] } {
  const ran: string[] = [];
  const session: NodeSession = {
    target: { name } as Target,
    exec: async (command: string, opts?: ExecOptions) => {
      ran.push(`${opts?.label}: ${command.split(' ').slice(0, 4).join(' ')}`);
      if (reply instanceof Error) throw reply;
      return reply ?? { code: 0, stdout: '', stderr: '' };
    },
    close() {},
  };
  const ip = name === 'node1' ? '10.233.64.1' : name === 'node2' ? '10.233.65.1' : null;
  const first: Record<string, number> = python && ip ? { 'Netns.pods': 1, [podKey(ip, 'Udp.InCsumErrors')]: 0 } : {};
  return {
    target: { name } as Target,
    session,
    error: null,
    before: { 'Udp.InCsumErrors': 0, ...first },
    after: { 'Udp.InCsumErrors': 0, ...first },
    probes,
    ran,
  };
}

// node3's UDP across the overlay is lost, TCP answers
const udpLost = [
  probe('node3', '10.233.64.1', 'coredns-endpoint', 'udp', 0),
  probe('node3', '10.233.64.1', 'coredns-endpoint', 'tcp', 3),
];

test('needed only when UDP across the overlay lost what TCP did not', (t) => {
  t.true(udpLostAcrossOverlay(udpLost, LOOKUP));
  t.false(
    udpLostAcrossOverlay(
      [
        probe('node1', '10.233.64.1', 'coredns-endpoint', 'udp', 0),
        probe('node1', '10.233.64.1', 'coredns-endpoint', 'tcp', 3),
      ],
      LOOKUP,
    ),
    "the node's own pod: no overlay crossed",
  );
  t.false(
    udpLostAcrossOverlay(
      [
        probe('node3', '10.233.64.1', 'coredns-endpoint', 'udp', 0),
        probe('node3', '10.233.64.1', 'coredns-endpoint', 'tcp', 0),
      ],
      LOOKUP,
    ),
    'both transports dead: not this',
  );
  t.false(
    udpLostAcrossOverlay(
      [
        probe('node3', '169.254.25.10', 'nodelocaldns', 'udp', 0),
        probe('node3', '169.254.25.10', 'nodelocaldns', 'tcp', 3),
      ],
      LOOKUP,
    ),
  );
  t.true(
    udpLostAcrossOverlay(
      [
        probe('node3', '10.233.0.3', 'coredns-service', 'udp', 1),
        probe('node3', '10.233.0.3', 'coredns-service', 'tcp', 3),
      ],
      LOOKUP,
    ),
  );
});

test("the pods' hosts read again; the later reading ends the window for the pod counters and is marked", async (t) => {
  const late = {
    code: 0,
    stdout: ['@@value Netns.pods', '1', '@@rc 0', '@@podsnmp 10.233.64.1', withCsum(4), '@@rc 0'].join('\n'),
    stderr: '',
  };
  const s1 = state('node1', late);
  const s2 = state('node2', {
    code: 0,
    stdout: ['@@value Netns.pods', '1', '@@rc 0', '@@podsnmp 10.233.65.1', withCsum(2), '@@rc 0'].join('\n'),
    stderr: '',
  });
  const s3 = state('node3', null, udpLost);
  await recountPodNamespaces([s1, s2, s3], LOOKUP, CL);
  t.deepEqual(s3.ran, [], 'node3 hosts no CoreDNS pod');
  t.deepEqual(s1.ran, ['podcounters: python3 -I -S -c']);
  const d = counterDelta(s1.before!, s1.after!);
  t.is(d[podKey('10.233.64.1', 'Udp.InCsumErrors')], 4);
  t.is(d['Netns.recounted'], 1);
  t.is(d['Udp.InCsumErrors'], 0, "the node's own counters keep their window");
  t.is(counterDelta(s2.before!, s2.after!)[podKey('10.233.65.1', 'Udp.InCsumErrors')], 2);
});

test('not run on a healthy cluster, nor where the probe program read no pod namespace (bash fallback), nor without kube_pods_subnet; failures leave the first reading', async (t) => {
  const healthy = [
    state('node1', null, [
      probe('node3', '10.233.64.1', 'coredns-endpoint', 'udp', 3),
      probe('node3', '10.233.64.1', 'coredns-endpoint', 'tcp', 3),
    ]),
    state('node2', null),
  ];
  await recountPodNamespaces(healthy, LOOKUP, CL);
  t.deepEqual(
    healthy.flatMap((s) => s.ran),
    [],
  );
  const bash = [state('node1', null, [], false), state('node3', null, udpLost)];
  await recountPodNamespaces(bash, LOOKUP, CL);
  t.deepEqual(
    bash.flatMap((s) => s.ran),
    [],
  );
  const nosub = [state('node1', null), state('node3', null, udpLost)];
  await recountPodNamespaces(nosub, LOOKUP, { ...CL, podsSubnets: [] });
  t.deepEqual(
    nosub.flatMap((s) => s.ran),
    [],
  );
  const broken = [
    state('node1', new Error('channel closed')),
    state('node2', { code: 127, stdout: '', stderr: 'python3: not found' }),
    state('node3', null, udpLost),
  ];
  const before = structuredClone(broken.map((s) => s.after));
  await recountPodNamespaces(broken, LOOKUP, CL);
  t.deepEqual(
    broken.map((s) => s.after),
    before,
  );
});

test('the late-reading command: python3 only, the subnets validated and quoted; its output parsed to the pod keys only', (t) => {
  const sh = podCountersScript(['10.233.64.0/18', '$(reboot)']);
  t.regex(sh, /^python3 -I -S -c '/);
  t.regex(sh, / 10\.233\.64\.0\/18$/);
  t.notRegex(sh, /reboot/);
  t.deepEqual(
    Object.keys(
      parsePodCounters(['@@snmp', 'Udp: A', 'Udp: 1', '@@rc 0', '@@value Netns.pods', '0', '@@rc 0'].join('\n')),
    ),
    ['Netns.pods'],
  );
  t.deepEqual(parsePodCounters('garbage'), {});
});
