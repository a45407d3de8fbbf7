// playbook-hooks/validate.yml for real: ansible-playbook (ansible-core) with the lab's inventory.
// Green on a healthy lab; red with the diagnosis visible on the seed's fault.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useLab } from '../lab/lab.js';
import { CLI, ROOT, tempKnownHosts } from './helpers.js';

const lab = useLab(test, { nodes: 2 });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

// ansible-core ignores /dev/null as a config; give it an empty one so no user or system config leaks in
const cfgDir = mkdtempSync(join(tmpdir(), 'ksv-ansible-'));
writeFileSync(join(cfgDir, 'ansible.cfg'), '[defaults]\n');
test.after.always(() => rmSync(cfgDir, { recursive: true, force: true }));

function playbook(inventory: string): Promise<{ code: number | null; out: string }> {
  const extra = JSON.stringify({
    kubespray_validate_cmd: `${process.execPath} ${CLI}`,
    kubespray_validate_args: ['--known-hosts', kh.file, '--probe-count', '3', '--probe-timeout', '1500'],
  });
  return new Promise((resolve) => {
    const child = spawn('ansible-playbook', ['-i', inventory, join(ROOT, 'playbook-hooks', 'validate.yml'), '-e', extra], {
      cwd: '/',
      env: { ...process.env, ANSIBLE_CONFIG: join(cfgDir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_PYTHON_INTERPRETER: 'auto_silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

test.serial('healthy lab: the play is green', async (t) => {
  await lab().clear();
  const { code, out } = await playbook(lab().inventoryDir);
  t.is(code, 0, out.slice(-4000));
  t.regex(out, /PASSED/);
  t.regex(out, /failed=0/);
});

test.serial("seed's fault: the play fails and shows the checksum-offload diagnosis with its fix", async (t) => {
  const l = lab();
  await l.clear();
  await l.fault('checksum');
  try {
    const { code, out } = await playbook(l.inventoryDir);
    t.not(code, 0);
    t.regex(out, /kubespray-validate exited 1/);
    t.regex(out, /\[checksum-offload\]/);
    t.regex(out, /ethtool --offload vxlan\.calico rx off tx off/);
  } finally {
    await l.clear();
  }
});
