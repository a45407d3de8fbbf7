// kube-proxy.ipvs on IPVS tables printed in public reports (test/fixtures/ipvs/README.md) and on
// hand-made variants of them; the reader's shell run on those files; kube-proxy's nftables mode
// read from a recorded bundle whose nodes have no KUBE-SERVICES chain.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import check, {
  corednsIpvs,
  fullIpv6,
  ipvsReader,
  procKeys,
  type IpvsFacts,
} from '../../src/checks/kube-proxy-ipvs.js';
import { emitter, type EndpointLookup } from '../../src/checks/module.js';
import { kubeProxyLook } from '../../src/diagnose/coredns-unreachable.js';
import { parseProcIpVs, type IpvsTable } from '../../src/collect/ipvs.js';
import { parseProcIpVsConn } from '../../src/collect/ipvs-conn.js';
import { splitSections } from '../../src/collect/sections.js';
import { replay } from '../../src/validate.js';
import type { Bundle } from '../../src/record/bundle.js';
import type { ClusterModel, DiagnoseInput, Endpoint, LinkFacts, NodeFacts, ProbeResult } from '../../src/types.js';
import { ipvsStaleBackend } from '../../src/diagnose/ipvs-stale-backend.js';
import { View } from '../../src/diagnose/view.js';
import { isParseError } from '../../src/types.js';
import { CLUSTER } from './model.js';
import { ROOT } from '../e2e/helpers.js';

const fx = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'ipvs', f), 'utf8');
const IPVS: ClusterModel = { ...CLUSTER, kubeProxyMode: 'ipvs', corednsIp: '10.233.0.3' };
const ep = (ip: string): Endpoint => ({ ip, port: 53, nodeName: null, podName: null, ready: true });
const lookup = (ips: string[]): EndpointLookup => ({
  endpoints: ips.map(ep),
  error: null,
  askedOn: 'node1',
  tried: [],
});
const link = (addresses: string[]): LinkFacts => ({
  name: 'kube-ipvs0',
  kind: 'dummy',
  up: false,
  operstate: 'DOWN',
  mtu: 1500,
  parent: null,
  addresses,
});
const table = (text: string) => {
  const t = parseProcIpVs(text);
  if (isParseError(t)) throw new Error(t.parseError);
  return t;
};
const facts = (
  t: IpvsTable,
  conns = 'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n',
) =>
  ({
    loaded: true,
    table: t,
    conns: parseProcIpVsConn(conns),
    connsTruncated: false,
    sysctls: {
      present: true,
      conntrack: 1,
      connReuseMode: 0,
      expireNodestConn: 1,
      expireQuiescentTemplate: null,
      all: {},
    },
  }) satisfies IpvsFacts;

/** kubespray#4357's CoreDNS TCP service, with its UDP twin (ipvsadm printed only the TCP one). */
const KUBESPRAY = (() => {
  const t = fx('kubespray-4357-proc-net-ip_vs.txt');
  const tcp = t.slice(t.indexOf('TCP  0AE90003:0035'), t.indexOf('TCP  0AE90003:23C1'));
  return t + tcp.replace('TCP ', 'UDP ');
})();
/** kubernetes#76664's UDP service (lc, the replaced pod at weight 0 with 1 InActConn) and flows, as
 *  they would read for the CoreDNS service: the service address and port swapped for 10.233.0.3:53. */
const swap = (s: string) => s.replaceAll('C0A87F59:0202', '0AE90003:0035').replaceAll(':0202', ':0035');
const K76664 = swap(fx('kubernetes-76664-proc-net-ip_vs.txt'));
const K76664_CONN = fx('kubernetes-76664-proc-net-ip_vs_conn.txt')
  .replaceAll('C0A87F59 0202', '0AE90003 0035')
  .replaceAll(' 0202 ', ' 0035 ');

function evaluate(
  f: Partial<NodeFacts>,
  cluster: ClusterModel = IPVS,
  eps: EndpointLookup = lookup(['10.233.80.3', '10.233.96.3']),
) {
  return check.evaluate(
    {
      host: 'node1',
      cluster,
      connection: { ok: true, error: null, address: 'node1', port: 22, user: 'root', become: false },
      facts: {
        host: 'node1',
        kernel: null,
        links: [],
        iptables: { backends: [], rules: [] },
        offload: {},
        counters: {},
        ...f,
      },
      probes: [],
      counterDelta: null,
      endpoints: eps,
    },
    emitter(),
  );
}

