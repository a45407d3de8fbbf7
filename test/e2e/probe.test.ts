// The probe program on a real lab node, both runners (python3, and the bash fallback for nodes
// without python): healthy paths answer, a dead server and a silent one are counted as failures
// within the timeout, and nothing crashes on what comes back.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { useLab } from '../lab/lab.js';
import { probeScript } from '../../src/probe/program.js';
import type { ProbePath } from '../../src/probe/paths.js';
import { parseCounters } from '../../src/collect/counters.js';
import { isParseError } from '../../src/types.js';

const lab = useLab(test, { nodes: 2 });

function paths(): ProbePath[] {
  const l = lab();
  const name = `kubernetes.default.svc.${l.clusterDomain}`;
  const p = (server: string, transport: 'udp' | 'tcp', role: ProbePath['role'] = 'coredns-endpoint'): ProbePath => ({
    role,
    server,
    port: 53,
    transport,
    name,
    type: 'A',
    internal: true,
    endpointHost: null,
  });
  return [
    p(l.nodelocaldnsIp, 'udp', 'nodelocaldns'),
    p(l.nodelocaldnsIp, 'tcp', 'nodelocaldns'),
    p(l.endpoints[1]!.ip, 'udp'),
    p(l.endpoints[1]!.ip, 'tcp'),
    // nothing listens here (a node address, port 53 closed): refused at once
    p(l.nodes[1]!.address, 'udp'),
    p(l.nodes[1]!.address, 'tcp'),
  ];
}

for (const runner of ['python3', 'bash'] as const) {
  test.serial(`${runner}: answers, refusals and timeouts, within the budget`, (t) => {
    const l = lab();
    const ps = paths();
    const markers = { before: '#B', probes: '#P', after: '#A' };
    const prog = probeScript(ps, { count: 2, timeoutMs: 800, runner, markers });
    const t0 = Date.now();
    const r = spawnSync('ip', ['netns', 'exec', l.nodes[0]!.ns, 'sh', '-c', prog.script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    const ms = Date.now() - t0;
    t.is(r.status, 0, r.stderr);
    // the counters come before and after the probes, each after its marker
    const at = (m: string) => r.stdout.indexOf(`${m}\n`);
    t.true(at('#B') === 0 && at('#B') < at('#P') && at('#P') < at('#A'), r.stdout.slice(0, 200));
    const before = parseCounters(r.stdout.slice(0, at('#P')));
    const after = parseCounters(r.stdout.slice(at('#A')));
    if (isParseError(before) || isParseError(after)) return t.fail(JSON.stringify([before, after]).slice(0, 300));
    t.true(after['Tcp.ActiveOpens']! >= before['Tcp.ActiveOpens']! + 4, 'the TCP probes fall between the two readings');
    const res = prog.decode('node1', r.stdout.slice(at('#P'), at('#A')));
    t.is(res.length, ps.length);
    for (const i of [0, 1, 2, 3])
      t.is(res[i]!.ok, 2, `${res[i]!.transport} ${res[i]!.server}: ${JSON.stringify(res[i])}`);
    for (const i of [4, 5]) {
      t.is(res[i]!.ok, 0);
      t.is(res[i]!.answered, 0);
    }
    t.true(res.every((x) => x.latencyMs.p50 === null || x.latencyMs.p50 < 800));
    t.true(ms < 2 * 800 + 1500 + 3000, `took ${ms} ms`);
  });
}

test('decode never throws on garbage, lies or floods', (t) => {
  const ps = paths();
  const prog = probeScript(ps, { count: 2, timeoutMs: 500 });
  const inputs = [
    '',
    'R 0 0 1.0 zz',
    'R 0 0 1.0 00',
    'R 0 0 abc 0011',
    `R 0 0 1.0 ${'ab'.repeat(70000)}`,
    'E 0 0 $(rm -rf /)',
    'R 99 99 1 00',
    'R -1 0 1 00',
    `R 0 0 1.0 ${Buffer.from('not a dns message at all').toString('hex')}`,
  ];
  for (const s of inputs) t.notThrows(() => prog.decode('n', s));
  const res = prog.decode('n', inputs.join('\n'));
  t.is(res[0]!.ok ?? 0, 0);
  t.true(Object.keys(res[0]!.errors ?? {}).length > 0);
});

for (const runner of ['python3', 'bash'] as const) {
  test.serial(
    `${runner}: paths streamed in while it runs (the endpoint probes) are probed, END ends the wait; without END the wait is bounded`,
    async (t) => {
      const l = lab();
      const all = paths();
      const first = all.slice(0, 2);
      const late = all.slice(2, 4);
      const markers = { before: '#B', probes: '#P', after: '#A' };
      const { spawn } = await import('node:child_process');
      const run = (prog: ReturnType<typeof probeScript>, feed: string | null, delayMs: number) =>
        new Promise<{ code: number | null; stdout: string; ms: number }>((resolve) => {
          const t0 = Date.now();
          const c = spawn('ip', ['netns', 'exec', l.nodes[0]!.ns, 'sh', '-c', prog.script], {
            stdio: ['pipe', 'pipe', 'inherit'],
          });
          let stdout = '';
          c.stdout.on('data', (d) => (stdout += d));
          if (feed !== null) setTimeout(() => c.stdin.write(feed), delayMs);
          c.on('close', (code) => resolve({ code, stdout, ms: Date.now() - t0 }));
          setTimeout(() => c.stdin.end(), 15_000).unref();
        });
      const prog = probeScript(first, { count: 2, timeoutMs: 800, runner, markers, lateWaitMs: 8000 });
      const feed = prog.extend(late);
      const r = await run(prog, feed, 700);
      t.is(r.code, 0);
      const res = prog.decode('node1', r.stdout.slice(r.stdout.indexOf('#P\n'), r.stdout.indexOf('#A\n')));
      t.is(res.length, 4);
      for (const x of res) t.is(x.ok, 2, JSON.stringify(x));
      t.true(r.ms < 8000, `END ended the wait (took ${r.ms} ms)`);
      // nothing comes: the program stops waiting after lateWaitMs and reports the paths it had
      const quiet = probeScript(first, { count: 1, timeoutMs: 500, runner, markers, lateWaitMs: 1500 });
      const q = await run(quiet, null, 0);
      t.is(q.code, 0);
      t.true(q.ms >= 1400 && q.ms < 6000, `bounded wait (took ${q.ms} ms)`);
      t.true(quiet.decode('node1', q.stdout).every((x) => x.ok === 1));
    },
  );
}
