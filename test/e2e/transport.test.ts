// The transport against real OpenSSH in the lab: non-root users through sudo (with and without a
// password, fed on stdin and never printed), a changed host key refused, a stopped sshd.
import test from 'ava';
import { useLab } from '../lab/lab.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempKnownHosts, validateJson } from './helpers.js';

const lab = useLab(test, { nodes: 2, users: true });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

test.serial('root with the lab key: every node inspected, exit 0', async (t) => {
  const { run, report } = await validateJson(lab().inventoryDir, kh.file);
  t.is(run.code, 0, run.stderr + JSON.stringify(report.diagnoses));
  t.true(report.hosts.every((h) => h.inspected));
});

test.serial('a non-root user with passwordless sudo: checks run through sudo -n', async (t) => {
  const l = lab();
  const { run, report } = await validateJson(l.inventoryDir, kh.file, ['-e', `ansible_user=${l.users!.nopasswd}`]);
  t.is(run.code, 0, run.stderr + JSON.stringify(report.hosts));
  t.regex(report.results.find((r) => r.check === 'ssh.reachable')!.summary, /\(sudo\)/);
});

test.serial('a non-root user whose sudo needs a password: fed on stdin, never printed', async (t) => {
  const l = lab();
  const pw = l.users!.password;
  const { run, report } = await validateJson(l.inventoryDir, kh.file, [
    '-e',
    `ansible_user=${l.users!.passwd}`,
    '-e',
    `ansible_become_password=${pw}`,
  ]);
  t.is(run.code, 0, run.stderr + JSON.stringify(report.hosts));
  t.false(run.stdout.includes(pw) || run.stderr.includes(pw), 'the password never reaches output');
});

test.serial(
  'sudo password missing or wrong: the host is not inspected (sudo), exit 3, no secret printed',
  async (t) => {
    const l = lab();
    const none = await validateJson(l.inventoryDir, kh.file, ['-e', `ansible_user=${l.users!.passwd}`]);
    t.is(none.run.code, 3);
    t.true(
      none.report.hosts.every((h) => !h.inspected && /sudo/.test(h.error ?? '')),
      JSON.stringify(none.report.hosts),
    );
    t.truthy(none.report.diagnoses.find((d) => d.id === 'host-unreachable'));
    const wrong = 'Wrong-Pass-9f3b';
    const bad = await validateJson(l.inventoryDir, kh.file, [
      '-e',
      `ansible_user=${l.users!.passwd}`,
      '-e',
      `ansible_become_password=${wrong}`,
    ]);
    t.is(bad.run.code, 3);
    t.false(bad.run.stdout.includes(wrong) || bad.run.stderr.includes(wrong));
  },
);

test.serial('ssh-agent (SSH_AUTH_SOCK) when the inventory names no key', async (t) => {
  const l = lab();
  const agent = spawnSync('ssh-agent', ['-s'], { encoding: 'utf8' });
  const sock = /SSH_AUTH_SOCK=([^;]+);/.exec(agent.stdout)?.[1];
  const pid = /SSH_AGENT_PID=(\d+);/.exec(agent.stdout)?.[1];
  t.truthy(sock, agent.stderr);
  try {
    t.is(
      spawnSync('ssh-add', [l.keyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock }, encoding: 'utf8' }).status,
      0,
    );
    const { run, report } = await validateJson(l.inventoryDir, kh.file, ['-e', 'ansible_ssh_private_key_file='], {
      SSH_AUTH_SOCK: sock!,
      HOME: mkdtempSync(join(tmpdir(), 'ksv-home-')),
    });
    t.is(run.code, 0, run.stderr + JSON.stringify(report.hosts));
  } finally {
    if (pid) process.kill(Number(pid), 'SIGTERM');
  }
});

test.serial('password authentication (ansible_password) when no key is offered', async (t) => {
  const l = lab();
  const pw = l.users!.password;
  const { run, report } = await validateJson(
    l.inventoryDir,
    kh.file,
    [
      '-e',
      JSON.stringify({
        ansible_user: l.users!.passwd,
        ansible_password: pw,
        ansible_become_password: pw,
        ansible_ssh_private_key_file: '',
      }),
    ],
    { SSH_AUTH_SOCK: '', HOME: mkdtempSync(join(tmpdir(), 'ksv-home-')) },
  );
  t.is(run.code, 0, run.stderr + JSON.stringify(report.hosts));
  t.false(run.stdout.includes(pw) || run.stderr.includes(pw));
});

