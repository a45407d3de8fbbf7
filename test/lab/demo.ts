// `npm run demo` (as root): a 3-node namespace lab, the checksum offload fault, the validator finding it,
// then `--fix` making it pass, then tear-down — whatever happens in between.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLab, type Lab } from './lab.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');

function say(s: string): void {
  process.stdout.write(`\n\u001b[1m==> ${s}\u001b[0m\n`);
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write(
      'npm run demo needs root: it builds network namespaces, veths and a VXLAN overlay (try: sudo npm run demo)\n',
    );
    return 2;
  }
  if (!existsSync(CLI)) {
    process.stderr.write('the validator is not built yet: run `npm ci` (or `npm run build`) first\n');
    return 2;
  }
  const khDir = mkdtempSync(join(tmpdir(), 'ksv-demo-'));
  let lab: Lab | null = null;
  const teardown = async () => {
    if (lab) await lab.down().catch(() => undefined);
    lab = null;
    rmSync(khDir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      void teardown().finally(() => process.exit(130));
    });
  try {
    say('Bringing up a 3-node Kubespray-like lab (Calico VXLAN, CoreDNS, NodeLocalDNS) in network namespaces');
    lab = await startLab({ nodes: 3, prefix: 'ksvdemo' });
    process.stdout.write(
      `inventory: ${lab.inventoryDir}\nnodes: ${lab.nodes.map((n) => `${n.name}=${n.address}`).join(' ')}\n`,
    );
    say('Injecting the fault: checksum offload corrupting TCP DNS across vxlan.calico on every node');
    await lab.fault('checksum');
    const args = [
      '-i',
      lab.inventoryDir,
      '--known-hosts',
      join(khDir, 'known_hosts'),
      '--probe-count',
      '3',
      '--probe-timeout',
      '800',
    ];
    say(`kubespray-validate ${args.join(' ')}`);
    const first = spawnSync(process.execPath, [CLI, ...args], { stdio: 'inherit' });
    process.stdout.write(`\n(exit code ${first.status}: 1 means a check failed)\n`);
    say(`kubespray-validate ${args.join(' ')} --fix`);
    const second = spawnSync(process.execPath, [CLI, ...args, '--fix'], { stdio: 'inherit' });
    process.stdout.write(`\n(exit code ${second.status}: 0 means every check passed after the fix)\n`);
    return first.status === 1 && second.status === 0 ? 0 : 1;
  } finally {
    say('Tearing the lab down');
    await teardown();
  }
}

process.exitCode = await main();
