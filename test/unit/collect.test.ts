// Parsers on captured real output (test/fixtures/collect/README.md says where each came from),
// and on truncated, empty and garbage variants: a parser returns a value or a ParseError, never throws.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIptablesSave } from '../../src/collect/iptables.js';
import { parseLinks } from '../../src/collect/iproute.js';
import { parseEthtoolK, checksumOffload } from '../../src/collect/ethtool.js';
import { parseCounters, parseProcNet, counterDelta, parseNfConntrack } from '../../src/collect/counters.js';
import { parseGather, DEFAULT_DEV_SH } from '../../src/collect/gather.js';
import { SH_RUN, splitSections } from '../../src/collect/sections.js';
import { isParseError, type IptablesRule, type LinkFacts, type OffloadFacts, type Counters } from '../../src/types.js';
import { ROOT } from '../e2e/helpers.js';

const fx = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'collect', f), 'utf8');

test('iptables-nft-save: node-cache rules with comments, normalized addresses', (t) => {
  const r = parseIptablesSave(fx('iptables-nft-save.txt'), 'nft') as IptablesRule[];
  t.false(isParseError(r));
  const nc = r.filter((x) => x.comment?.startsWith('NodeLocal DNS Cache'));
  t.is(nc.length, 12);
  const first = r.find((x) => x.table === 'raw' && x.chain === 'PREROUTING' && x.proto === 'tcp')!;
  t.is(first.dst, '169.254.25.10');
  t.is(first.dport, '53');
  t.is(first.target, 'NOTRACK');
  t.is(first.comment, 'NodeLocal DNS Cache: skip conntrack');
  t.true(r.some((x) => x.table === 'nat' && x.target === 'DNAT'));
});

test('iptables: empty legacy output is no rules; the shadowed capture keeps order', (t) => {
  t.deepEqual(parseIptablesSave(fx('iptables-legacy-save-empty.txt'), 'legacy'), []);
  const r = parseIptablesSave(fx('iptables-legacy-save-shadowed.txt'), 'legacy') as IptablesRule[];
  const input = r.filter((x) => x.table === 'filter' && x.chain === 'INPUT');
  t.is(input[0]!.target, 'DROP');
  t.is(input[0]!.index, 0);
  t.is(input[1]!.comment, 'NodeLocal DNS Cache: allow DNS traffic');
});

test('iptables: garbage and truncated output are parse errors, not exceptions', (t) => {
  t.true(isParseError(parseIptablesSave('-A INPUT -j ACCEPT\n', 'nft')));
  t.true(isParseError(parseIptablesSave('*filter\nthis is not iptables\n', 'nft')));
  const full = fx('iptables-nft-save.txt');
  for (let n = 0; n < full.length; n += 97) t.notThrows(() => parseIptablesSave(full.slice(0, n), 'nft'));
  t.notThrows(() => parseIptablesSave('\u0000\u0001\u0002', 'legacy'));
  // negation and quoted comment with spaces
  const r = parseIptablesSave(
    '*filter\n-A INPUT ! -s 10.0.0.0/8 -p tcp -m comment --comment "a \\"b\\" c" -j DROP\nCOMMIT\n',
    'nft',
  ) as IptablesRule[];
  t.is(r[0]!.src, '!10.0.0.0/8');
  t.is(r[0]!.comment, 'a "b" c');
});

test('ip -j link/addr: vxlan.calico facts, nodelocaldns address, parent', (t) => {
  const links = parseLinks(fx('ip-link.json'), fx('ip-addr.json'), null) as LinkFacts[];
  t.false(isParseError(links));
  const vx = links.find((l) => l.name === 'vxlan.calico')!;
  t.is(vx.kind, 'vxlan');
  t.is(vx.mtu, 1450);
  t.is(vx.parent, 'eth0');
  t.deepEqual({ id: vx.vxlan!.id, port: vx.vxlan!.port }, { id: 4096, port: 4789 });
  t.true(vx.up);
  const nl = links.find((l) => l.name === 'nodelocaldns')!;
  t.true(nl.addresses.includes('169.254.25.10/32'));
  t.true(links.some((l) => l.name.startsWith('cali')));
});

