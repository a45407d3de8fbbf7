// playbook-hooks/validate.yml for real: ansible-playbook (ansible-core) with the lab's inventory.
// Green on a healthy lab; red with the diagnosis visible on the seed's fault.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

/** Runs the hook; by default with kubespray_validate_cmd set to the Node build. `vars` replace
 *  that (the validator lookup), `hook` is another copy of validate.yml, `-v` shows the facts set. */
function playbook(inventory: string, opts: { vars?: Record<string, unknown>; hook?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; out: string }> {
  const extra = JSON.stringify({
    ...(opts.vars ?? { kubespray_validate_cmd: `${process.execPath} ${CLI}` }),
    kubespray_validate_args: ['--known-hosts', kh.file, '--probe-count', '3', '--probe-timeout', '1500'],
  });
  return new Promise((resolve) => {
    const child = spawn('ansible-playbook', ['-v', '-i', inventory, opts.hook ?? join(ROOT, 'playbook-hooks', 'validate.yml'), '-e', extra], {
      cwd: '/',
      env: { ...process.env, ANSIBLE_CONFIG: join(cfgDir, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_PYTHON_INTERPRETER: 'auto_silent', ...opts.env },
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

// Where the hook finds the validator: kubespray_validate_cmd (above), else the single-file binary
// beside it (../dist/bin/ of a checkout with npm run build:binary), else kubespray-validate on PATH.
const BINARY = join(ROOT, 'dist', 'bin', `kubespray-validate-linux-${process.arch}`);
const ksvCmd = (out: string) => (/"_ksv_cmd": (\[[^\]]*\])/.exec(out)?.[1] ?? null);

/** playbook-hooks/ copied where no dist/bin/ is beside it, and a PATH without any kubespray-validate */
function elsewhere(t: ExecutionContext): { hook: string; bin: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-hooks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'playbook-hooks'), join(dir, 'playbook-hooks'), { recursive: true });
  mkdirSync(join(dir, 'bin'));
  const path = (process.env.PATH ?? '/usr/bin:/bin').split(':').filter((d) => d && !existsSync(join(d, 'kubespray-validate'))).join(':');
  return { hook: join(dir, 'playbook-hooks', 'validate.yml'), bin: join(dir, 'bin'), path };
}

test.serial("the binary beside the playbook, found by the hook itself: green when healthy, the seed's fault fails the play", async (t) => {
  const l = lab();
  await l.clear();
  const healthy = await playbook(l.inventoryDir, { vars: {} });
  t.is(healthy.code, 0, healthy.out.slice(-4000));
  t.is(ksvCmd(healthy.out), JSON.stringify([`${ROOT}/playbook-hooks/../dist/bin/kubespray-validate-linux-${process.arch}`]));
  t.regex(healthy.out, /PASSED/);
  await l.fault('checksum');
  try {
    const { code, out } = await playbook(l.inventoryDir, { vars: {} });
    t.not(code, 0);
    t.regex(out, /kubespray-validate exited 1/);
    t.regex(out, /\[checksum-offload\]/);
  } finally {
    await l.clear();
  }
});

test.serial('kubespray-validate on PATH when no binary is beside the playbook', async (t) => {
  const l = lab();
  await l.clear();
  const { hook, bin, path } = elsewhere(t);
  symlinkSync(BINARY, join(bin, 'kubespray-validate'));
  const { code, out } = await playbook(l.inventoryDir, { vars: {}, hook, env: { PATH: `${bin}:${path}` } });
  t.is(code, 0, out.slice(-4000));
  t.is(ksvCmd(out), JSON.stringify([join(bin, 'kubespray-validate')]));
  t.regex(out, /PASSED/);
});

test.serial('kubespray_validate_binary names the binary; no validator anywhere fails the play with one line saying how to install it', async (t) => {
  const l = lab();
  const { hook, bin, path } = elsewhere(t);
  const named = await playbook(l.inventoryDir, { vars: { kubespray_validate_binary: BINARY }, hook, env: { PATH: path } });
  t.is(named.code, 0, named.out.slice(-4000));
  t.is(ksvCmd(named.out), JSON.stringify([BINARY]));

  const none = await playbook(l.inventoryDir, { vars: {}, hook, env: { PATH: path } });
  t.not(none.code, 0);
  t.is(ksvCmd(none.out), '[]');
  const msg = /"msg": "([^"]*)"/.exec(none.out)?.[1] ?? '';
  t.regex(msg, /^kubespray-validate not found on the controller: put the binary kubespray-validate-linux-\w+ in dist\/bin\/ beside playbook-hooks\/ .*npm install -g/);
  t.notRegex(none.out, /Run kubespray-validate on the controller/);

  const notExecutable = join(bin, 'not-executable');
  writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
  const bad = await playbook(l.inventoryDir, { vars: { kubespray_validate_binary: notExecutable }, hook, env: { PATH: path } });
  t.not(bad.code, 0);
  t.regex(bad.out, new RegExp(`"msg": "kubespray-validate: ${notExecutable} is not an executable file on the controller \\(kubespray_validate_binary\\)`));
});
