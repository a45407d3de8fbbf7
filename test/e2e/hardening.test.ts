// Hardening against real OpenSSH and real sockets in the lab: hostile DNS replies, a peer that
// accepts and never speaks SSH, a node that stalls mid-command, a connection dropped mid-run,
// SIGINT mid-run (partial report, nothing left running on the nodes), hostile inventory values
// that must never execute, and planted secrets that must never be printed.
import test from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { useLab, type Lab } from '../lab/lab.js';
import { CLI, runCli, tempKnownHosts } from './helpers.js';
import { probeScript } from '../../src/probe/program.js';
import type { ProbePath } from '../../src/probe/paths.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3, users: true });
const kh = tempKnownHosts();
const work = mkdtempSync(join(tmpdir(), 'ksv-hard-'));
test.after.always(() => {
  kh.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const BASE = [
  '--known-hosts',
  kh.file,
  '--progress',
  'none',
  '--probe-count',
  '2',
  '--probe-timeout',
  '800',
  '--timeout',
  '3',
];

/** A copy of the lab inventory with extra host_vars. */
function inventoryWith(l: Lab, hostVars: Record<string, Record<string, unknown>>): string {
  const dir = mkdtempSync(join(work, 'inv-'));
  cpSync(l.inventoryDir, dir, { recursive: true });
  mkdirSync(join(dir, 'host_vars'), { recursive: true });
  for (const [h, v] of Object.entries(hostVars)) writeFileSync(join(dir, 'host_vars', `${h}.json`), JSON.stringify(v));
  return dir;
}

/** A small Python server in a node's namespace (killed at the end, and with the lab anyway). */
function pyServer(l: Lab, node: string, code: string): ChildProcess {
  const ns = l.nodes.find((n) => n.name === node)!.ns;
  // the lab's hardened INPUT chain rejects everything but SSH and VXLAN: open the test ports
  for (const p of ['tcp', 'udp'])
    spawnSync('ip', [
      'netns',
      'exec',
      ns,
      'iptables',
      '-w',
      '-I',
      'INPUT',
      '-p',
      p,
      '-m',
      'multiport',
      '--dports',
      '2222,5301:5307',
      '-j',
      'ACCEPT',
    ]);
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', code], { stdio: 'ignore' });
  return child;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.serial('hostile DNS replies are failed probes, never a crash or a hang', async (t) => {
  const l = lab();
  const addr = l.nodes[1]!.address;
  // 5301 udp: wrong id; 5302 udp: garbage; 5303 udp: TC bit; 5304 udp: wrong question;
  // 5305 tcp: length prefix that lies; 5306 tcp: a flood; 5307 tcp: accepts, never answers
  const srv = pyServer(
    l,
    'node2',
    `
import socket, threading, struct, time
A = ${JSON.stringify(addr)}
def udp(port, mk):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((A, port))
    while True:
        q, peer = s.recvfrom(4096); s.sendto(mk(q), peer)
def tcp(port, handle):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((A, port)); s.listen(50)
    while True:
        c, _ = s.accept(); threading.Thread(target=handle, args=(c,), daemon=True).start()
def resp(q, flags=0x8180):
    return q[:2] + struct.pack('>HHHHH', flags, 1, 1, 0, 0) + q[12:] + bytes.fromhex('c00c000100010000000000040a000001')
def lie(c):
    c.recv(4096); c.sendall(b'\\xff\\xff' + b'\\x00' * 10); time.sleep(30)
def flood(c):
    c.recv(4096)
    try:
        while True: c.sendall(b'\\x41' * 65536)
    except Exception: pass
def silent(c):
    time.sleep(30)
for port, mk in [(5301, lambda q: bytes([q[0] ^ 0xff, q[1]]) + resp(q)[2:]), (5302, lambda q: b'\\x00\\x01garbage'), (5303, lambda q: resp(q, 0x8380)), (5304, lambda q: resp(q[:13] + b'x' + q[14:]))]:
    threading.Thread(target=udp, args=(port, mk), daemon=True).start()
for port, h in [(5305, lie), (5306, flood), (5307, silent)]:
    threading.Thread(target=tcp, args=(port, h), daemon=True).start()
time.sleep(120)
`,
  );
  try {
    await sleep(500);
    const name = `kubernetes.default.svc.${l.clusterDomain}`;
    const p = (port: number, transport: 'udp' | 'tcp'): ProbePath => ({
      role: 'coredns-endpoint',
      server: addr,
      port,
      transport,
      name,
      type: 'A',
      internal: true,
      endpointHost: null,
    });
    const paths = [
      p(5301, 'udp'),
      p(5302, 'udp'),
      p(5303, 'udp'),
      p(5304, 'udp'),
      p(5305, 'tcp'),
      p(5306, 'tcp'),
      p(5307, 'tcp'),
      p(53, 'udp'),
    ];
    for (const runner of ['python3', 'bash'] as const) {
      const prog = probeScript(paths, { count: 2, timeoutMs: 700, runner });
      const t0 = Date.now();
      const r = spawnSync('ip', ['netns', 'exec', l.nodes[0]!.ns, 'sh', '-c', prog.script], {
        encoding: 'utf8',
        timeout: 30_000,
        maxBuffer: 64 << 20,
      });
      const ms = Date.now() - t0;
      let res: ReturnType<typeof prog.decode> = [];
      t.notThrows(() => (res = prog.decode('node1', r.stdout)));
      t.true(
        res.every((x) => (x.ok ?? 0) === 0),
        `${runner}: ${JSON.stringify(res.map((x) => [x.server, x.transport, x.errors]))}`,
      );
      const errs = Object.assign({}, ...res.slice(0, 4).map((x) => x.errors));
      if (runner === 'python3')
        for (const e of ['bad-id', 'garbage', 'truncated', 'bad-question'])
          t.truthy(errs[e], `${e} in ${JSON.stringify(errs)}`);
      t.true(ms < 2 * 700 + 1500 + 4000, `${runner} took ${ms} ms`);
    }
  } finally {
    srv.kill('SIGKILL');
  }
});

test.serial('a peer that accepts and never speaks SSH costs its timeout; the others are checked', async (t) => {
  const l = lab();
  const srv = pyServer(
    l,
    'node1',
    `
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((${JSON.stringify(l.nodes[0]!.address)}, 2222)); s.listen(5)
held = []
while True:
    c, _ = s.accept(); held.append(c)
`,
  );
  try {
    await sleep(400);
    const inv = inventoryWith(l, { node1: { ansible_port: 2222 } });
    const run = await runCli(['-i', inv, ...BASE, '-o', 'json']);
    const report = JSON.parse(run.stdout) as Report;
    t.is(run.code, 3, run.stderr);
    const n1 = report.hosts.find((h) => h.name === 'node1')!;
    t.false(n1.inspected);
    t.regex(n1.error ?? '', /timed out|no SSH session/);
    t.true(report.hosts.filter((h) => h.name !== 'node1').every((h) => h.inspected));
    t.true(run.ms < 3000 + 8000, `took ${run.ms} ms`);
  } finally {
    srv.kill('SIGKILL');
  }
});

test.serial('a node that stalls mid-command costs at most the command budget', async (t) => {
  const l = lab();
  const inv = inventoryWith(l, { node2: { ansible_user: l.users!.stall } });
  const run = await runCli(
    ['-i', inv, ...BASE, '--probe-count', '1', '--probe-timeout', '500', '-o', 'json'],
    {},
    60_000,
  );
  if (!run.stdout) t.fail(`no report (exit ${run.code}, ${run.ms} ms): ${run.stderr.slice(0, 2000)}`);
  const report = JSON.parse(run.stdout) as Report;
  t.is(run.code, 3, run.stderr);
  const n2 = report.hosts.find((h) => h.name === 'node2')!;
  t.false(n2.inspected);
  t.regex(n2.error ?? '', /did not finish within/);
  t.true(report.hosts.filter((h) => h.name !== 'node2').every((h) => h.inspected));
  t.true(run.ms < 500 + 15_000 + 5000, `took ${run.ms} ms`);
  // the fixture's ForceCommand (sleep 3600) is sshd's, not ours: sshd leaves it when the channel closes
  const ns = l.nodes[1]!.ns;
  for (const p of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('sleep\u00003600')) spawnSync('kill', ['-9', p]);
    } catch {
      /* gone */
    }
  }
});

function nodeProcs(l: Lab, node: string): string[] {
  const ns = l.nodes.find((n) => n.name === node)!.ns;
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  return pids
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      } catch {
        return '';
      }
    })
    .filter(Boolean);
}