test('ip -d -j addr (one call, as the gather script runs it): the same facts', (t) => {
  const one = fx('ip-d-addr.json');
  const links = parseLinks(one, one, null) as LinkFacts[];
  t.false(isParseError(links));
  const vx = links.find((l) => l.name === 'vxlan.calico')!;
  t.like(vx, { kind: 'vxlan', mtu: 1450, parent: 'eth0', up: true });
  t.deepEqual({ id: vx.vxlan!.id, port: vx.vxlan!.port }, { id: 4096, port: 4789 });
  t.true(links.find((l) => l.name === 'nodelocaldns')!.addresses.includes('169.254.25.10/32'));
  t.true(vx.addresses.some((a) => a.startsWith('198.19.')));
});

test('gather: the default route device is cut out of ip -j JSON in the shell', (t) => {
  const dev = (r: string) =>
    spawnSync('sh', ['-c', `r=$1; ${DEFAULT_DEV_SH}; printf '%s' "$dev"`, 'sh', r], { encoding: 'utf8' }).stdout;
  t.is(dev('[{"dst":"default","gateway":"198.18.0.1","dev":"ens3","protocol":"dhcp","flags":[]}]'), 'ens3');
  t.is(
    dev(
      '[{"dst":"default","gateway":"198.18.0.1","dev":"bond0.100","flags":[]},{"dst":"default","dev":"eth1","flags":[]}]',
    ),
    'bond0.100',
  );
  t.is(dev('[]'), '');
  t.is(dev('Error: garbage "dev":'), '');
});

test('ip: old iproute2 without -j, garbage, truncated JSON', (t) => {
  const old = parseLinks('Option "-j" is unknown, try "ip -help".\n', '', null);
  t.true(isParseError(old));
  t.regex((old as { parseError: string }).parseError, /no JSON output/);
  t.true(isParseError(parseLinks('{"not":"an array"}', '[]', null)));
  const full = fx('ip-link.json');
  for (let n = 0; n < full.length; n += 131) t.notThrows(() => parseLinks(full.slice(0, n), '[]', null));
  // addr output broken: links still parse, without addresses
  const links = parseLinks(full, 'garbage', null) as LinkFacts[];
  t.false(isParseError(links));
});

test('ethtool -k: offload on/off, [fixed] features, errors', (t) => {
  const on = parseEthtoolK(fx('ethtool-k-vxlan.calico.txt')) as OffloadFacts;
  t.deepEqual(checksumOffload(on), { tx: true, rx: true });
  const off = parseEthtoolK(fx('ethtool-k-vxlan.calico-off.txt')) as OffloadFacts;
  t.deepEqual(checksumOffload(off), { tx: false, rx: false });
  const veth = parseEthtoolK(fx('ethtool-k-eth0-veth.txt')) as OffloadFacts;
  t.true(Object.values(veth.features).some((f) => f.fixed));
  t.true(isParseError(parseEthtoolK(fx('ethtool-k-missing.txt'))));
  t.true(isParseError(parseEthtoolK('')));
  t.true(isParseError(parseEthtoolK('rx-checksumming: maybe\n')));
});

test('/proc/net/snmp and netstat: counters, deltas, broken input', (t) => {
  const c = parseCounters(
    `@@snmp\n${fx('proc-net-snmp.txt')}@@rc 0\n@@netstat\n${fx('proc-net-netstat.txt')}@@rc 0\n`,
  ) as Counters;
  t.false(isParseError(c));
  for (const k of ['Tcp.InCsumErrors', 'Tcp.RetransSegs', 'Udp.InCsumErrors', 'Udp.InErrors', 'TcpExt.TCPTimeouts'])
    t.is(typeof c[k], 'number', k);
  const d = counterDelta({ 'Tcp.RetransSegs': 5 }, { 'Tcp.RetransSegs': 9, 'Tcp.New': 1 });
  t.deepEqual(d, { 'Tcp.RetransSegs': 4 });
  t.true(isParseError(parseProcNet('Tcp: A B\nTcp: 1\n')));
  t.true(isParseError(parseCounters('')));
  t.true(isParseError(parseCounters('@@snmp\ncat: /proc/net/snmp: No such file\n@@rc 1\n')));
});

