// The human report reads the same at 3 nodes and at 300: rendered from replays of recorded bundles
// and of 20- and 300-node bundles made from them (test/unit/multiply-bundle.ts), a cluster-wide
// fault fits in 60 lines with the diagnosis — what, where, why and the fix — in the first 25, a
// healthy cluster in 20; every host list it prints selects exactly its hosts back through --limit
// (and through Ansible's own --limit); JSON and JUnit keep every node.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replay } from '../../src/validate.js';
import { renderHuman } from '../../src/report/human.js';
import { renderJunit } from '../../src/report/junit.js';
import { renderJson } from '../../src/report/json.js';
import { hostSet, mergeByHost, numberRange } from '../../src/report/hosts.js';
import { loadInventory } from '../../src/inventory/load.js';
import { selectHosts } from '../../src/inventory/limit.js';
import type { Report } from '../../src/types.js';
import { ROOT } from '../e2e/helpers.js';
import { haveAnsible } from './ansible-oracle.js';
import { nodeAddress, writeMultiplied } from './multiply-bundle.js';

const BUNDLES = join(ROOT, 'test', 'fixtures', 'bundles');
const work = mkdtempSync(join(tmpdir(), 'ksv-size-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

// Copies of node3, a worker without a CoreDNS pod: the recorded fault seen from every other node
// of a larger cluster (node2's TX checksum offload breaks TCP to its CoreDNS pod from all of them;
// a dead CoreDNS pod on node1 fails a share of every node's queries).
const replays = new Map<string, Promise<Report>>();
function replayed(from: string, n: number): Promise<Report> {
  const key = `${from}-${n}`;
  let p = replays.get(key);
  if (!p) {
    const dir = n === 3 ? join(BUNDLES, from) : writeMultiplied(join(BUNDLES, from), join(work, key), n, () => 'node3');
    p = replay(dir, { progress: 'none' }).then((r) => r.report);
    replays.set(key, p);
  }
  return p;
}

/** An inventory of the n-node cluster: what --limit selects in. */
function inventory(n: number) {
  const file = join(work, `hosts-${n}.ini`);
  const names = Array.from({ length: n }, (_, i) => `node${i + 1}`);
  writeFileSync(
    file,
    `[kube_control_plane]\nnode1\n[etcd]\nnode1\n[kube_node]\n${names.map((h, i) => `${h} ansible_host=${nodeAddress(i + 1)}`).join('\n')}\n[k8s_cluster:children]\nkube_control_plane\nkube_node\n`,
  );
  return { file, inv: loadInventory([file]), names };
}

/** The --limit pattern in a printed host list (null where the list was cut). */
function patternOf(text: string): string | null {
  if (text.includes('…')) return null;
  if (/^all \d+ nodes$/.test(text)) return 'all';
  return text.replace(/ \(\d+(?: of \d+)? nodes\)$/, '');
}

function ansibleLimit(file: string, pattern: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-ansible-'));
  try {
    writeFileSync(join(dir, 'ansible.cfg'), '[defaults]\n');
    const out = execFileSync('ansible', ['all', '-i', file, '--list-hosts', '-l', pattern], {
      cwd: '/',
      encoding: 'utf8',
      env: { ...process.env, ANSIBLE_CONFIG: join(dir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1' },
    });
    return out
      .split('\n')
      .slice(1)
      .map((l) => l.trim())
      .filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const FAULTS = [
  { from: 'seed-node2', id: 'checksum-offload', sizes: [3, 20, 300] },
  { from: 'endpoint-down', id: 'coredns-endpoint-down', sizes: [3, 20] },
  // sshd down on node3 and on every copy of it: 298 nodes not inspected
  { from: 'sshd-down-node3', id: 'host-unreachable', sizes: [20, 300] },
];

for (const { from, id, sizes } of FAULTS)
  for (const n of sizes)
    test(`${id} at ${n} nodes: at most 60 lines, the diagnosis and its fix in the first 25, host lists that --limit selects back`, async (t) => {
      const report = await replayed(from, n);
      t.is(report.hosts.length, n);
      t.true(report.diagnoses.some((d) => d.id === id));
      const text = renderHuman(report, { color: false, strict: false });
      const lines = text.trimEnd().split('\n');
      t.log(`${id}, ${n} nodes: ${lines.length} lines`);
      t.true(lines.length <= 60, `${lines.length} lines:\n${text}`);
      const at = lines.findIndex((l) => l.startsWith(`✖ ${id}  on `));
      t.true(at >= 0 && at < 25, `the diagnosis at line ${at + 1}`);
      t.true(lines[at + 1]!.startsWith('  ') && lines[at + 1]!.length > 20, 'what: its summary right below');
      t.is(lines[at + 2], '  evidence:');
      const fix = lines.indexOf('  fix:', at);
      t.true(fix > at && fix + 1 < 25, `its fix at line ${fix + 2}`);
      t.regex(lines[fix + 1]!, /^ {4}\$ /);
      // nothing said twice: no line of the report repeats (blank lines aside), none of the JSON's
      // evidence lines either
      const said = lines.filter((l) => l.trim() && !/^ {2}(evidence|fix):$/.test(l));
      t.is(new Set(said).size, said.length);
      for (const d of report.diagnoses) t.is(new Set(d.evidence).size, d.evidence.length, d.id);
      // the failing checks: one line per check id, naming its nodes
      const groups = lines.filter((l) => /^ {2}(FAIL |ERROR|WARN ) \S+ {2}on /.test(l));
      const ids = new Set(report.results.filter((r) => r.status === 'fail').map((r) => r.check));
      t.is(groups.filter((l) => l.startsWith('  FAIL ')).length, ids.size);
      // per-path lines only with -v
      const path = /^\s+(UDP|TCP) \S+ A kubernetes\.default\.svc\.cluster\.local: \d+\/\d+ ok/m;
      t.notRegex(text, path);
      if (report.results.some((r) => r.check.startsWith('dns.') && r.status === 'fail'))
        t.regex(renderHuman(report, { color: false, strict: false, verbose: true }), path);

      // every host list printed selects exactly its hosts back through --limit
      const { inv, file, names } = inventory(n);
      const expected: [string, string[]][] = [];
      for (const d of report.diagnoses) {
        const line = lines.find((l) => l.startsWith(`✖ ${d.id}  on `) || l.startsWith(`⚠ ${d.id}  on `))!;
        expected.push([line.replace(/^.* {2}on /, ''), d.hosts]);
      }
      for (const l of groups) {
        const [, status, check, list] = /^ {2}(FAIL |ERROR|WARN ) (\S+) {2}on (.+?) — /.exec(l)!;
        const want = report.results
          .filter((r) => r.check === check && r.status === status!.trim().toLowerCase())
          .map((r) => r.host);
        expected.push([list!, want]);
      }
      t.true(expected.length > 1);
      const ansible = haveAnsible();
      for (const [list, want] of expected) {
        const pattern = patternOf(list);
        if (pattern === null) continue;
        const ordered = names.filter((h) => want.includes(h));
        t.deepEqual(selectHosts(inv, pattern, names), ordered, `--limit '${pattern}'`);
        if (ansible && n === 20) t.deepEqual(ansibleLimit(file, pattern).sort(), [...ordered].sort(), pattern);
      }

      // JSON and JUnit keep every node: all the results, one testcase per check and node
      const json = JSON.parse(renderJson(report)) as Report;
      t.deepEqual(json.results.length, report.results.length);
      t.deepEqual([...new Set(json.results.map((r) => r.host))].sort(), report.hosts.map((h) => h.name).sort());
      const junit = renderJunit(report, false);
      t.is(
        junit.match(/<testcase classname="(?!diagnosis")/g)?.length,
        report.results.length,
        'one testcase per check and node',
      );
    });

for (const n of [3, 20, 300])
  test(`healthy at ${n} nodes: at most 20 lines`, async (t) => {
    const report = await replayed('healthy', n);
    t.is(report.summary.exitCode, 0);
    const lines = renderHuman(report, { color: false, strict: false }).trimEnd().split('\n');
    t.log(`healthy, ${n} nodes: ${lines.length} lines`);
    t.true(lines.length <= 20, lines.join('\n'));
    t.regex(lines.at(-1)!, /^PASSED: /);
    // every node's answers alike: one row for the nodes, one for their pods
    t.is(lines.filter((l) => /^node {2}/.test(l)).length, 1);
  });

test('numberRange: exactly the numbers lo..hi', (t) => {
  for (let lo = 0; lo < 120; lo += 3)
    for (let hi = lo; hi < 1200; hi += 37) {
      const re = new RegExp(`^(${numberRange(lo, hi).join('|')})$`);
      for (let x = 0; x < 1300; x++) if (re.test(String(x)) !== (x >= lo && x <= hi)) t.fail(`${lo}..${hi}: ${x}`);
    }
  t.deepEqual(numberRange(4, 300), ['[4-9]', '[1-9][0-9]', '[1-2][0-9]{2}', '300']);
});

test('host sets: the shortest pattern, and --limit (ours and Ansible’s) selects exactly those hosts', (t) => {
  const { inv, file, names } = inventory(20);
  const cases: [string[], string][] = [
    [['node2'], 'node2'],
    [['node7', 'node2'], 'node2, node7'],
    [names, 'all 20 nodes'],
    [names.filter((h) => h !== 'node3'), 'all:!node3 (19 of 20 nodes)'],
    [names.slice(3), 'all:!node1:!node2:!node3 (17 of 20 nodes)'],
    [names.slice(4, 16), '~^node([5-9]|1[0-6])$ (12 of 20 nodes)'],
    [names.filter((_, i) => i % 2 === 0), '~^node(1|3|5|7|9|11|13|15|17|19)$ (10 of 20 nodes)'],
  ];
  for (const [hosts, text] of cases) {
    const s = hostSet(hosts, names);
    t.is(s.text, text);
    const want = names.filter((h) => hosts.includes(h));
    t.deepEqual(selectHosts(inv, s.pattern!, names), want, s.pattern!);
    if (haveAnsible()) t.deepEqual(ansibleLimit(file, s.pattern!).sort(), [...want].sort(), s.pattern!);
  }
  // scattered over 300 names: cut, said so, and no pattern offered
  const many = Array.from({ length: 300 }, (_, i) => `node${i + 1}`);
  const odd = hostSet(
    many.filter((_, i) => i % 3 === 1),
    many,
  );
  t.is(odd.pattern, null);
  t.regex(odd.text, /^node2, node5, .*, … \(100 of 300 nodes; the JSON report lists them\)$/);
  // a name that is a prefix of another is not matched inside it
  const twelve = names.slice(0, 12);
  const prefixed = hostSet(['node1', 'node10', 'node11', 'node12'], twelve);
  t.is(prefixed.text, '~^node(1|1[0-2])$ (4 of 12 nodes)');
  t.deepEqual(selectHosts(inv, prefixed.pattern!, twelve), ['node1', 'node10', 'node11', 'node12']);
});

test('mergeByHost: lines alike but for one host become one; lists inside a line are shortened; nothing twice', (t) => {
  const hosts = Array.from({ length: 20 }, (_, i) => `node${i + 1}`);
  const others = hosts.filter((h) => h !== 'node2');
  const lines = [
    ...others.map((h) => `DNS over TCP from ${h} to the CoreDNS pod 198.19.0.5 on node2: 0/3; over UDP 3/3`),
    'node2: Tcp.RetransSegs +34 during the probes',
    ...others.map((h) => `${h}: Tcp.RetransSegs +7 during the probes`),
    `cross-node paths without node2 work over both transports (${others.join(', ')})`,
    'node2: Tcp.RetransSegs +34 during the probes',
  ];
  t.deepEqual(mergeByHost(lines, hosts), [
    'DNS over TCP from all:!node2 (19 of 20 nodes) to the CoreDNS pod 198.19.0.5 on node2: 0/3; over UDP 3/3',
    'node2: Tcp.RetransSegs +34 during the probes',
    'all:!node2 (19 of 20 nodes): Tcp.RetransSegs +7 during the probes',
    'cross-node paths without node2 work over both transports (all:!node2 (19 of 20 nodes))',
  ]);
  // different numbers stay apart
  t.is(mergeByHost(['node1: +7', 'node3: +8'], hosts).length, 2);
  // a node's address goes with its name
  const addresses = Object.fromEntries(hosts.map((h, i) => [h, `198.18.0.${10 + i}`]));
  t.deepEqual(
    mergeByHost(
      hosts.slice(2).map((h) => `${h} (${addresses[h]}): connection refused by root@${addresses[h]}:22`),
      hosts,
      addresses,
    ),
    ['all:!node1:!node2 (18 of 20 nodes) (<address>): connection refused by root@<address>:22'],
  );
  // a line about one node keeps its address
  t.deepEqual(mergeByHost(['node3 (198.18.0.12): refused'], hosts, addresses), ['node3 (198.18.0.12): refused']);
});
