// Records the capture bundles the unit tests replay without root (test/fixtures/bundles/<case>/):
// real runs against a fresh lab, each with its report. Run as root: npm run lab:bundles
// (`npm run lab:bundles -- ipvs`: the ipvs-* bundles only, see ipvs-bundles.ts).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from './lab.js';
import { gonePodIp } from './faults.js';
import { ipvsStates, spliceBundle, type NodeIpvs } from './ipvs-bundles.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const OUT = join(ROOT, 'test', 'fixtures', 'bundles');

function run(args: string[], interruptAfterMs?: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (interruptAfterMs) setTimeout(() => child.kill('SIGINT'), interruptAfterMs);
    child.on('close', resolve);
  });
}

const lab = await startLab({ nodes: 3, prefix: 'ksvbundles' });
const kh = mkdtempSync(join(tmpdir(), 'ksv-kh-'));
const base = [
  '-i',
  lab.inventoryDir,
  '--known-hosts',
  join(kh, 'known_hosts'),
  '--progress',
  'none',
  '--probe-count',
  '3',
  '--probe-timeout',
  '1500',
  '-o',
  'json',
];
const rec = (name: string) => {
  const dir = join(OUT, name);
  rmSync(dir, { recursive: true, force: true });
  return ['--record', dir];
};
const onlyIpvs = process.argv[2] === 'ipvs';
try {
  if (!onlyIpvs) await recordCore();
  // kube_proxy_mode ipvs on a lab without IPVS (see ipvs-bundles.ts)
  console.error(
    'ipvs bundles: this kernel has no IPVS; the lab runs kube-proxy iptables-mode rules, and the IPVS tables come from public captures',
  );
  const states = ipvsStates(lab.nodes, lab.endpoints, lab.corednsIp, gonePodIp(lab.endpoints));
  const ipvsCase = async (
    name: string,
    state: (node: string) => NodeIpvs,
    fault?: 'ipvs-stale' | 'ipvs-no-real-server' | 'ipvs-no-address',
    nodes?: string[],
  ) => {
    if (fault) await lab.fault(fault, nodes ? { nodes } : undefined);
    console.error(`${name}:`, await run([...base, '-e', 'kube_proxy_mode=ipvs', ...rec(name)]));
    await spliceBundle(
      join(OUT, name),
      lab.corednsIp,
      Object.fromEntries(lab.nodes.map((n) => [n.name, state(n.name)])),
    );
    await lab.clear();
  };
  await ipvsCase('ipvs-healthy', states.healthy);
  await ipvsCase('ipvs-stale-node2', states.stale, 'ipvs-stale', ['node2']);
  await ipvsCase('ipvs-no-real-server', states.noRealServer, 'ipvs-no-real-server');
  await ipvsCase('ipvs-no-address-node3', states.noAddress, 'ipvs-no-address', ['node3']);
} finally {
  await lab.down();
  rmSync(kh, { recursive: true, force: true });
}

async function recordCore(): Promise<void> {
  console.error('healthy:', await run([...base, ...rec('healthy')]));
  await lab.fault('checksum', { nodes: ['node2'] });
  console.error('seed-node2:', await run([...base, ...rec('seed-node2')]));
  console.error('seed-node2-fix:', await run([...base, '--fix', ...rec('seed-node2-fix')]));
  await lab.clear();
  await lab.fault('checksum', { nodes: ['node2'] });
  console.error('interrupted:', await run([...base, '--probe-timeout', '4000', ...rec('interrupted')], 3000));
  await lab.clear();
  console.error(
    'limit-no-control-plane:',
    await run([...base, '--limit', 'node2,node3', ...rec('limit-no-control-plane')]),
  );
  await lab.fault('endpoint-down');
  console.error('endpoint-down:', await run([...base, ...rec('endpoint-down')]));
  await lab.clear();
  await lab.fault('pod-to-host-blocked', { nodes: ['node2'] });
  console.error('pod-to-host-node2:', await run([...base, ...rec('pod-to-host-node2')]));
  await lab.clear();
  // node3 has no pod of its own: --pod-probes create makes one there (kubectl run/get/delete recorded)
  await lab.fault('pod-to-host-blocked', { nodes: ['node3'] });
  console.error('pod-create-node3:', await run([...base, '--pod-probes', 'create', ...rec('pod-create-node3')]));
  await lab.clear();
  // the resolver chain: node2's file names NodeLocalDNS (kubectl's pod state and loop line recorded);
  // the upstream down (the upstream servers asked from every node)
  await lab.fault('resolv-loop', { nodes: ['node2'] });
  console.error('resolv-loop-node2:', await run([...base, ...rec('resolv-loop-node2')]));
  await lab.clear();
  await lab.fault('upstream-down');
  console.error('upstream-down:', await run([...base, ...rec('upstream-down')]));
  await lab.clear();
  await lab.fault('sshd-down', { nodes: ['node3'] });
  console.error('sshd-down-node3:', await run([...base, ...rec('sshd-down-node3')]));
  await lab.clear();
}
// the lab's addresses are fine to keep: 198.18.0.0/15 and 169.254.25.10 only
spawnSync('true');
