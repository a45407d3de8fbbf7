// IPVS parsers on tables printed in public reports and the same tables in the kernel's /proc
// formats (test/fixtures/ipvs/README.md names each source), and on hand-made variants.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProcIpVs, parseIpvsadmList, findService, canonicalIp, type IpvsTable } from '../../src/collect/ipvs.js';
import { parseProcIpVsConn, parseIpvsadmConns, connsByDest, type IpvsConnTable } from '../../src/collect/ipvs-conn.js';
import { parseIpvsSysctls } from '../../src/collect/ipvs-sysctl.js';
import { isParseError } from '../../src/types.js';
import { ROOT } from '../e2e/helpers.js';

const fx = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'ipvs', f), 'utf8');
const table = (t: ReturnType<typeof parseProcIpVs>) => {
  if (isParseError(t)) throw new Error(t.parseError);
  return t;
};
const conns = (t: ReturnType<typeof parseProcIpVsConn>) => {
  if (isParseError(t)) throw new Error(t.parseError);
  return t;
};
/** The table without line numbers and source, to compare /proc with ipvsadm. */
const shape = (t: IpvsTable) =>
  t.services.map((s) => ({ ...s, line: 0, realServers: s.realServers.map((r) => ({ ...r, line: 0 })) }));
const connShape = (t: IpvsConnTable) => t.conns.map((c) => ({ ...c, line: 0 }));

test('ipvsadm -Ln: a weight-0 UDP real server still holding a flow (kubernetes#76664)', (t) => {
  const tb = table(parseIpvsadmList(fx('kubernetes-76664-ipvsadm-Ln.txt')));
  t.is(tb.version, '1.2.1');
  t.is(tb.size, 4096);
  t.is(tb.source, 'ipvsadm');
  const s = findService(tb, 'UDP', '192.168.127.89', 514)!;
  t.like(s, { scheduler: 'lc', persistent: null, line: 4 });
  t.deepEqual(
    s.realServers.map((r) => [r.address, r.port, r.forward, r.weight, r.activeConn, r.inactConn]),
    [
      ['192.168.128.193', 514, 'Masq', 1, 0, 1],
      ['192.168.129.116', 514, 'Masq', 0, 0, 1],
    ],
  );
  t.is(findService(tb, 'TCP', '192.168.127.89', 514), null);
});

test('/proc/net/ip_vs: hex addresses and ports decode to the same table as ipvsadm -Ln', (t) => {
  for (const [proc, adm] of [
    ['kubernetes-76664-proc-net-ip_vs.txt', 'kubernetes-76664-ipvsadm-Ln.txt'],
    ['kubespray-4357-proc-net-ip_vs.txt', 'kubespray-4357-ipvsadm-Ln.txt'],
  ] as const) {
    const p = table(parseProcIpVs(fx(proc)));
    t.is(p.source, 'proc');
    const a = table(parseIpvsadmList(fx(adm)));
    t.deepEqual(
      shape(p).map((s) => ({ ...s, persistent: s.persistent && { ...s.persistent, netmask: null } })),
      shape(a),
      proc,
    );
  }
  const p = table(parseProcIpVs(fx('kubespray-4357-proc-net-ip_vs.txt')));
  t.deepEqual(p.services[0]!.persistent, { timeoutSec: 10800, netmask: '255.255.255.255' });
});

test('ipvsadm -Ln: the CoreDNS service of a Kubespray cluster, persistence, services with no real server (kubespray#4357)', (t) => {
  const tb = table(parseIpvsadmList(fx('kubespray-4357-ipvsadm-Ln.txt')));
  const dns = findService(tb, 'TCP', '10.233.0.3', 53)!;
  t.deepEqual(
    dns.realServers.map((r) => `${r.address}:${r.port}/${r.weight}`),
    ['10.233.80.3:53/1', '10.233.96.3:53/1'],
  );
  t.is(findService(tb, 'UDP', '10.233.0.3', 53), null);
  const np = tb.services[0]!;
  t.like(np, { protocol: 'TCP', address: '172.17.0.1', port: 30974, scheduler: 'rr' });
  t.deepEqual(np.persistent, { timeoutSec: 10800, netmask: null });
  t.deepEqual(np.realServers, []);
  t.is(tb.services.length, 7);
});

