// The node's firewalls: nft's output as the round trip reads it, the whole ruleset of a node, which
// firewall manages it, and the check firewall.host on the real firewalld's table.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGather } from '../../src/collect/gather.js';
import { nftablesReader } from '../../src/collect/nftables.js';
import { iptablesReader } from '../../src/collect/iptables.js';
import { linksReader } from '../../src/collect/iproute.js';
import { splitSections } from '../../src/collect/sections.js';
import { evaluateNode, selectChecks } from '../../src/checks/registry.js';
import { hostFirewalls, nodeRuleset } from '../../src/netfilter/node.js';
import { isParseError, type NodeFacts } from '../../src/types.js';
import { CLUSTER } from './model.js';
import { ROOT } from '../e2e/helpers.js';

const nf = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'netfilter', f), 'utf8');
const collect = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'collect', f), 'utf8');
const parse = (out: string) => nftablesReader.parse(splitSections(out), { cluster: CLUSTER });

test('nft reader: JSON first, text where nft has no JSON, a skip where nft is missing, an error of its own', (t) => {
  const json = parse(`@@nftables json\n${nf('firewalld-public.json')}\n@@rc 0\n`);
  t.false(isParseError(json));
  t.like(json, { format: 'json', skipped: null });
  const text = parse(
    `@@nftables json\nError: JSON support not compiled-in\n@@rc 1\n@@nftables text\n${nf('firewalld-public.nft')}@@rc 0\n`,
  );
  t.like(text, { format: 'text', skipped: null });
  t.is(
    (text as { ruleset: { tables: unknown[] } }).ruleset.tables.length,
    (json as { ruleset: { tables: unknown[] } }).ruleset.tables.length,
  );
  const missing = parse('@@nftables missing\n@@rc 127\n');
  t.like(missing, { ruleset: null });
  t.regex((missing as { skipped: string }).skipped, /nft is not installed/);
  const failed = parse(
    '@@nftables json\nnetlink: Error: cache initialization failed: Operation not permitted\n@@rc 1\n@@nftables text\nnetlink: Error: cache initialization failed: Operation not permitted\n@@rc 1\n',
  );
  t.deepEqual(failed, {
    parseError:
      'nft list ruleset failed (exit 1): netlink: Error: cache initialization failed: Operation not permitted',
  });
  t.true(isParseError(parse('@@nftables json\n{"nftables": [\n@@rc 0\n')));
  t.true(isParseError(parse('')));
});

test("nft reader: the listing's copies of the tables iptables-nft-save printed are not kept; a table it could not print is", (t) => {
  const listing = nf('k8s-97283-ip-filter.nft') + nf('firewalld-public.nft');
  const tables = (out: string) =>
    (parse(out) as { ruleset: { tables: { family: string; name: string }[] } }).ruleset.tables.map(
      (x) => `${x.family} ${x.name}`,
    );
  const text = `@@nftables json\nError: JSON support not compiled-in\n@@rc 1\n@@nftables text\n${listing}@@rc 0\n`;
  t.deepEqual(tables(text), ['ip filter', 'inet firewalld']);
  // iptables-nft-save printed *filter: its copy goes, firewalld's table stays
  t.deepEqual(tables(`@@iptables nft\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n@@rc 0\n${text}`), ['inet firewalld']);
  // "# Table `filter' is incompatible, use 'nft' tool.": iptables-nft-save did not print it, the listing's is the only copy
  t.deepEqual(tables(`@@iptables nft\n# Table \`filter' is incompatible, use 'nft' tool.\n@@rc 0\n${text}`), [
    'ip filter',
    'inet firewalld',
  ]);
  // a failed or a legacy read is no copy of anything
  t.deepEqual(tables(`@@iptables nft\n*filter\n@@rc 1\n${text}`), ['ip filter', 'inet firewalld']);
  t.deepEqual(tables(`@@iptables legacy\n*filter\nCOMMIT\n@@rc 0\n${text}`), ['ip filter', 'inet firewalld']);
});

/** A node as the round trip reads it: the lab's iptables-nft rules, links, and an nft listing. */
function node(nftText: string | null, ipt = collect('iptables-nft-save.txt')): NodeFacts {
  return parseGather(
    'node1',
    [
      '@@iptables nft',
      ipt,
      '@@rc 0',
      '@@link',
      collect('ip-link.json'),
      '@@rc 0',
      '@@addr',
      collect('ip-addr.json'),
      '@@rc 0',
      ...(nftText === null ? ['@@nftables missing', '@@rc 127'] : ['@@nftables text', nftText, '@@rc 0']),
    ].join('\n'),
    [iptablesReader, linksReader, nftablesReader],
    { cluster: CLUSTER },
  );
}

