// Runs the real `ansible-inventory --list` (the oracle) with an empty config, from '/', on
// absolute paths; returns its JSON with the repository root replaced by "<root>".
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export function haveAnsible(): boolean {
  return spawnSync('sh', ['-c', 'command -v ansible-inventory'], { stdio: 'ignore' }).status === 0;
}

export function relativize(v: unknown, root: string): unknown {
  return JSON.parse(JSON.stringify(v).split(root).join('<root>'));
}

export function ansibleList(root: string, sources: string[]): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-ansible-'));
  try {
    writeFileSync(join(dir, 'ansible.cfg'), '[defaults]\n');
    const args = sources.flatMap((s) => ['-i', resolve(root, s)]);
    const out = execFileSync('ansible-inventory', [...args, '--list'], {
      cwd: '/',
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ANSIBLE_CONFIG: join(dir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False' },
    });
    return relativize(JSON.parse(out), resolve(root));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