test('ipvsadm -L output without its header (calico#4851) and the real /proc header alone (coreos/bugs#1264)', (t) => {
  const tb = table(parseIpvsadmList(fx('calico-4851-ipvsadm-L.txt')));
  t.is(tb.version, null);
  t.is(tb.services[0]!.realServers.length, 3);
  const empty = table(parseProcIpVs(fx('coreos-bugs-1264-proc-net-ip_vs.txt')));
  t.deepEqual(empty.services, []);
  t.is(empty.version, '1.2.1');
});

test('ipvs: hand-edited output (kubernetes#77077 "..." lines) is a parse error naming the line', (t) => {
  const r = parseIpvsadmList(fx('kubernetes-77077-ipvsadm-ln.txt'));
  t.true(isParseError(r));
  t.regex((r as { parseError: string }).parseError, /line 4/);
});

test('/proc/net/ip_vs: IPv6, FWM, ops, named ports, garbage', (t) => {
  const v6 = table(
    parseProcIpVs(
      [
        'IP Virtual Server version 1.2.1 (size=4096)',
        'Prot LocalAddress:Port Scheduler Flags',
        '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn',
        'UDP  [fd00:0000:0000:0000:0000:0000:0000:000a]:0035 rr  ',
        '  -> [fd00:0000:0000:0000:0000:0000:0000:0046]:0035      Masq    1      0          3         ',
        'FWM  00000001 rr ',
        'UDP  0AE90003:0035 rr ops  ',
      ].join('\n'),
    ),
  );
  t.like(v6.services[0], { address: 'fd00::a', port: 53 });
  t.is(v6.services[0]!.realServers[0]!.address, 'fd00::46');
  t.is(v6.services[0]!.realServers[0]!.inactConn, 3);
  t.like(v6.services[1], { protocol: 'FWM', fwmark: 1, address: null, port: null });
  t.deepEqual(v6.services[2]!.flags, ['ops']);
  t.not(findService(v6, 'UDP', 'FD00:0::a', 53), null);
  const named = table(
    parseIpvsadmList('UDP  10.233.0.3:domain rr\n  -> 10.233.80.3:domain          Masq    1      0          0\n'),
  );
  t.is(named.services[0]!.port, 53);
  t.true(isParseError(parseProcIpVs('')));
  t.true(isParseError(parseProcIpVs('TCP  XYZ:0035 rr\n')));
  t.true(isParseError(parseProcIpVs('  -> 0AE95003:0035      Masq    1      0          0\n')));
  t.true(isParseError(parseIpvsadmList('cat: /proc/net/ip_vs: No such file or directory\n')));
  const full = fx('kubespray-4357-proc-net-ip_vs.txt');
  for (let n = 0; n < full.length; n += 23) t.notThrows(() => parseProcIpVs(full.slice(0, n)));
  t.is(canonicalIp('FD00:0000::000A'), 'fd00::a');
});

test('/proc/net/ip_vs_conn with and without PEName/PEData: the same flows as ipvsadm -Lnc (kubernetes#76664)', (t) => {
  const adm = conns(parseIpvsadmConns(fx('kubernetes-76664-ipvsadm-Lnc.txt')));
  t.is(adm.conns.length, 2);
  t.like(adm.conns[0], {
    protocol: 'UDP',
    client: { address: '192.168.127.89', port: 44117 },
    virtual: { address: '192.168.127.89', port: 514 },
    dest: { address: '192.168.129.116', port: 514 },
    state: 'UDP',
    expiresSec: 264,
  });
  const pe = conns(parseProcIpVsConn(fx('kubernetes-76664-proc-net-ip_vs_conn.txt')));
  t.true(pe.peColumns);
  const old = conns(parseProcIpVsConn(fx('kubernetes-76664-proc-net-ip_vs_conn-2.6.txt')));
  t.false(old.peColumns);
  for (const p of [pe, old]) {
    t.deepEqual(
      connShape(p).map((c) => ({ ...c, peName: null, peData: null })),
      connShape(adm),
    );
  }
  t.is(pe.conns[0]!.peName, null);
  // the flow still pinned to the replaced pod
  t.deepEqual(
    [...connsByDest(pe, 'UDP', '192.168.127.89', 514)],
    [
      ['192.168.129.116', 1],
      ['192.168.128.193', 1],
    ],
  );
});

