// `npm run bench` (root): the validator against namespace labs of N nodes, compared with what an
// operator would otherwise run (an Ansible ad-hoc `script` run that only gathers the same raw data).
//
//   npm run bench -- --nodes 1,10,20 --reps 3 [--fault] [--out bench/results.md]
//   npm run bench -- --synthetic 1000,5000 [--forks 50,200] [--bundle DIR]
//
// For each N, in the same run and alternating: (a) the validator over all N nodes, (b) the
// validator with --limit on one node, (c) `ansible all -m script` with forks = N. Medians of wall
// time, CPU time (user+sys) and peak RSS come from GNU time. With --fault the lab's checksum-offload fault
// (`checksum`) is on every node, and (a) must end within probe-timeout x probe-count + a small constant.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, type Lab } from '../test/lab/lab.js';
import { sshdPid } from '../test/lab/services.js';
import { savedPath } from '../test/lab/state.js';
import { DEFAULT_POD_IMAGE, podOverrides } from '../src/kubectl/pods.js';
import { planProbes } from '../src/probe/paths.js';
import type { ClusterModel } from '../src/types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const PROBE_COUNT = 3;
const PROBE_TIMEOUT_MS = 1000;

interface Sample {
  wallS: number;
  cpuS: number;
  rssMiB: number;
  code: number | null;
  machineS: number;
  /** CPU-seconds of everything the lab's sshds ran for the run (sessions, shells, probe programs) */
  nodeS: number;
}

/** CPU-seconds the whole machine has been busy (every process: the lab's nodes too), from /proc/stat. */
function machineBusyS(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
  return busy / 100; // USER_HZ
}

function commit(): string {
  const r = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '?';
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const CLK_TCK = 100;

/** The CPU time of a process and of its children it has reaped (utime stime cutime cstime). */
function procCpuS(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 14..17 of proc(5), counted from the state field (3)
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Node-side CPU: every lab node's sshd listener. A session's processes (the per-connection sshd,
 *  the shell, the probe program, what they start) are its descendants, each reaped by its parent,
 *  so once the sessions have ended their CPU time sits in the listener's cutime+cstime. The lab's
 *  DNS servers (unbound) are not sshd's children, nor is the validator, nor anything else running
 *  on this machine: the figure holds under load too. */
function nodeCpuS(lab: Lab | null): number {
  if (!lab) return 0;
  let s = 0;
  for (const n of lab.nodes) {
    try {
      s += procCpuS(Number(readFileSync(sshdPid(lab.dir, n.ns), 'utf8').trim()));
    } catch {
      /* a node without its sshd: nothing to count */
    }
  }
  return s;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run argv under GNU time; returns wall, user+sys and max RSS, the machine's busy CPU meanwhile,
 *  and (with a lab) the CPU its nodes spent. */
async function timed(argv: string[], env: NodeJS.ProcessEnv = {}, lab: Lab | null = null): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-bench-t-'));
  const out = join(dir, 'time');
  const n0 = nodeCpuS(lab);
  const m0 = machineBusyS();
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', out, ...argv], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 64 << 20,
  });
  const machineS = machineBusyS() - m0;
  // the sessions end as the run closes them: let the listeners reap them
  await pause(lab ? 500 : 0);
  const nodeS = nodeCpuS(lab) - n0;
  const [e, u, s, m] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0 && r.status !== 1)
    process.stderr.write(`  (exit ${r.status}: ${String(r.stderr).trim().split('\n').slice(-2).join(' | ')})\n`);
  return { wallS: e!, cpuS: u! + s!, rssMiB: m! / 1024, code: r.status, machineS, nodeS };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The raw data the validator collects, gathered the way an operator would with Ansible: the same
 *  commands, and one `dig` per probe path of the validator's own plan (same servers, names, types). */