test('gather: one round trip split into sections, every failure kept as an error value', (t) => {
  const out = [
    '@@kernel',
    '6.1.0-test',
    '@@rc 0',
    '@@iptables legacy',
    fx('iptables-legacy-save-empty.txt'),
    '@@rc 0',
    '@@iptables nft',
    fx('iptables-nft-save.txt'),
    '@@rc 0',
    '@@link',
    fx('ip-link.json'),
    '@@rc 0',
    '@@addr',
    fx('ip-addr.json'),
    '@@rc 0',
    '@@route',
    fx('ip-route-default.json'),
    '@@rc 0',
    '@@ethtool vxlan.calico',
    fx('ethtool-k-vxlan.calico.txt'),
    '@@rc 0',
    '@@snmp',
    fx('proc-net-snmp.txt'),
    '@@rc 0',
    '@@netstat',
    fx('proc-net-netstat.txt'),
    '@@rc 0',
  ].join('\n');
  const f = parseGather('node1', out);
  t.is(f.kernel, '6.1.0-test');
  t.false(isParseError(f.links));
  t.false(isParseError(f.iptables));
  t.deepEqual((f.iptables as { backends: string[] }).backends, ['nft']);
  t.false(isParseError(f.offload['vxlan.calico']));
  t.false(isParseError(f.counters));
  // the same with a failing ip and iptables
  const bad = parseGather(
    'node1',
    '@@iptables nft\nPermission denied (you must be root)\n@@rc 4\n@@link\nsegfault\n@@rc 139\n',
  );
  t.true(isParseError(bad.iptables));
  t.true(isParseError(bad.links));
  t.true(isParseError(bad.counters));
  // random bytes never throw
  for (let i = 0; i < 200; i++) {
    const junk = Array.from({ length: 300 }, () => String.fromCharCode(Math.floor(Math.random() * 128)))
      .join('')
      .replace(/\u0000/g, '');
    t.notThrows(() => parseGather('n', junk));
    t.notThrows(() => parseGather('n', out.slice(0, Math.floor(Math.random() * out.length))));
  }
  t.is(splitSections('no markers at all').length, 0);
});

// iptables-nft-save writes "# Warning: iptables-legacy tables present…" to standard error at its
// end, while its standard output may still sit in its buffer: merged (2>&1), the warning landed
// inside the output's last line ("…on Sun Dec  6 05:53:23 202# Warning: …\n6"), the nft backend's
// output read as garbage and node-cache's rules as missing.
test('ksv_run: standard error after the output, never inside a line of it (bash and dash)', (t) => {
  // a command that writes 64 KiB of lines through stdio, its last line unfinished when it warns
  const cmd = `python3 -c 'import sys; sys.stdout.write("-A X -j ACCEPT\\n" * 4000 + "# Completed on 2026"); sys.stderr.write("# Warning: legacy tables present\\n"); sys.stderr.flush(); sys.stdout.write("\\n")'`;
  for (const shell of ['bash', 'dash']) {
    const r = spawnSync(
      shell,
      ['-c', `${SH_RUN}\necho "@@iptables nft"; ksv_run sh -c "$0"; echo "@@after"; echo "@@rc 0"`, cmd],
      {
        encoding: 'utf8',
      },
    );
    t.is(r.status, 0, r.stderr);
    const [s, after] = splitSections(r.stdout);
    t.is(s!.code, 0, shell);
    t.is(s!.stderr, '# Warning: legacy tables present', shell);
    const lines = s!.body.split('\n');
    t.is(lines.length, 4001, shell);
    t.is(lines[4000], '# Completed on 2026', shell);
    t.true(
      lines.slice(0, 4000).every((l) => l === '-A X -j ACCEPT'),
      shell,
    );
    t.is(after!.name, 'after');
    // the exit code is the command's, its message the failure text
    const f = spawnSync(
      shell,
      ['-c', `${SH_RUN}\necho "@@iptables nft"; ksv_run sh -c 'echo partial; echo denied >&2; exit 4'`],
      {
        encoding: 'utf8',
      },
    );
    const [g] = splitSections(f.stdout);
    t.is(g!.code, 4, shell);
    t.is(g!.body.trim(), 'partial', shell);
    t.is(g!.stderr, 'denied', shell);
  }
});

