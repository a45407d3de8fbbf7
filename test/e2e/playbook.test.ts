// playbook-hooks/validate.yml for real: ansible-playbook (ansible-core) with the lab's inventory.
// Green on a healthy lab; red with the diagnosis visible on the seed's fault; the reports kept per
// inventory and the last green one used as the next run's baseline.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useLab } from '../lab/lab.js';
import { CLI, ROOT, tempKnownHosts } from './helpers.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 2 });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

// ansible-core ignores /dev/null as a config; give it an empty one so no user or system config leaks in
const cfgDir = mkdtempSync(join(tmpdir(), 'ksv-ansible-'));
writeFileSync(join(cfgDir, 'ansible.cfg'), '[defaults]\n');
test.after.always(() => rmSync(cfgDir, { recursive: true, force: true }));

function playbook(inventory: string, vars: Record<string, unknown> = {}): Promise<{ code: number | null; out: string }> {
  const extra = JSON.stringify({
    kubespray_validate_cmd: `${process.execPath} ${CLI}`,
    // a wide latency margin: this shared 2-core machine's p50 wobbles by a few ms between runs
    kubespray_validate_args: ['--known-hosts', kh.file, '--probe-count', '3', '--probe-timeout', '1500', '--latency-increase-ms', '50'],
    ...vars,
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

// the default kubespray_validate_state_dir: {{ inventory_dir }}/.kubespray-validate/
const state = () => join(lab().inventoryDir, '.kubespray-validate');
const kept = (file: string) => JSON.parse(readFileSync(join(state(), file), 'utf8')) as Report;

test.serial('healthy lab: the play is green, and its report is kept as the inventory\'s last green one', async (t) => {
  await lab().clear();
  rmSync(state(), { recursive: true, force: true });
  const { code, out } = await playbook(lab().inventoryDir);
  t.is(code, 0, out.slice(-4000));
  t.regex(out, /PASSED/);
  t.regex(out, /failed=0/);
  t.notRegex(out, /Changes since/, 'no baseline on the first run');
  t.is(kept('last.json').summary.exitCode, 0);
  t.deepEqual(kept('last-green.json'), kept('last.json'));
  t.is(statSync(state()).mode & 0o777, 0o750);
});

test.serial("seed's fault: the play fails, shows the checksum-offload diagnosis with its fix and the regressions since the last green run", async (t) => {
  const l = lab();
  await l.clear();
  const green = kept('last-green.json');
  await l.fault('checksum');
  try {
    const { code, out } = await playbook(l.inventoryDir);
    t.not(code, 0);
    t.regex(out, /kubespray-validate exited 1/);
    t.regex(out, /\[checksum-offload\]/);
    t.regex(out, /ethtool --offload vxlan\.calico rx off tx off/);
    // the last green report was the baseline: the output starts with what changed since then
    t.true(out.includes(`Changes since ${green.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`), out.slice(0, 3000));
    t.regex(out, /TASK \[Show the regressions since the last green run\]/);
    t.true(out.includes(`"Regressions since ${green.startedAt}:"`), 'the debug task names the baseline');
    t.regex(out, /node1: checksum-offload named \(fail\)/);
    t.regex(out, /Regressions since \S+: \d+ \(/, 'the failure message names them too');
    // kept: this run as the last one; the last green one is still the baseline
    const last = kept('last.json');
    t.is(last.summary.exitCode, 1);
    t.is(last.comparison?.baseline.startedAt, green.startedAt);
    t.true(last.comparison!.regressions.some((r) => r.kind === 'diagnosis' && r.id === 'checksum-offload'));
    t.deepEqual(kept('last-green.json'), green);
  } finally {
    await l.clear();
  }
});

test.serial('healthy again: green, the fault shows as resolved, and this run becomes the baseline', async (t) => {
  const before = kept('last-green.json');
  const { code, out } = await playbook(lab().inventoryDir);
  t.is(code, 0, out.slice(-4000));
  t.regex(out, /no regressions, \d+ resolved/);
  t.notRegex(out, /TASK \[Show the regressions since the last green run\]\s*\nok/);
  const green = kept('last-green.json');
  t.not(green.startedAt, before.startedAt);
  t.is(green.comparison?.baseline.startedAt, before.startedAt);
  t.deepEqual(kept('last.json'), green);
});

test.serial('kubespray_validate_state_dir: another directory, or "" to keep nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-state-'));
  try {
    const mine = join(dir, 'cluster-a');
    const first = await playbook(lab().inventoryDir, { kubespray_validate_state_dir: `${mine}/` });
    t.is(first.code, 0, first.out.slice(-3000));
    t.notRegex(first.out, /Changes since/, 'a new state directory has no baseline yet');
    t.true(existsSync(join(mine, 'last-green.json')));
    const second = await playbook(lab().inventoryDir, { kubespray_validate_state_dir: mine });
    t.regex(second.out, /Changes since/);
    // "" keeps nothing and uses no baseline, though the default directory holds one
    const lastBefore = readFileSync(join(state(), 'last.json'), 'utf8');
    const none = await playbook(lab().inventoryDir, { kubespray_validate_state_dir: '' });
    t.is(none.code, 0, none.out.slice(-3000));
    t.notRegex(none.out, /Changes since/);
    t.is(readFileSync(join(state(), 'last.json'), 'utf8'), lastBefore);
    // a directory that cannot be made: validated anyway, without a baseline
    const bad = await playbook(lab().inventoryDir, { kubespray_validate_state_dir: '/dev/null/ksv-state' });
    t.is(bad.code, 0, bad.out.slice(-3000));
    t.regex(bad.out, /TASK \[Keep the reports of this inventory[^\n]*\n(fatal|failed)[^\n]*\n[\s\S]*\.\.\.ignoring/);
    t.regex(bad.out, /PASSED/);
    t.notRegex(bad.out, /Changes since/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
