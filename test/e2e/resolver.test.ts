// The resolver chain against the lab: each node's kubelet config and resolv.conf (its own /etc, seen
// by its SSH sessions), the upstream resolver NodeLocalDNS and CoreDNS forward `.` to, and the four
// faults — each named by exactly its diagnosis on exactly its nodes, none of the look-alikes
// (nodelocaldns-down, coredns-unreachable, dns-unexplained) beside it; the healthy lab stays green,
// with and without --strict.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { useLab, type Lab } from '../lab/lab.js';
import { tempKnownHosts, validateJson } from './helpers.js';
import { readNodeCachePod, upstreamIp } from '../lab/resolver.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3 });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

const ids = (r: Report) => r.diagnoses.map((d) => d.id).sort();
const results = (r: Report, check: string) => r.results.filter((x) => x.check === check);
const run = (l: Lab, extra: string[] = []) => validateJson(l.inventoryDir, kh.file, extra);

test.serial(
  'healthy: every node reads its kubelet config and resolv.conf over SSH; green with and without --strict',
  async (t) => {
    const l = lab();
    // the node's own /etc is what its SSH sessions see; this machine's resolv.conf is not touched
    t.false(readFileSync('/etc/resolv.conf', 'utf8').includes(upstreamIp(l.index)));
    for (const strict of [[], ['--strict']]) {
      const { run: r, report } = await run(l, strict);
      t.is(r.code, 0, r.stderr.slice(0, 2000));
      t.deepEqual(report.diagnoses, []);
      const rc = results(report, 'resolver.config');
      t.is(rc.length, 3);
      for (const x of rc) {
        t.is(x.status, 'pass', x.summary);
        t.is(x.evidence.resolvConf, '/etc/resolv.conf');
        t.deepEqual(x.evidence.servers, [upstreamIp(l.index)]);
        t.deepEqual(x.evidence.search, ['corp.example']);
      }
      const up = results(report, 'resolver.upstream');
      t.is(up.length, 1);
      t.is(up[0]!.status, 'pass');
    }
  },
);

test.serial(
  'resolv-loop: resolver-loop on node2 alone, with the line, CrashLoopBackOff and the loop line; not nodelocaldns-down',
  async (t) => {
    const l = lab();
    await l.fault('resolv-loop', { nodes: ['node2'] });
    try {
      const pod = readNodeCachePod(l.dir, 'node2');
      t.is(pod.state, 'crashloop');
      t.regex(
        pod.previousLog,
        /\[FATAL\] plugin\/loop: Loop \(169\.254\.25\.10:\d+ -> 169\.254\.25\.10:53\) detected for zone "\."/,
      );
      const { run: r, report } = await run(l);
      t.is(r.code, 1);
      t.deepEqual(ids(report), ['resolver-loop']);
      const d = report.diagnoses[0]!;
      t.deepEqual(d.hosts, ['node2']);
      const ev = d.evidence.join('\n');
      t.regex(
        ev,
        /node2: \/etc\/resolv\.conf:2 `nameserver 169\.254\.25\.10` names 169\.254\.25\.10, NodeLocalDNS itself/,
      );
      t.regex(ev, /node-cache on 169\.254\.25\.10 forwards `\.` to 169\.254\.25\.10: to itself/);
      t.regex(
        ev,
        /pod nodelocaldns-node2 on node2: CrashLoopBackOff, 2 restart\(s\); its previous container's last loop line: \[FATAL\] plugin\/loop: Loop \(169\.254\.25\.10:\d+ -> 169\.254\.25\.10:53\)/,
      );
      t.true(d.fix.some((f) => f.includes('upstream_dns_servers') && f.includes('group_vars/all/all.yml')));
      t.true(d.remediations.every((x) => !x.safe));
      const rc = results(report, 'resolver.config');
      t.deepEqual(
        rc.map((x) => `${x.host}:${x.status}`),
        ['node1:pass', 'node2:fail', 'node3:pass'],
      );
    } finally {
      await l.clear('resolv-loop');
    }
  },
);

test.serial('resolv-stub: resolver-loop on node3 alone (127.0.0.53), not upstream-dns-unreachable', async (t) => {
  const l = lab();
  await l.fault('resolv-stub', { nodes: ['node3'] });
  try {
    const { run: r, report } = await run(l);
    t.is(r.code, 1);
    t.deepEqual(ids(report), ['resolver-loop']);
    const d = report.diagnoses[0]!;
    t.deepEqual(d.hosts, ['node3']);
    t.regex(
      d.evidence.join('\n'),
      /node3: \/etc\/resolv\.conf:\d+ `nameserver 127\.0\.0\.53` names 127\.0\.0\.53, a loopback stub/,
    );
    t.regex(d.evidence.join('\n'), /CoreDNS pods forward `\.` to 127\.0\.0\.53 in their own network namespace/);
    t.is(results(report, 'resolver.upstream')[0]!.status, 'pass');
  } finally {
    await l.clear('resolv-stub');
  }
});

test.serial('upstream-down: upstream-dns-unreachable on every node, naming the server and its file', async (t) => {
  const l = lab();
  await l.fault('upstream-down');
  try {
    const { run: r, report } = await run(l);
    t.is(r.code, 1);
    t.deepEqual(ids(report), ['upstream-dns-unreachable']);
    const d = report.diagnoses[0]!;
    t.deepEqual(d.hosts, ['node1', 'node2', 'node3']);
    const up = upstreamIp(l.index);
    t.is(
      d.summary,
      `the upstream DNS servers ${up} (from /etc/resolv.conf) answer no node: external names fail everywhere`,
    );
    t.regex(
      d.evidence.join('\n'),
      new RegExp(`${up.replace(/\./g, '\\.')} asked directly from every node: UDP 0/\\d+ .*, TCP 0/\\d+`),
    );
    const u = results(report, 'resolver.upstream');
    t.is(u.length, 1);
    t.is(u[0]!.status, 'fail');
    // air-gapped: nothing of this runs, and the report says so once
    const { report: none } = await run(l, ['--external-name', 'none']);
    t.deepEqual(ids(none), []);
    const u2 = results(none, 'resolver.upstream');
    t.is(u2.length, 1);
    t.is(u2[0]!.status, 'skip');
    t.regex(u2[0]!.summary, /--external-name none/);
  } finally {
    await l.clear('upstream-down');
  }
});

test.serial(
  'search-wildcard: resolver.config warns on every node (the domain answers any name); no diagnosis; --strict fails',
  async (t) => {
    const l = lab();
    await l.fault('search-wildcard');
    try {
      const { run: r, report } = await run(l);
      t.is(r.code, 0);
      t.deepEqual(ids(report), []);
      const rc = results(report, 'resolver.config');
      t.deepEqual(
        rc.map((x) => x.status),
        ['warn', 'warn', 'warn'],
      );
      for (const x of rc)
        t.regex(x.summary, /^search domain corp\.example answers any name \(ksv-[0-9a-f]{8}\.corp\.example -> NOERROR/);
      const { run: strict } = await run(l, ['--strict']);
      t.is(strict.code, 1);
    } finally {
      await l.clear('search-wildcard');
    }
    // lifted: the random name is no such name again
    const st = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        lab().nodes[0]!.ns,
        'dig',
        `@${lab().nodelocaldnsIp}`,
        '+time=2',
        '+tries=1',
        `x${Date.now()}.corp.example`,
      ],
      { encoding: 'utf8' },
    ).stdout;
    t.regex(st, /status: NXDOMAIN/);
  },
);
