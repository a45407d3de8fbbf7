// playbook-hooks/validate.yml for real: ansible-playbook (ansible-core) with the lab's inventory.
// Green on a healthy lab; red with the diagnosis visible on the checksum fault; the reports kept per
// inventory and the last green one used as the next run's baseline; the validator found by the hook.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
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

/** Runs the hook with kubespray_validate_cmd set to the Node build unless `vars` say otherwise;
 *  `hook` is another copy of validate.yml; `-v` shows the facts set (_ksv_cmd). */
function playbook(
  inventory: string,
  vars: Record<string, unknown> = {},
  opts: { hook?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; out: string }> {
  const extra = JSON.stringify({
    kubespray_validate_cmd: `${process.execPath} ${CLI}`,
    // a wide latency margin: this shared 2-core machine's p50 wobbles by a few ms between runs
    kubespray_validate_args: [
      '--known-hosts',
      kh.file,
      '--probe-count',
      '3',
      '--probe-timeout',
      '1500',
      '--latency-increase-ms',
      '50',
    ],
    ...vars,
  });
  return new Promise((resolve) => {
    const child = spawn(
      'ansible-playbook',
      ['-v', '-i', inventory, opts.hook ?? join(ROOT, 'playbook-hooks', 'validate.yml'), '-e', extra],
      {
        cwd: '/',
        env: {
          ...process.env,
          ANSIBLE_CONFIG: join(cfgDir, 'ansible.cfg'),
          ANSIBLE_NOCOLOR: '1',
          ANSIBLE_LOCALHOST_WARNING: 'False',
          ANSIBLE_PYTHON_INTERPRETER: 'auto_silent',
          ...opts.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** The lines of the fail task's message (the default callback prints it as a JSON string). */
function failureMessage(out: string): string[] {
  const m = /TASK \[Fail the play when the cluster did not validate\][\s\S]*?FAILED! => (\{.*\})\n/.exec(out);
  return m ? String((JSON.parse(m[1]!) as { msg: string }).msg).split('\n') : [];
}

// the default kubespray_validate_state_dir: {{ inventory_dir }}/.kubespray-validate/
const state = () => join(lab().inventoryDir, '.kubespray-validate');
const kept = (file: string) => JSON.parse(readFileSync(join(state(), file), 'utf8')) as Report;

test.serial("healthy lab: the play is green, and its report is kept as the inventory's last green one", async (t) => {
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
  t.regex(readFileSync(join(state(), 'last.html'), 'utf8'), /<span class="verdict ok" id="verdict">PASSED<\/span>/);
});

test.serial(
  'the checksum fault: the play fails, shows the checksum-offload diagnosis with its fix and the regressions since the last green run',
  async (t) => {
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
      t.true(
        out.includes(`Changes since ${green.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`),
        out.slice(0, 3000),
      );
      t.regex(out, /TASK \[Show the regressions since the last green run\]/);
      t.true(out.includes(`"Regressions since ${green.startedAt}:"`), 'the debug task names the baseline');
      t.regex(out, /node1: checksum-offload named \(fail\)/);
      t.regex(out, /Regressions since \S+: \d+ \(/, 'the failure message names them too');
      // the failure message: at most 10 lines, the diagnosis with its fix, where the whole report is
      const msg = failureMessage(out);
      t.true(msg.length > 0 && msg.length <= 10, msg.join('\n'));
      t.regex(
        msg[0]!,
        /^kubespray-validate exited 1 \(a check failed\): \d+ diagnosis\(es\), \d+ failed check\(s\) on 2 node\(s\)$/,
      );
      const d = msg.findIndex((l) => l.startsWith('[checksum-offload] on '));
      t.true(d > 0, msg.join('\n'));
      t.regex(msg[d + 1]!, /^ {2}fix: .*ethtool --offload vxlan\.calico rx off tx off/);
      t.is(msg.at(-1), `The whole report: ${state()}/last.json, as a page: ${state()}/last.html`);
      // the page beside last.json, of this run
      const page = readFileSync(join(state(), 'last.html'), 'utf8');
      t.regex(page, /data-diagnosis="checksum-offload"/);
      t.regex(page, /<table class="matrix">/);
      // kept: this run as the last one; the last green one is still the baseline
      const last = kept('last.json');
      t.is(last.summary.exitCode, 1);
      t.is(last.comparison?.baseline.startedAt, green.startedAt);
      t.true(last.comparison!.regressions.some((r) => r.kind === 'diagnosis' && r.id === 'checksum-offload'));
      t.deepEqual(kept('last-green.json'), green);
    } finally {
      await l.clear();
    }
  },
);

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

// Where the hook finds the validator: kubespray_validate_cmd (above), else the single-file binary
// beside it (../dist/bin/ of a checkout with npm run build:binary), else kubespray-validate on PATH.
const BINARY = join(ROOT, 'dist', 'bin', `kubespray-validate-linux-${process.arch}`);
// the validator found by the hook, and no state kept: the baseline tests above own that
const LOOKUP = { kubespray_validate_cmd: null, kubespray_validate_state_dir: '' };
const ksvCmd = (out: string) => /"_ksv_cmd": (\[[^\]]*\])/.exec(out)?.[1] ?? null;

/** playbook-hooks/ copied where no dist/bin/ is beside it, and a PATH without any kubespray-validate */
function elsewhere(t: ExecutionContext): { hook: string; bin: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-hooks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(ROOT, 'playbook-hooks'), join(dir, 'playbook-hooks'), { recursive: true });
  mkdirSync(join(dir, 'bin'));
  const path = (process.env.PATH ?? '/usr/bin:/bin')
    .split(':')
    .filter((d) => d && !existsSync(join(d, 'kubespray-validate')))
    .join(':');
  return { hook: join(dir, 'playbook-hooks', 'validate.yml'), bin: join(dir, 'bin'), path };
}

test.serial(
  'the binary beside the playbook, found by the hook itself: green when healthy, the checksum fault fails the play',
  async (t) => {
    const l = lab();
    await l.clear();
    const healthy = await playbook(l.inventoryDir, LOOKUP);
    t.is(healthy.code, 0, healthy.out.slice(-4000));
    t.is(
      ksvCmd(healthy.out),
      JSON.stringify([`${ROOT}/playbook-hooks/../dist/bin/kubespray-validate-linux-${process.arch}`]),
    );
    t.regex(healthy.out, /PASSED/);
    await l.fault('checksum');
    try {
      const { code, out } = await playbook(l.inventoryDir, LOOKUP);
      t.not(code, 0);
      t.regex(out, /kubespray-validate exited 1/);
      t.regex(out, /\[checksum-offload\]/);
    } finally {
      await l.clear();
    }
  },
);

test.serial('kubespray-validate on PATH when no binary is beside the playbook', async (t) => {
  const l = lab();
  await l.clear();
  const { hook, bin, path } = elsewhere(t);
  symlinkSync(BINARY, join(bin, 'kubespray-validate'));
  const { code, out } = await playbook(l.inventoryDir, LOOKUP, { hook, env: { PATH: `${bin}:${path}` } });
  t.is(code, 0, out.slice(-4000));
  t.is(ksvCmd(out), JSON.stringify([join(bin, 'kubespray-validate')]));
  t.regex(out, /PASSED/);
});

test.serial(
  'kubespray_validate_binary names the binary; no validator anywhere fails the play with one line saying how to install it',
  async (t) => {
    const l = lab();
    const { hook, bin, path } = elsewhere(t);
    const named = await playbook(
      l.inventoryDir,
      { ...LOOKUP, kubespray_validate_binary: BINARY },
      { hook, env: { PATH: path } },
    );
    t.is(named.code, 0, named.out.slice(-4000));
    t.is(ksvCmd(named.out), JSON.stringify([BINARY]));

    const none = await playbook(l.inventoryDir, LOOKUP, { hook, env: { PATH: path } });
    t.not(none.code, 0);
    t.is(ksvCmd(none.out), '[]');
    const msg = /"msg": "([^"]*)"/.exec(none.out)?.[1] ?? '';
    t.regex(
      msg,
      /^kubespray-validate not found on the controller: put the binary kubespray-validate-linux-\w+ in dist\/bin\/ beside playbook-hooks\/ .*npm install -g/,
    );
    t.notRegex(none.out, /Run kubespray-validate on the controller/);

    const notExecutable = join(bin, 'not-executable');
    writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
    const bad = await playbook(
      l.inventoryDir,
      { ...LOOKUP, kubespray_validate_binary: notExecutable },
      { hook, env: { PATH: path } },
    );
    t.not(bad.code, 0);
    t.regex(
      bad.out,
      new RegExp(
        `"msg": "kubespray-validate: ${notExecutable} is not an executable file on the controller \\(kubespray_validate_binary\\)`,
      ),
    );
  },
);