test('procKeys: the service and flow keys as the kernel prints them (v4 hex, v6 every group)', (t) => {
  t.deepEqual(procKeys('10.233.0.3', 53), { service: '0AE90003:0035', conn: ' 0AE90003 0035 ' });
  t.is(fullIpv6('fd00::a'), 'fd00:0000:0000:0000:0000:0000:0000:000a');
  t.is(fullIpv6('fd85:ee78:d8a6:8607::1:3'), 'fd85:ee78:d8a6:8607:0000:0000:0001:0003');
  t.is(procKeys('fd00::a', 53).service, '[fd00:0000:0000:0000:0000:0000:0000:000a]:0035');
});

test('reader: nothing outside IPVS mode; its shell cuts the CoreDNS service out of real tables', (t) => {
  t.is(ipvsReader.script({ cluster: { ...IPVS, kubeProxyMode: 'iptables' } }), '');
  t.is(ipvsReader.parse([], { cluster: { ...IPVS, kubeProxyMode: 'nftables' } }), null);
  const script = ipvsReader.script({ cluster: IPVS });
  t.is(spawnSync('sh', ['-n'], { input: script }).status, 0);
  // run it on the fixtures in place of /proc/net (the same awk and grep the node runs)
  const dir = mkdtempSync(join(tmpdir(), 'ksv-ipvs-'));
  try {
    writeFileSync(join(dir, 'ip_vs'), fx('kubespray-4357-proc-net-ip_vs.txt'));
    writeFileSync(join(dir, 'ip_vs_conn'), K76664_CONN);
    const out = spawnSync('sh', [], {
      input: script.replaceAll('/proc/net/ip_vs', join(dir, 'ip_vs')),
      encoding: 'utf8',
    });
    const f = ipvsReader.parse(splitSections(out.stdout), { cluster: IPVS }) as IpvsFacts;
    t.true(f.loaded);
    const tb = f.table as IpvsTable;
    // only the CoreDNS service of the seven: its TCP entry (ipvsadm printed no UDP one)
    t.deepEqual(
      tb.services.map((s) => `${s.protocol} ${s.address}:${s.port} ${s.realServers.length}`),
      ['TCP 10.233.0.3:53 2'],
    );
    const conns = f.conns as { conns: unknown[] };
    t.is(conns.conns.length, 2);
    t.false(f.connsTruncated);
    // no ip_vs module: "@@rc 2", a fact
    const none = spawnSync('sh', [], {
      input: script.replaceAll('/proc/net/ip_vs', join(dir, 'nothing')),
      encoding: 'utf8',
    });
    t.like(ipvsReader.parse(splitSections(none.stdout), { cluster: IPVS }), { loaded: false, table: null });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kube-proxy.ipvs: the CoreDNS service of kubespray#4357 over both transports, kube-ipvs0 with the address: pass', (t) => {
  const [r] = evaluate({ ipvs: facts(table(KUBESPRAY)), links: [link(['10.233.0.1/32', '10.233.0.3/32'])] });
  t.is(r!.status, 'pass', r!.summary);
  t.regex(r!.summary, /2 real server\(s\), exactly the CoreDNS endpoints/);
  t.deepEqual(r!.evidence.endpoints, ['10.233.80.3:53', '10.233.96.3:53']);
});

test('kube-proxy.ipvs: kubespray#4357 as printed has no UDP service: fail', (t) => {
  const [r] = evaluate({
    ipvs: facts(table(fx('kubespray-4357-proc-net-ip_vs.txt'))),
    links: [link(['10.233.0.3/32'])],
  });
  t.is(r!.status, 'fail');
  t.is(r!.summary, 'no IPVS virtual service UDP 10.233.0.3:53: kube-proxy did not add it');
  t.regex(r!.remediation!.text, /rollout restart daemonset kube-proxy/);
});

test('kube-proxy.ipvs: kubernetes#76664 — the replaced pod at weight 0 with a flow still pinned: warn, with its counts', (t) => {
  const s = corednsIpvs(facts(table(K76664), K76664_CONN), [link(['10.233.0.3/32'])], '10.233.0.3', [
    ep('192.168.128.193'),
  ]);
  t.deepEqual(
    s.faults.map((f) => [f.kind, f.severity]),
    [
      ['stale-draining', 'warn'],
      ['no-service', 'fail'],
    ],
  );
  const stale = s.faults[0] as { server: { address: string; weight: number; inactConn: number; flows: number } };
  t.like(stale.server, { address: '192.168.129.116', weight: 0, inactConn: 1, flows: 1 });
  t.deepEqual(s.flows, { '192.168.129.116': 1, '192.168.128.193': 1 });
  // the same table with the endpoint unknown: servers are not told apart, nothing called stale
  const blind = corednsIpvs(facts(table(K76664), K76664_CONN), [link(['10.233.0.3/32'])], '10.233.0.3', null);
  t.false(blind.faults.some((f) => f.kind === 'stale-draining'));
  t.false(blind.endpointsKnown);
});

test('kube-proxy.ipvs: a gone pod at weight 1, a service with no real server, kube-ipvs0 without the address', (t) => {
  const stale = KUBESPRAY.replaceAll('0AE96003:0035', '0AE96009:0035');
  const [a] = evaluate({ ipvs: facts(table(stale)), links: [link(['10.233.0.3/32'])] });
  t.is(a!.status, 'fail');
  t.regex(a!.summary, /sends new flows to 10\.233\.96\.9:53, which is not a CoreDNS endpoint/);
  t.true((a!.evidence.faults as string[]).some((x) => /lacks the CoreDNS endpoint 10\.233\.96\.3/.test(x)));
  const empty = KUBESPRAY.replace(/(0AE90003:0035 rr {2}\n)(?: {2}->.*\n)+/g, '$1');
  const [b] = evaluate({ ipvs: facts(table(empty)), links: [link(['10.233.0.3/32'])] });
  t.regex(b!.summary, /has no real server at a weight above 0/);
  const [c] = evaluate({ ipvs: facts(table(KUBESPRAY)), links: [link(['10.233.0.1/32'])] });
  t.is(c!.status, 'fail');
  t.is(c!.summary, 'kube-ipvs0 does not hold 10.233.0.3: traffic to the service address is not delivered to IPVS');
  const [d] = evaluate({ ipvs: facts(table(KUBESPRAY)), links: [] });
  t.regex(d!.summary, /there is no kube-ipvs0 device/);
});

test('kube-proxy.ipvs: skip in other modes and without IPVS in the kernel; errors are results', (t) => {
  t.like(evaluate({}, { ...IPVS, kubeProxyMode: 'iptables' })[0], {
    status: 'skip',
    summary: 'kube_proxy_mode is iptables: no IPVS to read',
  });
  t.regex(evaluate({}, { ...IPVS, kubeProxyMode: 'nftables' })[0]!.summary, /nft table ip kube-proxy/);
  const off = {
    loaded: false,
    table: null,
    conns: null,
    connsTruncated: false,
    sysctls: facts(table(KUBESPRAY)).sysctls,
  };
  t.like(evaluate({ ipvs: off })[0], { status: 'skip' });
  t.like(evaluate({ ipvs: { parseError: 'IPVS: no output' } })[0], { status: 'error', summary: 'IPVS: no output' });
  t.like(evaluate({ ipvs: { ...facts(table(KUBESPRAY)), table: { parseError: 'bad' } } })[0], { status: 'error' });
});

test('coredns-service-unrouted looks where each mode keeps the service path', (t) => {
  t.regex(kubeProxyLook('ipvs', '10.233.0.3'), /0AE90003:0035.*\/proc\/net\/ip_vs.*kube-ipvs0/);
  t.regex(kubeProxyLook('nftables', '10.233.0.3'), /nft list table ip kube-proxy/);
  t.regex(kubeProxyLook('iptables', '10.233.0.3'), /KUBE-SERVICES/);
});

test('nftables mode: a node with no KUBE-SERVICES iptables chain is no fault (the healthy recording, re-read so)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-nft-'));
  try {
    cpSync(join(ROOT, 'test', 'fixtures', 'bundles', 'healthy'), dir, { recursive: true });
    const b = JSON.parse(readFileSync(join(dir, 'bundle.json'), 'utf8')) as Bundle;
    b.cluster.kubeProxyMode = 'nftables';
    let dropped = 0;
    for (const n of Object.values(b.nodes))
      for (const e of n.execs)
        if (e.label === 'roundtrip' && e.result.ok)
          e.result.stdout = e.result.stdout
            .split('\n')
            .filter((l) => {
              const kube = /KUBE-/.test(l);
              if (kube) dropped++;
              return !kube;
            })
            .join('\n');
    t.true(dropped > 0);
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify(b));
    const { report } = await replay(dir, { progress: 'none' });
    t.is(report.summary.exitCode, 0);
    t.deepEqual(
      report.results.filter((r) => r.status === 'fail' || r.status === 'error'),
      [],
    );
    t.deepEqual(
      report.diagnoses.filter((d) => d.severity === 'fail'),
      [],
    );
    t.true(report.results.filter((r) => r.check === 'kube-proxy.ipvs').every((r) => /nftables/.test(r.summary)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ipvs-stale-backend: named only where the service fails and the table explains it; stands aside otherwise', (t) => {
  const probe = (ok: number, role: 'coredns-service' | 'coredns-endpoint' = 'coredns-service'): ProbeResult => ({
    host: 'node1',
    server: role === 'coredns-service' ? '10.233.0.3' : '192.168.128.193',
    role,
    transport: 'udp',
    name: 'kubernetes.default.svc.cluster.local',
    type: 'A',
    sent: 5,
    answered: ok,
    rcodes: ok ? { NOERROR: ok } : {},
    latencyMs: { p50: 1, max: 1 },
    ok,
    internal: true,
  });
  const input = (svcOk: number, mode = 'ipvs'): DiagnoseInput => ({
    cluster: { ...IPVS, kubeProxyMode: mode },
    hosts: [{ name: 'node1', address: 'node1', inspected: true, error: null }],
    results: [],
    probes: [probe(svcOk), probe(5, 'coredns-endpoint')],
    facts: {
      node1: {
        host: 'node1',
        kernel: null,
        links: [link(['10.233.0.3/32'])],
        iptables: { backends: [], rules: [] },
        offload: {},
        counters: {},
        // kubernetes#76664's pinned flow, with its UDP twin for TCP: a weight-0 server still sent flows
        ipvs: facts(table(K76664 + K76664.slice(K76664.indexOf('UDP  ')).replace('UDP ', 'TCP ')), K76664_CONN),
      },
    },
    counterDeltas: {},
    endpoints: [ep('192.168.128.193')],
    endpointError: null,
  });
  const named = ipvsStaleBackend(new View(input(3)), false);
  t.deepEqual(
    named.map((d) => d.hosts),
    [['node1']],
  );
  t.true(named[0]!.evidence.some((e) => /keeps 192\.168\.129\.116:53, which is not a CoreDNS endpoint/.test(e)));
  t.true(named[0]!.evidence.some((e) => /conn_reuse_mode=0 .*\(0: a flow reusing a source port goes back/.test(e)));
  t.deepEqual(
    named[0]!.remediations!.filter((r) => r.argv).map((r) => [r.argv!.join(' '), r.hosts, r.safe]),
    [['ipvsadm -d -u 10.233.0.3:53 -r 192.168.129.116:53', ['node1'], false]],
  );
  // the service answers every probe: nothing to explain
  t.deepEqual(ipvsStaleBackend(new View(input(5)), false), []);
  // the CoreDNS pods all down, another mode, or another diagnosis already names the node
  t.deepEqual(ipvsStaleBackend(new View(input(3)), true), []);
  t.deepEqual(ipvsStaleBackend(new View(input(3, 'iptables')), false), []);
  t.deepEqual(ipvsStaleBackend(new View(input(3)), false, new Set(['node1'])), []);
});
