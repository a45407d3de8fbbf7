// Records the capture bundles the unit tests replay without root (test/fixtures/bundles/<case>/):
// real runs against a fresh lab, each with its report. Run as root: npm run lab:bundles
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from './lab.js';

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
try {
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
} finally {
  await lab.down();
  rmSync(kh, { recursive: true, force: true });
}
// the lab's addresses are fine to keep: 198.18.0.0/15 and 169.254.25.10 only
spawnSync('true');