const CONN = { ok: true, error: null, address: '198.18.0.10', port: 22, user: 'root', become: false };
const check = (f: NodeFacts, cluster = { ...CLUSTER, podsSubnets: ['198.19.0.0/16'] }) =>
  evaluateNode(
    { host: 'node1', cluster, connection: CONN, facts: f, probes: [], counterDelta: {} },
    selectChecks(['firewall.host']),
  )[0]!;

test('the whole ruleset of a node: iptables-nft and the native tables; which firewall manages it', (t) => {
  const f = node(nf('firewalld-public.nft'));
  const n = nodeRuleset(f);
  t.deepEqual(n.read, ['iptables-nft', 'nftables']);
  t.deepEqual(hostFirewalls(n.ruleset), [{ manager: 'firewalld', where: 'inet firewalld' }]);
  t.deepEqual(hostFirewalls(nodeRuleset(node('')).ruleset), []);
  const ufw = `*filter\n:INPUT DROP [0:0]\n:ufw-before-input - [0:0]\n-A INPUT -j ufw-before-input\nCOMMIT\n`;
  t.deepEqual(hostFirewalls(nodeRuleset(node('', ufw)).ruleset), [{ manager: 'ufw', where: 'iptables-nft filter' }]);
  const kubeProxy =
    'table ip kube-proxy {\n\tchain filter-input {\n\t\ttype filter hook input priority -110; policy accept;\n\t\tct state new jump firewall-check\n\t}\n\tchain firewall-check {\n\t\tdrop\n\t}\n}\n';
  t.deepEqual(hostFirewalls(nodeRuleset(node(kubeProxy)).ruleset), [], "kube-proxy's own table is not a host firewall");
  const own = nf('nft-lab-sets.nft');
  t.deepEqual(
    hostFirewalls(nodeRuleset(node(own)).ruleset).map((x) => x.where),
    ['inet node'],
  );
});

test('firewall.host on the real firewalld: warn, naming what it drops, the rule, the zone and the fix', (t) => {
  const r = check(node(nf('firewalld-public.nft')));
  t.is(r.status, 'warn');
  t.regex(r.summary, /^firewalld drops Kubespray's traffic: udp\/53 from the pods .* VXLAN \(udp\/4789\)/);
  const blocked = (r.evidence as { blocked: string[] }).blocked;
  t.true(
    blocked.some((b) =>
      /the overlay's VXLAN \(udp\/4789\) from the other nodes on eth0: dropped by "reject with icmpx admin-prohibited" \(nftables, inet firewalld filter_INPUT via filter_INPUT_ZONES → filter_IN_public\); eth0 is in zone public/.test(
        b,
      ),
    ),
    blocked.join('\n'),
  );
  t.true(
    blocked.some((b) =>
      /pod traffic from vxlan\.calico forwarded to the node's pods: dropped by .*filter_FORWARD/.test(b),
    ),
  );
  t.deepEqual((r.evidence as { firewalldZones: unknown }).firewalldZones, [
    {
      zone: 'public',
      interfaces: ['eth0'],
      sources: [],
      default: true,
      target: 'reject',
      allows: ['tcp dport 22 accept', 'ip6 daddr fe80::/64 udp dport 546 accept'],
    },
  ]);
  t.regex(r.remediation!.text, /firewall-cmd --permanent --zone=trusted --add-interface=cali\+/);
  t.false(r.remediation!.safe);
});

test('firewall.host: firewalld with the pod devices trusted and the VXLAN port open passes; no firewall is a skip', (t) => {
  const open = nf('firewalld-public.nft')
    .replace(
      '\t\tiifname "eth0" goto filter_IN_public\n',
      '\t\tiifname { "cali*", "vxlan.calico", "nodelocaldns" } goto filter_IN_trusted\n\t\tiifname "eth0" goto filter_IN_public\n',
    )
    .replace(
      '\t\tiifname "eth0" goto filter_FWD_public\n',
      '\t\tiifname { "cali*", "vxlan.calico", "nodelocaldns" } goto filter_FWD_trusted\n\t\tiifname "eth0" goto filter_FWD_public\n',
    )
    .replace('\t\ttcp dport 22 accept\n', '\t\ttcp dport 22 accept\n\t\tudp dport 4789 accept\n')
    .replace(
      /\n}\n$/,
      '\n\n\tchain filter_IN_trusted {\n\t\taccept\n\t}\n\n\tchain filter_FWD_trusted {\n\t\taccept\n\t}\n}\n',
    );
  const r = check(node(open));
  t.is(r.status, 'pass', JSON.stringify(r.evidence));
  t.regex(r.summary, /^firewalld lets Kubespray's traffic through/);
  const none = check(node(''));
  t.is(none.status, 'skip');
  t.regex(none.summary, /no host firewall .* in iptables-nft, nftables/);
  const noNft = check(node(null));
  t.is(noNft.status, 'skip');
  t.regex(noNft.summary, /not read: nft is not installed/);
});
