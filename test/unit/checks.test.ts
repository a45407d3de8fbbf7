// Node checks on facts parsed from captured output.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGather } from '../../src/collect/gather.js';
import { evaluateNode, selectChecks } from '../../src/checks/registry.js';
import { expectedOverlay } from '../../src/inventory/overlay.js';
import type { ClusterModel, CheckResult, Counters, NodeFacts, ProbeResult } from '../../src/types.js';
import { CLUSTER } from './model.js';
import { ROOT } from '../e2e/helpers.js';

const fx = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'collect', f), 'utf8');

function gather(parts: { ipt?: string; legacy?: string; link?: string; eth?: string }) {
  return parseGather(
    'node1',
    [
      '@@kernel',
      '6.1.0',
      '@@rc 0',
      '@@iptables legacy',
      parts.legacy ?? '',
      '@@rc 0',
      '@@iptables nft',
      parts.ipt ?? fx('iptables-nft-save.txt'),
      '@@rc 0',
      '@@link',
      parts.link ?? fx('ip-link.json'),
      '@@rc 0',
      '@@addr',
      fx('ip-addr.json'),
      '@@rc 0',
      '@@ethtool vxlan.calico',
      parts.eth ?? fx('ethtool-k-vxlan.calico.txt'),
      '@@rc 0',
      '@@snmp',
      fx('proc-net-snmp.txt'),
      '@@rc 0',
    ].join('\n'),
  );
}
const CONN = { ok: true, error: null, address: '198.18.0.10', port: 22, user: 'root', become: false };
const nodeChecks = (f: NodeFacts, c: ClusterModel): CheckResult[] =>
  evaluateNode(
    { host: f.host, cluster: c, connection: CONN, facts: f, probes: [], counterDelta: {} },
    selectChecks([], ['kernel.counters', 'dns.*', 'ssh.reachable']),
  );
const counterCheck = (host: string, delta: Counters | null): CheckResult =>
  evaluateNode(
    { host, cluster: CLUSTER, connection: CONN, facts: null, probes: [], counterDelta: delta },
    selectChecks(['kernel.counters']),
  )[0]!;
const dnsChecks = (host: string, probes: ProbeResult[]): CheckResult[] =>
  evaluateNode(
    { host, cluster: CLUSTER, connection: CONN, facts: null, probes, counterDelta: null },
    selectChecks(['dns.*']),
  );
const status = (rs: CheckResult[], id: string) => rs.find((r) => r.check === id)?.status;

test('a healthy lab node: every check passes, checksum offload on above kernel 5.7 included', (t) => {
  const rs = nodeChecks(gather({}), CLUSTER);
  t.is(status(rs, 'nodelocaldns.interface'), 'pass');
  t.is(status(rs, 'nodelocaldns.iptables'), 'pass');
  t.is(status(rs, 'iptables.backend'), 'pass');
  t.is(status(rs, 'overlay.interface'), 'pass');
  t.is(status(rs, 'overlay.mtu'), 'pass');
  t.is(status(rs, 'overlay.offload'), 'pass');
  t.is(status(nodeChecks({ ...gather({}), kernel: '5.4.0' }, CLUSTER), 'overlay.offload'), 'warn');
  t.is(status(nodeChecks(gather({ eth: fx('ethtool-k-vxlan.calico-off.txt') }), CLUSTER), 'overlay.offload'), 'pass');
});

test('rules missing: fail with the missing rules as evidence', (t) => {
  const rs = nodeChecks(gather({ ipt: fx('iptables-nft-save-rules-missing.txt') }), CLUSTER);
  const r = rs.find((x) => x.check === 'nodelocaldns.iptables')!;
  t.is(r.status, 'fail');
  t.is((r.evidence.missing as string[]).length, 12);
});