function collectScript(lab: Lab): string {
  const cluster = {
    dnsDomain: lab.clusterDomain,
    serviceCidr: lab.serviceCidr,
    nodelocaldnsEnabled: true,
    nodelocaldnsIp: lab.nodelocaldnsIp,
    corednsIp: lab.corednsIp,
  } as ClusterModel;
  const endpoints = lab.endpoints.map((e) => ({ ip: e.ip, port: 53, nodeName: e.node, podName: e.pod, ready: true }));
  const digs = planProbes(cluster, endpoints, { externalName: lab.externalName }).map(
    (p) =>
      `dig @${p.server} -p ${p.port} ${p.transport === 'tcp' ? '+tcp' : '+notcp'} +tries=1 +time=1 ${p.name} ${p.type} || true`,
  );
  return (
    [
      '#!/bin/bash',
      'for s in iptables-legacy-save iptables-nft-save; do command -v $s >/dev/null && $s; done',
      'ip -d -j link; ip -j addr; ip -j route show default',
      'ethtool -k vxlan.calico || true; ethtool -k eth0 || true',
      'cat /proc/net/snmp /proc/net/netstat',
      'uname -r',
      ...digs,
      'cat /proc/net/snmp /proc/net/netstat',
    ].join('\n') + '\n'
  );
}

/** A pod on every node that has none (the lab's kubectl stand-in makes it as the kubelet and CNI
 *  would: a cni-… namespace wired to the node, an address from its block, a process holding it). */
