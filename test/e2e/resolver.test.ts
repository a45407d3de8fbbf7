// The resolver chain against the lab, beyond what the fault table (faults.test.ts) asks of its four
// faults: each node's kubelet config and resolv.conf (its own /etc, seen by its SSH sessions) read,
// the healthy lab green with and without --strict, an air-gapped run (--external-name none) saying
// once that nothing external was asked, node-cache's loop check, a wildcard search domain under
// --strict.
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
  '--external-name none (air-gapped): with the upstream down nothing of it runs, and the report says so once',
  async (t) => {
    const l = lab();
    await l.fault('upstream-down');
    try {
      const { run: r, report } = await run(l, ['--external-name', 'none']);
      t.is(r.code, 0, r.stderr.slice(0, 2000));
      t.deepEqual(ids(report), []);
      const u = results(report, 'resolver.upstream');
      t.is(u.length, 1);
      t.is(u[0]!.status, 'skip');
      t.is(u[0]!.summary, '--external-name none: no external name, no upstream server was asked');
      t.false(report.probes.some((p) => p.internal === false));
    } finally {
      await l.clear('upstream-down');
    }
  },
);

test.serial(
  'resolv-loop: node-cache really stopped by its loop check, twice; the kubectl stand-in tells it',
  async (t) => {
    const l = lab();
    await l.fault('resolv-loop', { nodes: ['node2'] });
    try {
      const pod = readNodeCachePod(l.dir, 'node2');
      t.is(pod.state, 'crashloop');
      t.is(pod.restartCount, 2);
      t.regex(
        pod.previousLog,
        /^\[FATAL\] plugin\/loop: Loop \(169\.254\.25\.10:\d+ -> 169\.254\.25\.10:53\) detected for zone "\."/,
      );
      t.is(readNodeCachePod(l.dir, 'node1').state, 'running');
    } finally {
      await l.clear('resolv-loop');
    }
    t.is(readNodeCachePod(l.dir, 'node2').restartCount, 0, 'lifted: a new pod');
  },
);

test.serial(
  'search-wildcard: a warning on every node, which --strict turns into a failure; lifted, no such name again',
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