test.serial(
  'connection variables written as Jinja: ansible_host "{{ ip }}", key, user and bin_dir through lookup(env)',
  async (t) => {
    const l = lab();
    const jinja = JSON.stringify({
      ansible_host: '{{ ip }}',
      ansible_user: "{{ lab_login | default('root') }}",
      ansible_ssh_private_key_file: "{{ lookup('env', 'KSV_LAB_KEY') }}",
      bin_dir: "{{ lookup('env', 'KSV_LAB_BIN') }}",
    });
    // no agent and an empty HOME: the key from the environment is the only way in
    const env = { SSH_AUTH_SOCK: '', HOME: mkdtempSync(join(tmpdir(), 'ksv-home-')), KSV_LAB_BIN: join(l.dir, 'bin') };
    const ok = await validateJson(l.inventoryDir, kh.file, ['-e', jinja], { ...env, KSV_LAB_KEY: l.keyFile });
    t.is(ok.run.code, 0, ok.run.stderr + JSON.stringify(ok.report.hosts));
    t.deepEqual(
      ok.report.hosts.map((h) => h.address),
      l.nodes.map((n) => n.address),
    );
    t.is(
      ok.report.results.find((r) => r.check === 'coredns.endpoints')?.status,
      'pass',
      'kubectl found in bin_dir from the environment',
    );
    // the same inventory without the key in the environment: '' as in Ansible, no key, auth fails
    const without = await validateJson(l.inventoryDir, kh.file, ['-e', jinja], env);
    t.is(without.run.code, 3, without.run.stderr);
    t.true(
      without.report.hosts.every((h) => !h.inspected && /auth/i.test(h.error ?? '')),
      JSON.stringify(without.report.hosts),
    );
  },
);

test.serial('a changed host key is refused and says so; the other node is still checked', async (t) => {
  const l = lab();
  const mine = tempKnownHosts();
  try {
    const first = await validateJson(l.inventoryDir, mine.file);
    t.is(first.run.code, 0);
    await l.rotateHostKey('node2');
    const { run, report } = await validateJson(l.inventoryDir, mine.file);
    t.is(run.code, 3);
    const n2 = report.hosts.find((h) => h.name === 'node2')!;
    t.false(n2.inspected);
    t.regex(n2.error ?? '', /CHANGED/);
    t.true(report.hosts.find((h) => h.name === 'node1')!.inspected);
    const strict = await validateJson(l.inventoryDir, mine.file, ['--host-key-checking', 'off']);
    t.is(strict.run.code, 0, 'off accepts any key');
  } finally {
    mine.cleanup();
  }
});

test.serial('strict host key checking refuses unknown hosts', async (t) => {
  const fresh = tempKnownHosts();
  try {
    const { run, report } = await validateJson(lab().inventoryDir, fresh.file, ['--host-key-checking', 'strict']);
    t.is(run.code, 3);
    t.true(report.hosts.every((h) => /no host key/.test(h.error ?? '')));
  } finally {
    fresh.cleanup();
  }
});

test.serial('a stopped sshd: that host inspected:false, the other passes', async (t) => {
  const l = lab();
  await l.fault('sshd-down', { nodes: ['node2'] });
  try {
    const { run, report } = await validateJson(l.inventoryDir, kh.file);
    t.is(run.code, 3);
    t.false(report.hosts.find((h) => h.name === 'node2')!.inspected);
    t.true(report.hosts.find((h) => h.name === 'node1')!.inspected);
    // (skip: what is not there to check on node1 — kube-proxy.ipvs in iptables mode, a host firewall)
    t.true(
      report.results
        .filter((r) => r.host === 'node1')
        .every(
          (r) =>
            r.status === 'pass' ||
            r.status === 'warn' ||
            (['kube-proxy.ipvs', 'firewall.host'].includes(r.check) && r.status === 'skip'),
        ),
    );
  } finally {
    await l.clear();
  }
});