function podsEverywhere(lab: Lab): void {
  const have = new Set(lab.endpoints.map((e) => e.node));
  for (const node of lab.nodes) {
    if (have.has(node.name)) continue;
    const r = spawnSync(
      process.execPath,
      [
        // re-run in the node's mount namespace from /: tsx by its path
        '--import',
        import.meta.resolve('tsx'),
        join(ROOT, 'test', 'lab', 'kubectl-pods.ts'),
        savedPath(lab.prefix),
        'run',
        `bench-${node.name}`,
        '-n',
        'default',
        `--image=${DEFAULT_POD_IMAGE}`,
        '--restart=Never',
        `--overrides=${JSON.stringify(podOverrides(node.name, DEFAULT_POD_IMAGE))}`,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`a pod on ${node.name}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
}

/** Top the machine up to `count` processes (idle `sleep`s): a node's /proc walk visits them all. */
function fillProcs(count: number): ChildProcess[] {
  const have = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;
  const kids: ChildProcess[] = [];
  for (let i = have; i < count; i++) kids.push(spawn('sleep', ['3600'], { stdio: 'ignore' }));
  return kids;
}

interface Scenario {
  fault: boolean;
  pods: boolean;
}

async function benchN(n: number, reps: number, sc: Scenario): Promise<string[]> {
  const { fault } = sc;
  const what = [fault ? 'checksum-offload fault on' : '', sc.pods ? 'a pod on every node' : ''].filter(Boolean);
  process.stderr.write(`\n== ${n} node(s)${what.length ? `, ${what.join(', ')}` : ''}: bringing the lab up\n`);
  const lab = await startLab({ nodes: n, prefix: `ksvb${n}` });
  const work = mkdtempSync(join(tmpdir(), 'ksv-bench-'));
  try {
    if (fault) await lab.fault('checksum');
    if (sc.pods) podsEverywhere(lab);
    const kh = join(work, 'known_hosts');
    // ansible-core rejects /dev/null as a config file: an empty one keeps user/system config out
    const ansibleCfg = join(work, 'ansible.cfg');
    writeFileSync(ansibleCfg, '[defaults]\n');
    const script = join(work, 'collect.sh');
    writeFileSync(script, collectScript(lab), { mode: 0o755 });
    const base = [
      '-i',
      lab.inventoryDir,
      '--known-hosts',
      kh,
      '--host-key-checking',
      'off',
      '-o',
      'json',
      '--progress',
      'none',
      '--probe-count',
      String(PROBE_COUNT),
      '--probe-timeout',
      String(PROBE_TIMEOUT_MS),
      '--forks',
      String(Math.max(20, n)),
    ];
    const a: Sample[] = [],
      b: Sample[] = [],
      c: Sample[] = [];
    for (let i = 0; i < reps; i++) {
      a.push(await timed([process.execPath, CLI, ...base], {}, lab));
      b.push(await timed([process.execPath, CLI, ...base, '--limit', lab.nodes[n - 1]!.name], {}, lab));
      const cp = mkdtempSync(join(tmpdir(), 'ksv-cp-'));
      c.push(
        await timed(
          ['ansible', 'all', '-i', lab.inventoryDir, '-m', 'ansible.builtin.script', '-a', script, '-f', String(n)],
          {
            ANSIBLE_CONFIG: ansibleCfg,
            ANSIBLE_HOST_KEY_CHECKING: 'False',
            ANSIBLE_LOCALHOST_WARNING: 'False',
            ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=${cp}/%C`,
            ANSIBLE_PYTHON_INTERPRETER: 'auto_silent',
          },
          lab,
        ),
      );
      rmSync(cp, { recursive: true, force: true });
      process.stderr.write(
        `  rep ${i + 1}: validator ${a[i]!.wallS}s, --limit 1 ${b[i]!.wallS}s, ansible ${c[i]!.wallS}s\n`,
      );
    }
    const scen = [fault ? 'fault' : 'healthy', sc.pods ? 'pods' : ''].filter(Boolean).join(', ');
    // node-side CPU per node: for (b) the one node limited to
    // Ansible's sessions outlive the run (ControlPersist): their CPU is not reaped yet
    const perNode = (s: Sample[], k: number) =>
      s === c ? '-' : ((median(s.map((x) => x.nodeS)) / k) * 1000).toFixed(1);
    const row = (name: string, s: Sample[], k = n) =>
      `| ${n} | ${scen} | ${name} | ${median(s.map((x) => x.wallS)).toFixed(2)} | ${median(s.map((x) => x.cpuS)).toFixed(2)} | ${perNode(s, k)} | ${median(s.map((x) => x.machineS)).toFixed(2)} | ${median(s.map((x) => x.rssMiB)).toFixed(0)} | ${s.map((x) => x.code).join(',')} |`;
    const wa = median(a.map((x) => x.wallS)),
      wb = median(b.map((x) => x.wallS)),
      wc = median(c.map((x) => x.wallS));
    const lines = [
      row('(a) validator, all nodes', a),
      // (b) connects to the node limited to and, for the endpoint lookup, the first control-plane node
      row('(b) validator, --limit 1 node', b, n > 1 ? 2 : 1),
      row('(c) ansible -m script', c),
    ];
    lines.push(
      `| ${n} | ${scen} | ratios | (c)/(a) = **${(wc / wa).toFixed(1)}x** | (a)/(b) = **${(wa / wb).toFixed(2)}x** | | | | |`,
    );
    // all N simulated nodes share this machine's cores: (a) cannot end before the machine has done
    // its busy CPU-seconds on them, whatever the validator does
    const cores = cpus().length;
    const floor = median(a.map((x) => x.machineS)) / cores;
    const nodesOnly = median(a.map((x) => x.machineS - x.cpuS)) / cores;
    lines.push(
      `| ${n} | ${scen} | floor of (a) on ${cores} cores | machine busy / cores = ${floor.toFixed(2)}s: (a)/(b) >= ${(floor / wb).toFixed(2)}x | nodes' share alone / cores = ${nodesOnly.toFixed(2)}s: (a)/(b) >= ${(nodesOnly / wb).toFixed(2)}x with a free validator | | | | |`,
    );
    if (fault)
      lines.push(
        `| ${n} | ${scen} | fault budget | probe timeout x count = ${(PROBE_TIMEOUT_MS * PROBE_COUNT) / 1000}s | (a) took ${wa.toFixed(2)}s | | | | |`,
      );
    return lines;
  } finally {
    await lab.down();
    rmSync(work, { recursive: true, force: true });
  }
}

/** --synthetic N,…: the whole validator against bench/synthetic.ts's cluster of N nodes answered
 *  from a recorded bundle, at each --forks; one GNU time sample per size and forks. Prints, last,
 *  one line per run: `nodes=N forks=F wall=…s cpu=…s rss=…MiB`. */