test('rules matched semantically: no comments, other order, other backend', (t) => {
  const lines = fx('iptables-nft-save.txt').split('\n');
  const stripped = lines.map((l) => l.replace(/ -m comment --comment "[^"]*"/, '')).reverse();
  // reversed lines break the table structure; rebuild per table
  const rebuilt = fx('iptables-nft-save.txt').replace(/ -m comment --comment "[^"]*"/g, '');
  t.is(status(nodeChecks(gather({ ipt: rebuilt }), CLUSTER), 'nodelocaldns.iptables'), 'pass');
  t.truthy(stripped.length);
  const r = nodeChecks(
    gather({
      ipt: '',
      legacy: fx('iptables-legacy-save-shadowed.txt').replace(/^-A INPUT -p udp -m udp --dport 53 -j DROP\n/m, ''),
    }),
    CLUSTER,
  );
  t.is(status(r, 'nodelocaldns.iptables'), 'pass');
});

test('a DROP ahead of the rules shadows them; rules split across backends warn', (t) => {
  const rs = nodeChecks(gather({ ipt: '', legacy: fx('iptables-legacy-save-shadowed.txt') }), CLUSTER);
  const r = rs.find((x) => x.check === 'nodelocaldns.iptables')!;
  t.is(r.status, 'fail');
  t.regex(JSON.stringify(r.evidence.shadowed), /DROP/);
  const split = nodeChecks(gather({ legacy: fx('iptables-legacy-save-shadowed.txt') }), CLUSTER);
  t.is(status(split, 'iptables.backend'), 'warn');
});

test('overlay: missing device, MTU without room, IPIP expects tunl0, no overlay skips', (t) => {
  const link = JSON.parse(fx('ip-link.json')) as { ifname: string; mtu: number }[];
  const noVx = JSON.stringify(link.filter((l) => l.ifname !== 'vxlan.calico'));
  t.is(status(nodeChecks(gather({ link: noVx }), CLUSTER), 'overlay.interface'), 'fail');
  const eth = link.find((l) => l.ifname === 'eth0')!;
  eth.mtu = 1450;
  t.is(status(nodeChecks(gather({ link: JSON.stringify(link) }), CLUSTER), 'overlay.mtu'), 'fail');
  t.like(expectedOverlay({ ...CLUSTER, calicoBackend: 'bird', calicoVxlanMode: 'Never', calicoIpipMode: 'Always' }), {
    device: 'tunl0',
    encap: 'ipip',
    overhead: 20,
  });
  t.is(expectedOverlay({ ...CLUSTER, networkPlugin: 'cilium', ciliumTunnelMode: 'disabled' }), null);
  t.is(status(nodeChecks(gather({}), { ...CLUSTER, networkPlugin: 'flannel' }), 'overlay.mtu'), 'skip');
});

test('nodelocaldns disabled: its checks skip', (t) => {
  const rs = nodeChecks(gather({}), { ...CLUSTER, nodelocaldnsEnabled: false });
  t.is(status(rs, 'nodelocaldns.interface'), 'skip');
  t.is(status(rs, 'nodelocaldns.iptables'), 'skip');
});

test('broken sources become error results', (t) => {
  const f = parseGather('node1', '@@link\nnot json\n@@rc 0\n@@iptables nft\nsegfault\n@@rc 139\n');
  const rs = nodeChecks(f, CLUSTER);
  t.is(status(rs, 'nodelocaldns.iptables'), 'error');
  t.is(status(rs, 'overlay.interface'), 'error');
});

test('counter check: checksum errors warn, missing snapshot errors', (t) => {
  t.is(counterCheck('n', { 'Tcp.InCsumErrors': 3 }).status, 'warn');
  t.is(counterCheck('n', { 'Tcp.RetransSegs': 3 }).status, 'pass');
  t.is(counterCheck('n', null).status, 'error');
});

test('dns checks: external name failures warn, cluster names fail', (t) => {
  const p = (over: Partial<ProbeResult>): ProbeResult => ({
    host: 'n',
    server: '169.254.25.10',
    role: 'nodelocaldns',
    transport: 'udp',
    name: 'kubernetes.default.svc.cluster.local',
    type: 'A',
    sent: 3,
    answered: 3,
    ok: 3,
    internal: true,
    rcodes: { NOERROR: 3 },
    latencyMs: { p50: 1, max: 1 },
    errors: {},
    ...over,
  });
  t.is(dnsChecks('n', [p({})])[0]!.status, 'pass');
  t.is(
    dnsChecks('n', [p({}), p({ name: 'kubernetes.io', internal: false, ok: 0, rcodes: { SERVFAIL: 3 } })])[0]!.status,
    'warn',
  );
  t.is(dnsChecks('n', [p({ ok: 2, errors: { timeout: 1 } })])[0]!.status, 'fail');
});