test('iptables: a backend that could not be read leaves the ruleset unknown, not the other backend alone', (t) => {
  const out = [
    '@@iptables legacy',
    fx('iptables-legacy-save-empty.txt'),
    '@@rc 0',
    '@@iptables nft',
    'iptables-nft-save v1.8.9 (nf_tables): some interrupted read',
    '@@stderr',
    'Interrupted system call',
    '@@rc 1',
  ].join('\n');
  const f = parseGather('node1', out);
  t.true(isParseError(f.iptables));
  t.regex(
    (f.iptables as { parseError: string }).parseError,
    /iptables-nft-save failed \(exit 1\): Interrupted system call/,
  );
  // unreadable output of one backend: the same
  const g = parseGather('node1', out.replace('@@stderr\nInterrupted system call\n@@rc 1', '@@rc 0'));
  t.true(isParseError(g.iptables));
});

test('counters: nf_conntrack stats summed over CPUs (entries once), overlay link values, broken sections passed over', (t) => {
  const text = readFileSync(join(ROOT, 'test', 'fixtures', 'collect', 'proc-net-stat-nf_conntrack.txt'), 'utf8');
  const c = parseNfConntrack(text, 'Conntrack');
  t.false(isParseError(c));
  const cc = c as Counters;
  t.is(cc['Conntrack.entries'], 0x68);
  t.is(cc['Conntrack.insert_failed'], 0);
  t.true('Conntrack.clashres' in cc && 'Conntrack.drop' in cc && 'Conntrack.early_drop' in cc);
  // an older kernel's layout (searched, insert_failed, drop, early_drop …), two CPUs, one with a race
  const old =
    'entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n' +
    '0000001a  00000000 00000000 00000000 00000002 0000000b 00000000 00000000 00000000 00000003 00000001 00000000 00000000  00000000 00000000 00000000 00000000\n' +
    '0000001a  00000000 00000000 00000000 00000000 00000004 00000000 00000000 00000000 00000002 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n';
  const o = parseNfConntrack(old, 'Conntrack') as Counters;
  t.is(o['Conntrack.insert_failed'], 5);
  t.is(o['Conntrack.drop'], 1);
  t.is(o['Conntrack.entries'], 0x1a);
  t.true(isParseError(parseNfConntrack('garbage here\n12 zz\n', 'Conntrack')));
  const all = parseCounters(
    [
      '@@snmp',
      readFileSync(join(ROOT, 'test', 'fixtures', 'collect', 'proc-net-snmp.txt'), 'utf8'),
      '@@rc 0',
      '@@value Link.vxlan.calico.rx_packets',
      '158',
      '@@rc 0',
      '@@value Link.tunl0.rx_packets',
      'cat: /sys/class/net/tunl0/statistics/rx_packets: No such file or directory',
      '@@rc 1',
      '@@nfct Conntrack',
      text,
      '@@rc 0',
    ].join('\n'),
  ) as Counters;
  t.is(all['Link.vxlan.calico.rx_packets'], 158);
  t.false('Link.tunl0.rx_packets' in all);
  t.is(all['Conntrack.entries'], 0x68);
  t.true((all['Tcp.InSegs'] ?? 0) > 0);
});