function synthetic(sizes: number[]): void {
  const forks = arg('forks', '50,200').split(',').map(Number);
  const bundle = arg('bundle', join(ROOT, 'test', 'fixtures', 'bundles', 'healthy'));
  const lines: string[] = [];
  for (const n of sizes)
    for (const f of forks) {
      const dir = mkdtempSync(join(tmpdir(), 'ksv-bench-s-'));
      const out = join(dir, 'out');
      const time = join(dir, 'time');
      const r = spawnSync(
        '/usr/bin/time',
        [
          '-f',
          '%e %U %S %M',
          '-o',
          time,
          'sh',
          '-c',
          // the progress display is rendered (plain lines) and thrown away, as a CI log would keep it
          `exec "$0" --import tsx "$1" --nodes "$2" --forks "$3" --bundle "$4" --progress plain >"$5" 2>/dev/null`,
          process.execPath,
          join(ROOT, 'bench', 'synthetic.ts'),
          String(n),
          String(f),
          bundle,
          out,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
      );
      const [e, u, sy, m] = readFileSync(time, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number);
      const detail = r.status === 0 ? readFileSync(out, 'utf8').trim() : `exit ${r.status}`;
      rmSync(dir, { recursive: true, force: true });
      process.stderr.write(`  ${detail}\n`);
      lines.push(
        `nodes=${n} forks=${f} wall=${e!.toFixed(1)}s cpu=${(u! + sy!).toFixed(1)}s rss=${(m! / 1024).toFixed(0)}MiB`,
      );
    }
  process.stderr.write(`  load average at the start ${load0}, at the end ${loadNow()}; commit ${commit()}\n`);
  process.stdout.write(lines.join('\n') + '\n');
}

const loadNow = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
const load0 = loadNow();

async function main(): Promise<void> {
  const sizes = arg('synthetic', '');
  if (sizes) return synthetic(sizes.split(',').map(Number));
  if (process.getuid?.() !== 0) throw new Error('npm run bench needs root (it builds namespace labs)');
  const ns = arg('nodes', '1,10,20').split(',').map(Number);
  const reps = Number(arg('reps', '3'));
  const fault = process.argv.includes('--fault');
  const pods = process.argv.includes('--pods');
  const procs = Number(arg('procs', '0'));
  const out = arg('out', join(ROOT, 'bench', 'results.md'));
  const rows: string[] = [];
  const kids = fillProcs(procs);
  try {
    for (const n of ns) rows.push(...(await benchN(n, reps, { fault: false, pods: false })));
    if (pods) for (const n of ns) rows.push(...(await benchN(n, reps, { fault: false, pods: true })));
    if (fault) for (const n of ns) rows.push(...(await benchN(n, reps, { fault: true, pods })));
  } finally {
    for (const k of kids) k.kill();
  }
  const doc = [
    '# Benchmark results',
    '',
    `Command: \`npm run bench -- --nodes ${ns.join(',')} --reps ${reps}${fault ? ' --fault' : ''}${pods ? ' --pods' : ''}${procs ? ` --procs ${procs}` : ''}\``,
    `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString()}`,
    `Probes: --probe-count ${PROBE_COUNT} --probe-timeout ${PROBE_TIMEOUT_MS}; medians of ${reps} alternating repetitions; wall/CPU seconds and peak RSS (MiB) from GNU time; machine CPU s = CPU-seconds the whole machine was busy meanwhile (/proc/stat: the lab's sshd, shells, probes and DNS servers too, and anything else running); node CPU ms/node = the CPU the lab's nodes spent on the run (every session's processes, reaped into their sshd listener's cutime+cstime, /proc/<pid>/stat; not the DNS servers, not the controller) over the nodes it ran on. Load average (1, 5, 15 min) at the start ${load0} and at the end ${loadNow()}; commit ${commit()}.`,
    '',
    '| nodes | lab | run | wall s | CPU s | node CPU ms/node | machine CPU s | peak RSS MiB | exit codes |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  writeFileSync(out, doc);
  process.stdout.write(doc);
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