test('/proc/net/ip_vs_conn: TCP states (calico#4851), persistence-engine data, sync table, IPv6, garbage', (t) => {
  const c = conns(parseProcIpVsConn(fx('calico-4851-proc-net-ip_vs_conn.txt')));
  t.deepEqual(
    c.conns.map((x) => x.state),
    ['ESTABLISHED', 'ESTABLISHED', 'SYN_RECV', 'SYN_RECV', 'SYN_RECV', 'SYN_RECV'],
  );
  const adm = conns(parseIpvsadmConns(fx('calico-4851-ipvsadm-lnc.txt')));
  t.deepEqual(connShape(c), connShape(adm));
  const sip = conns(
    parseProcIpVsConn(
      'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n' +
        'UDP 0A000001 13C4 0A000002 13C4 0A000003 13C4 UDP              59 sip 1234@10.0.0.1\n',
    ),
  );
  t.like(sip.conns[0], { peName: 'sip', peData: '1234@10.0.0.1', expiresSec: 59 });
  const sync = conns(
    parseProcIpVsConn(
      'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires\n' +
        'TCP 0A000001 D431 0AE90003 0035 0AE95003 0035 ESTABLISHED LOCAL      899\n',
    ),
  );
  t.is(sync.source, 'proc-sync');
  t.like(sync.conns[0], { origin: 'LOCAL', expiresSec: 899, peName: null });
  const v6 = conns(
    parseProcIpVsConn(
      'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n' +
        'TCP fd00:0000:0000:0000:0000:0000:0000:0001 D431 fd00:0000:0000:0000:0000:0000:0000:000a 0035 fd00:0000:0000:0000:0000:0000:0000:0046 0035 SYN_RECV         57\n',
    ),
  );
  t.like(v6.conns[0], { client: { address: 'fd00::1' }, dest: { address: 'fd00::46', port: 53 } });
  t.true(isParseError(parseProcIpVsConn('')));
  t.true(isParseError(parseProcIpVsConn('Pro FromIP   FPrt\nUDP nothex\n')));
  t.true(isParseError(parseIpvsadmConns('UDP 4:24 UDP a b c\n')));
  const full = fx('calico-4851-proc-net-ip_vs_conn.txt');
  for (let n = 0; n < full.length; n += 19) t.notThrows(() => parseProcIpVsConn(full.slice(0, n)));
  // ipvsadm -Lnc with its header and a SYN_RECV host-to-service flow (calico#3258)
  t.like(conns(parseIpvsadmConns(fx('calico-3258-ipvsadm-Lnc.txt'))).conns[0], {
    state: 'SYN_RECV',
    client: { address: '10.254.0.1', port: 37954 },
    expiresSec: 51,
  });
});

test('/proc/sys/net/ipv4/vs: values read with grep -H; no line means no IPVS in the kernel', (t) => {
  const s = parseIpvsSysctls(
    '/proc/sys/net/ipv4/vs/conntrack:1\n/proc/sys/net/ipv4/vs/conn_reuse_mode:0\n/proc/sys/net/ipv4/vs/expire_nodest_conn:1\n',
  );
  t.like(s, { present: true, conntrack: 1, connReuseMode: 0, expireNodestConn: 1, expireQuiescentTemplate: null });
  const none = parseIpvsSysctls('');
  t.false(none.present);
  t.is(none.conntrack, null);
  t.is(parseIpvsSysctls('/proc/sys/net/ipv4/vs/conntrack:yes\n').conntrack, null);
});