test.serial(
  'SIGINT mid-run: partial report with unfinished hosts marked, exit 130, nothing left running on the nodes',
  async (t) => {
    const l = lab();
    await l.fault('checksum', { nodes: ['node2'] }); // TCP across the overlay times out: node2's probes run long
    const report = join(work, 'partial.json');
    try {
      const child = spawn(
        process.execPath,
        [
          CLI,
          '-i',
          l.inventoryDir,
          ...BASE,
          '--probe-count',
          '3',
          '--probe-timeout',
          '4000',
          '-o',
          'json',
          '--report',
          report,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      await sleep(3000);
      t.true(
        nodeProcs(l, 'node2').some((c) => c.includes('python3')),
        'the probes run on node2',
      );
      const t0 = Date.now();
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.on('close', r));
      t.is(code, 130);
      t.true(Date.now() - t0 < 3000, 'ends promptly');
      const r = JSON.parse(out) as Report;
      t.is(r.interrupted, 'SIGINT');
      t.false(r.hosts.find((h) => h.name === 'node2')!.inspected);
      t.regex(r.hosts.find((h) => h.name === 'node2')!.error ?? '', /interrupted/);
      t.true(existsSync(report));
      t.is((JSON.parse(readFileSync(report, 'utf8')) as Report).interrupted, 'SIGINT');
      await sleep(1500);
      // the lab's own daemons and its checksum-fault watcher (a sh loop around ethtool and sleep) stay
      const left = nodeProcs(l, 'node2').filter(
        (c) => !/sshd|unbound|sleep 0\.2|ethtool -k vxlan|while ethtool/.test(c),
      );
      t.deepEqual(left, [], 'no stray processes on the node');
    } finally {
      await l.clear();
    }
  },
);

test.serial('a connection dropped mid-run is reported for that node only', async (t) => {
  const l = lab();
  await l.fault('checksum', { nodes: ['node3'] }); // TCP across the overlay times out: node3's probes run long
  try {
    const child = spawn(
      process.execPath,
      [CLI, '-i', l.inventoryDir, ...BASE, '--probe-count', '3', '--probe-timeout', '3000', '-o', 'json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await sleep(2500);
    // every sshd process of node3 (listener and session): the TCP connection goes away
    const ns = l.nodes[2]!.ns;
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const p of pids) {
      try {
        if (/sshd/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8'))) spawnSync('kill', ['-9', p]);
      } catch {
        /* already gone */
      }
    }
    const code = await new Promise<number | null>((r) => child.on('close', r));
    const r = JSON.parse(out) as Report;
    t.is(
      code,
      3,
      JSON.stringify({ hosts: r.hosts, diagnoses: r.diagnoses.map((d) => [d.id, d.severity, d.hosts, d.summary]) }),
    );
    t.false(r.hosts.find((h) => h.name === 'node3')!.inspected);
    t.regex(r.hosts.find((h) => h.name === 'node3')!.error ?? '', /dropped|lost|closed|disconnected|did not finish/);
    t.true(r.hosts.filter((h) => h.name !== 'node3').every((h) => h.inspected));
  } finally {
    await l.clear();
    await l.clear('sshd-down');
  }
});

test.serial(
  'hostile values in every variable that reaches a node are refused before connecting; nothing runs',
  async (t) => {
    const l = lab();
    const marker = `/tmp/ksv-pwned-${randomBytes(4).toString('hex')}`;
    const evil = [
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      `x; touch ${marker}`,
      `x' ; touch ${marker}; '`,
      `x\ntouch ${marker}`,
    ];
    const vars = [
      'nodelocaldns_ip',
      'cluster_name',
      'dns_domain',
      'kube_service_addresses',
      'bin_dir',
      'kube_config_dir',
      'ansible_user',
      'ansible_host',
      'ansible_port',
      'ansible_become_user',
      'calico_vxlan_port',
    ];
    let cases = 0;
    for (const v of vars) {
      for (const e of evil) {
        const r = await runCli(['-i', l.inventoryDir, ...BASE, '-e', JSON.stringify({ [v]: e })]);
        t.is(r.code, 2, `${v}=${JSON.stringify(e)}: ${r.stderr}`);
        t.is(r.stderr.trim().split('\n').length, 1);
        cases++;
      }
    }
    const ext = await runCli(['-i', l.inventoryDir, ...BASE, '--external-name', `$(touch ${marker})`]);
    t.is(ext.code, 2);
    t.false(existsSync(marker), 'no hostile value executed');
    t.log(`${cases + 1} hostile values refused`);
  },
);

test.serial('planted secrets never reach stdout, stderr, the JSON/JUnit report or error messages', async (t) => {
  const l = lab();
  const secret = `Planted-${randomBytes(6).toString('hex')}`;
  const runs: { name: string; args: string[]; inv?: string }[] = [
    {
      name: 'success, become password set',
      args: [
        '-e',
        JSON.stringify({
          ansible_user: l.users!.passwd,
          ansible_become_password: l.users!.password,
          ansible_ssh_pass: secret,
        }),
      ],
    },
    {
      name: 'sudo failure',
      args: ['-e', JSON.stringify({ ansible_user: l.users!.passwd, ansible_become_password: secret })],
    },
    { name: 'auth failure', args: ['-e', JSON.stringify({ ansible_user: 'nobody', ansible_password: secret })] },
    {
      name: 'timeout',
      args: ['-e', JSON.stringify({ ansible_port: 2, ansible_password: secret, ansible_become_password: secret })],
    },
  ];
  for (const r of runs) {
    const reportFile = join(work, `secret-${r.name.replace(/\W+/g, '-')}.json`);
    for (const output of ['json', 'junit', 'human']) {
      const res = await runCli(['-i', l.inventoryDir, ...BASE, '-o', output, '--report', reportFile, ...r.args]);
      t.true(res.code !== null && res.code !== 2, `${r.name}: ${res.stderr}`);
      t.false(res.stdout.includes(secret), `${r.name} ${output}: stdout`);
      t.false(res.stderr.includes(secret), `${r.name} ${output}: stderr`);
      t.false(readFileSync(reportFile, 'utf8').includes(secret), `${r.name}: --report`);
      t.false(res.stdout.includes(l.users!.password), `${r.name}: the real become password`);
    }
  }
  const inv = await runCli([
    'inventory',
    '-i',
    l.inventoryDir,
    '--list',
    '-e',
    JSON.stringify({ ansible_password: secret, ansible_become_pass: secret }),
  ]);
  t.is(inv.code, 0);
  t.false(inv.stdout.includes(secret));
  t.false(
    readFileSync(l.keyFile, 'utf8')
      .split('\n')
      .slice(1, 3)
      .some((line) => line && inv.stdout.includes(line)),
    'key contents never printed',
  );
});
