// The inventory loader against the oracle: every fixture's `inventory --list` equals the
// committed output of `ansible-inventory --list` (and the live one when ansible-core is on PATH);
// every bad input exits 2 with one line naming the file or variable, never a stack trace.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { inventoryListing } from '../../src/inventory/listing.js';
import { clusterModel, kubesprayGroups } from '../../src/inventory/kubespray.js';
import { parseIni, shlexSplit } from '../../src/inventory/ini.js';
import { ROOT, CLI } from '../e2e/helpers.js';
import { ansibleList, haveAnsible, relativize } from './ansible-oracle.js';

const FIX = join(ROOT, 'test', 'fixtures', 'inventory');
const cases = JSON.parse(readFileSync(join(FIX, 'cases.json'), 'utf8')) as { name: string; sources: string[] }[];

function ours(sources: string[]): unknown {
  return relativize(
    inventoryListing(
      loadInventory(
        sources.map((s) => resolve(ROOT, s)),
        {},
      ),
      { showSecrets: true },
    ),
    ROOT,
  );
}

for (const c of cases) {
  test(`${c.name}: same as the committed ansible-inventory --list`, (t) => {
    const expected = JSON.parse(readFileSync(join(FIX, 'expected', `${c.name}.json`), 'utf8'));
    t.deepEqual(ours(c.sources), expected);
  });
  test(`${c.name}: same as a live ansible-inventory --list`, (t) => {
    if (!haveAnsible()) {
      if (process.env.CI) t.fail('ansible-inventory is not on PATH (CI installs ansible-core)');
      else t.log('ansible-inventory not on PATH; live comparison skipped');
      return t.pass();
    }
    t.deepEqual(ours(c.sources), ansibleList(ROOT, c.sources));
  });
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('inventory --list prints the same JSON through the CLI, secrets redacted', (t) => {
  const r = cli(['inventory', '-i', join(ROOT, 'test/fixtures/inventory/vars-precedence'), '--list']);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const text = JSON.stringify(out);
  t.false(text.includes('s3cr3t-become'), 'become password redacted');
  t.true(text.includes('<redacted>'));
  const shown = JSON.parse(
    cli(['inventory', '-i', join(ROOT, 'test/fixtures/inventory/vars-precedence'), '--list', '--show-secrets']).stdout,
  );
  t.deepEqual(Object.keys(shown._meta.hostvars).sort(), Object.keys(out._meta.hostvars).sort());
});

const bad: [string, string[], RegExp][] = [
  ['missing path', ['-i', '/nonexistent/inventory'], /no such inventory file or directory/],
  [
    'YAML syntax error names file and line',
    ['-i', join(FIX, 'bad/yaml-syntax.yml')],
    /yaml-syntax\.yml:\d+: YAML syntax error/,
  ],
  [
    'INI syntax error names file and line',
    ['-i', join(FIX, 'bad/ini-syntax.ini')],
    /ini-syntax\.ini:3: invalid section header/,
  ],
  ['cycle in :children', ['-i', join(FIX, 'bad/cycle.ini')], /cycle/],
  [
    'invalid IP in ansible_host',
    ['-i', join(FIX, 'bad/bad-ip.ini')],
    /node1: ansible_host "999\.1\.1\.1" is not a valid IPv4 address/,
  ],
  ['host with an empty address', ['-i', join(FIX, 'bad/no-address.yml')], /node1: ansible_host is set but empty/],
  ['invalid domain', ['-i', join(FIX, 'bad/bad-domain.ini')], /cluster_name "bad domain!" is not a valid domain name/],
  [
    'invalid CIDR',
    ['-i', join(FIX, 'bad/bad-cidr.ini')],
    /kube_service_addresses "10\.233\.0\.0\/99" is not a valid CIDR/,
  ],
  [
    'Jinja it cannot evaluate suggests -e',
    ['-i', join(FIX, 'bad/unresolvable-jinja.ini')],
    /dns_domain.*-e dns_domain=VALUE/,
  ],
  [
    'shell characters in nodelocaldns_ip',
    ['-i', join(FIX, 'bad/hostile-nodelocaldns.ini')],
    /nodelocaldns_ip .* is not an IPv4 address/,
  ],
  ['shell characters in bin_dir', ['-i', join(FIX, 'bad/hostile-bindir.ini')], /bin_dir .* must be an absolute path/],
  [
    'undefined variable in ansible_host',
    ['-i', join(FIX, 'bad/jinja-undefined-host.ini')],
    /error: host node1: cannot evaluate ansible_host: node_ip is undefined in "\{\{ node_ip \}\}"$/m,
  ],
  [
    'Jinja outside the subset in ansible_user names it',
    ['-i', join(FIX, 'bad/jinja-outside-subset.ini')],
    /host node1: cannot evaluate ansible_user: "\{\{ users\[inventory_hostname\] \}\}" is Jinja this tool does not evaluate/,
  ],
  [
    'Jinja outside the subset in a secret: not shown',
    ['-i', join(FIX, 'bad/jinja-secret.ini')],
    /error: host node1: cannot evaluate ansible_become_password: its value is Jinja this tool does not evaluate \(in become_src\) \(not shown: a secret\)$/m,
  ],
  [
    'shell characters in ansible_user',
    ['-i', join(FIX, 'bad/hostile-user.ini')],
    /ansible_user "root;id" is not a valid user name/,
  ],
  [
    'hostile -e value',
    ['-i', join(ROOT, 'inventory-examples/mycluster'), '-e', 'cluster_name=x`id`'],
    /not a valid domain name/,
  ],
  [
    'empty selection after --limit',
    ['-i', join(ROOT, 'inventory-examples/mycluster'), '--limit', 'nosuchhost'],
    /--limit "nosuchhost" matches no/,
  ],
  ['no inventory', [], /no inventory given/],
  ['bad option value', ['-i', join(ROOT, 'inventory-examples/mycluster'), '--forks', '0'], /--forks must be/],
];
for (const [name, args, re] of bad) {
  test(`bad input exits 2 with one line: ${name}`, (t) => {
    const r = cli([...args, '--progress', 'none']);
    t.is(r.code, 2, r.stdout + r.stderr);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.notRegex(r.stderr, /\n\s+at /);
    t.is(r.stdout, '');
  });
}

test('INI value typing as ansible-core 2.14 does it (checked against ansible-inventory)', (t) => {
  const inv = loadInventory([join(FIX, 'ini-rules/hosts')], {});
  const web01 = inv.hostvars['web01']!;
  t.is(web01.http_port, 80);
  t.is(web01.enabled, true);
  t.is(web01.ratio, 0.5);
  t.deepEqual(web01.list, [1, 2]);
  // :vars values are literal_eval'd whole: no comment stripping, quotes make strings
  t.is(web01.plain, 5);
  t.is(web01.quoted, '5');
  t.is(web01.flag, 'yes');
  t.regex(String(web01.proxy), /# not a comment in :vars$/);
  // host-line values are shlex-split first: the inline comment is gone, quotes are removed
  t.is(inv.hostvars['spaced']!.label, 'two words');
});

test('shlexSplit keeps quoted words together', (t) => {
  t.deepEqual(shlexSplit(`a b="c d" e='f g'`), ['a', 'b=c d', 'e=f g']);
});

test('parseIni: ranges with steps and letters', (t) => {
  const inv = loadInventory([join(FIX, 'ini-rules/hosts')], {});
  t.deepEqual(
    ['node1', 'node4', 'node7'].filter((h) => h in inv.hostvars),
    ['node1', 'node4', 'node7'],
  );
  t.true(['db-a.example.com', 'db-b.example.com', 'db-c.example.com'].every((h) => h in inv.hostvars));
  t.truthy(parseIni);
});

test('Kubespray model: legacy hyphenated groups, computed k8s_cluster, bastion', (t) => {
  const legacy = loadInventory([join(ROOT, 'inventory-examples/legacy-v2.8/hosts.ini')], {});
  const g = kubesprayGroups(legacy);
  t.true(g.controlPlane.length > 0);
  t.true(g.k8sCluster.length >= g.controlPlane.length);
  const sample = loadInventory([join(ROOT, 'inventory-examples/sample-ini/inventory.ini')], {});
  const gs = kubesprayGroups(sample);
  t.deepEqual([...gs.k8sCluster].sort(), [...new Set([...gs.controlPlane, ...gs.nodes])].sort());
  const b = kubesprayGroups(loadInventory([join(ROOT, 'inventory-examples/with-bastion/inventory.ini')], {}));
  t.is(b.bastion, 'bastion');
});

test('Kubespray model: defaults and derived values', (t) => {
  const inv = loadInventory([join(ROOT, 'inventory-examples/mycluster')], {});
  const m = clusterModel(inv);
  t.is(m.corednsIp.split('.').length, 4);
  t.is(m.nodelocaldnsIp, '169.254.25.10');
  t.is(m.networkPlugin, 'calico');
  t.truthy(m.dnsDomain);
  const withE = clusterModel(
    loadInventory([join(ROOT, 'inventory-examples/mycluster')], {
      kube_service_addresses: '198.18.64.0/18',
      cluster_name: 'lab.test',
    }),
  );
  t.is(withE.corednsIp, '198.18.64.3');
  t.is(withE.dnsDomain, 'lab.test');
});

test('repeated -i and -e collect; any other option given twice: the last wins', (t) => {
  const r = cli([
    'inventory',
    '-i',
    join(FIX, 'ini-rules/hosts'),
    '-i',
    join(FIX, 'yaml-rules/hosts.yml'),
    '-e',
    'a=1',
    '-e',
    'b=2',
    '--list',
  ]);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const one = ours(['test/fixtures/inventory/ini-rules/hosts']) as { _meta: { hostvars: Record<string, unknown> } };
  t.true(Object.keys(out._meta.hostvars).length > Object.keys(one._meta.hostvars).length, 'both sources loaded');
  const h = Object.values(out._meta.hostvars)[0] as Record<string, unknown>;
  // as ansible-playbook: k=v extra vars are strings
  t.is(h.a, '1');
  t.is(h.b, '2');
  const v = cli([
    '-i',
    join(ROOT, 'inventory-examples/mycluster'),
    '--forks',
    '0',
    '--forks',
    '3',
    '--limit',
    'nosuch',
  ]);
  t.regex(v.stderr, /--limit "nosuch"/, 'the later --forks 3 replaced the invalid --forks 0');
});
