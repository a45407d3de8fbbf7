// Connection variables written as Jinja resolve to what Ansible connects with: every host of
// test/fixtures/inventory/jinja-connection against `ansible -m debug` (the oracle), and the
// ones the validator refuses name host, variable and expression, never a secret.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { clusterModel, effectiveHostVars } from '../../src/inventory/kubespray.js';
import { buildTargets, truthy } from '../../src/inventory/targets.js';
import { readSshArgv, shellSplit, splitHop, SplitError } from '../../src/inventory/ssh-args.js';
import { InventoryError } from '../../src/errors.js';
import type { Target, Vars } from '../../src/types.js';
import { ROOT } from '../e2e/helpers.js';
import { ansibleConnectionVars, haveAnsible, type AnsibleHostResult } from './ansible-oracle.js';

const GOOD = join(ROOT, 'test/fixtures/inventory/jinja-connection');
const BAD = join(ROOT, 'test/fixtures/inventory/bad/jinja-connection.yml');
const ENV: NodeJS.ProcessEnv = {
  ...process.env,
  KSV_TEST_KEY_DIR: '/srv/ksv-keys',
  KSV_TEST_BECOME_PASSWORD: 'env-become-Pw7',
};
delete ENV.KSV_TEST_UNSET_VARIABLE;
const DEFAULTS = { user: 'cli-user', env: ENV };

function target(sources: string[], host: string): Target {
  const inv = loadInventory(sources, {});
  return buildTargets({ [host]: effectiveHostVars(inv, host) }, [host], DEFAULTS, null)[0]!;
}

function refusal(sources: string[], host: string): string {
  try {
    target(sources, host);
  } catch (e) {
    if (e instanceof InventoryError) return e.message;
    throw e;
  }
  throw new Error(`host ${host} was accepted`);
}

/** What the validator must connect with, given the values Ansible templated. */
function fromAnsible(host: string, v: Record<string, unknown>): Partial<Target> {
  const s = (x: unknown) => (x === undefined || x === null || x === '' ? null : String(x));
  const user = s(v.ansible_user) ?? DEFAULTS.user;
  const becomeUser = s(v.ansible_become_user) ?? 'root';
  const key = s(v.ansible_ssh_private_key_file);
  return {
    address: s(v.ansible_host) ?? host,
    port: s(v.ansible_port) === null ? 22 : Number(v.ansible_port),
    user,
    privateKeyFile: key === null ? null : key.replace(/^~(?=\/|$)/, homedir()),
    become: user !== 'root' || truthy(v.ansible_become) || becomeUser !== 'root',
    becomeMethod: s(v.ansible_become_method) ?? 'sudo',
    becomeUser,
    password: s(v.ansible_password),
    becomePassword: s(v.ansible_become_password),
  };
}

function oracle(
  t: { log: (m: string) => void; fail: (m: string) => void },
  sources: string[],
): Record<string, AnsibleHostResult> | null {
  if (haveAnsible()) return ansibleConnectionVars(sources, ENV);
  if (process.env.CI) t.fail('ansible is not on PATH (CI installs ansible-core)');
  else t.log('ansible not on PATH; oracle comparison skipped');
  return null;
}

const goodHosts = ['cp1', 'w1', 'w2', 'w3', 'w4', 'w5.lab.example'];

test('templated connection variables: the same host, port, user, key, become and secrets as Ansible', (t) => {
  const ansible = oracle(t, [GOOD]);
  if (!ansible) return t.pass();
  t.deepEqual(Object.keys(ansible).sort(), [...goodHosts].sort(), 'Ansible templated every host');
  for (const h of goodHosts) {
    const a = ansible[h]!;
    if (!a.ok) {
      t.fail(`Ansible refused ${h}: ${a.msg}`);
      continue;
    }
    const ours = target([GOOD], h);
    const want = fromAnsible(h, a.vars);
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, ours[k as keyof Target]]));
    t.deepEqual(got, want, h);
  }
});

test('the fixture is not resolved by accident: a few values, spelled out', (t) => {
  t.is(target([GOOD], 'cp1').address, '198.18.10.1'); // "{{ ip }}"
  t.is(target([GOOD], 'w1').port, 2222); // a group_vars value through a host var
  t.is(target([GOOD], 'w2').address, 'w2.lab.example'); // inventory_hostname inside text
  t.is(target([GOOD], 'w2').privateKeyFile, `${ENV.HOME}/.ssh/w2_key`); // lookup('env', 'HOME') + host_vars
  t.is(target([GOOD], 'w3').address, '198.18.10.13'); // default() over a variable whose own value is undefined
  t.is(target([GOOD], 'w3').privateKeyFile, '/srv/ksv-keys/id_w3');
  t.is(target([GOOD], 'w4').user, 'core'); // unset env is '', default(…, true) replaces it
  t.is(target([GOOD], 'w4').becomePassword, 'env-become-Pw7');
  t.is(target([GOOD], 'w5.lab.example').address, 'w5-mgmt'); // inventory_hostname_short
});

const refused: { host: string; variable: string; undefinedName?: string; expr?: string; secret?: string }[] = [
  { host: 'undefined-host', variable: 'ansible_host', undefinedName: 'node_ip', expr: '{{ node_ip }}' },
  {
    host: 'undefined-nested',
    variable: 'ansible_user',
    undefinedName: 'lab_users_default',
    expr: '{{ lab_users_default | lower }}',
  },
  {
    host: 'undefined-default-arg',
    variable: 'ansible_host',
    undefinedName: 'ip',
    expr: '{{ access_ip | default(ip) }}',
  },
  { host: 'undefined-secret', variable: 'ansible_password', undefinedName: 'vault_ssh_password' },
  { host: 'outside-hostvars', variable: 'ansible_host', expr: "{{ hostvars['bastion']['ansible_host'] }}" },
  { host: 'outside-filter', variable: 'ansible_host', expr: "{{ ip | ansible.utils.ipaddr('address') }}" },
  { host: 'outside-lookup', variable: 'ansible_ssh_private_key_file', expr: "{{ lookup('file', '/etc/hostname') }}" },
  { host: 'outside-secret', variable: 'ansible_become_password', secret: 's3cr3t' },
  { host: 'statement', variable: 'ansible_port', expr: '{% if true %}2222{% endif %}' },
];

test('Jinja it cannot evaluate: one line naming host, variable and expression; undefined as Ansible says', (t) => {
  const ansible = oracle(t, [BAD]);
  for (const c of refused) {
    const msg = refusal([BAD], c.host);
    t.is(msg.split('\n').length, 1, msg);
    t.true(msg.startsWith(`host ${c.host}: cannot evaluate ${c.variable}: `), msg);
    if (c.undefinedName) {
      t.true(msg.includes(`${c.undefinedName} is undefined`), msg);
      // Ansible refuses these hosts too, for the same variable
      const a = ansible?.[c.host];
      if (ansible)
        t.true(
          a !== undefined && !a.ok && a.msg.includes(`'${c.undefinedName}' is undefined`),
          `${c.host}: ${JSON.stringify(a)}`,
        );
    } else t.regex(msg, /is Jinja this tool does not evaluate/);
    if (c.expr) t.true(msg.includes(`"${c.expr}"`), msg);
    if (c.secret || /password/.test(c.variable)) {
      t.false(msg.includes('{{'), `a secret's expression is not shown: ${msg}`);
      if (c.secret) t.false(msg.includes(c.secret), msg);
    }
  }
});

function build(vars: Vars, env: NodeJS.ProcessEnv = {}): Target {
  return buildTargets({ n1: vars }, ['n1'], { env }, null)[0]!;
}

test('a resolved secret never reaches a message, even through another variable', (t) => {
  const pw = 'Pa55;word';
  const err = t.throws(
    () => build({ ansible_password: '{{ lab_pw }}', lab_pw: pw, ansible_user: '{{ ansible_password }}' }),
    { instanceOf: InventoryError },
  );
  t.regex(err!.message, /ansible_user .*"<redacted>" is not a valid user name/);
  t.false(err!.message.includes(pw));
  t.false(err!.message.includes('Pa55'));
});

test('resolved values are still validated: a template cannot smuggle shell characters', (t) => {
  t.throws(() => build({ ansible_host: '{{ a }}', a: '$(touch /tmp/x)' }), {
    instanceOf: InventoryError,
    message: /host n1: ansible_host \("\{\{ a \}\}"\) "\$\(touch \/tmp\/x\)" is not an IP address or host name/,
  });
  t.throws(() => build({ ansible_user: "{{ lookup('env', 'EVIL') }}" }, { EVIL: 'root;id' }), {
    instanceOf: InventoryError,
    message: /ansible_user .* "root;id" is not a valid user name/,
  });
  t.throws(() => build({ ansible_port: '{{ p }}', p: '22; id' }), {
    instanceOf: InventoryError,
    message: /ansible_port .* is not a port/,
  });
  t.throws(() => build({ ansible_host: "{{ lookup('env', 'UNSET_ONE') }}" }, {}), {
    instanceOf: InventoryError,
    message: /ansible_host .* is set but empty/,
  });
  t.throws(() => build({ ansible_host: '{{ a }}', a: '{{ b }}', b: '{{ a }}' }), {
    instanceOf: InventoryError,
    message: /^host n1: variable a refers to itself/,
  });
});

test('ssh args with Jinja the subset evaluates name the jump host; the rest still refuses it', (t) => {
  const viaVar = build({
    ansible_ssh_common_args: '-o ProxyJump={{ jump_user }}@{{ jump_ip }}',
    jump_user: 'jump',
    jump_ip: '198.18.20.1',
  });
  t.deepEqual([viaVar.jump?.user, viaVar.jump?.address], ['jump', '198.18.20.1']);
  t.throws(() => build({ ansible_ssh_common_args: "-o ProxyJump={{ hostvars['bastion']['ansible_host'] }}" }), {
    instanceOf: InventoryError,
    message: /names a jump host with Jinja/,
  });
  // Jinja outside the subset elsewhere in the args: the words around it are still read, a template
  // stays one word (Ansible renders it before it splits), and a jump host inside {% … %} is refused
  const around = build({ ansible_ssh_common_args: "-i {{ lookup('file', 'k -J x') }} -o ProxyJump=198.18.20.1" });
  t.is(around.jump?.address, '198.18.20.1');
  t.is(build({ ansible_ssh_common_args: '{{ extra | ansible.builtin.quote }} -J gw-J' }).jump?.address, 'gw-J');
  t.throws(() => build({ ansible_ssh_common_args: "{% if 'bastion' in groups['all'] %}-J gw{% endif %}" }), {
    instanceOf: InventoryError,
    message: /names a jump host with Jinja this tool does not evaluate \("\{% if 'bastion'/,
  });
});

test('the cluster model evaluates lookup(env) too (bin_dir)', (t) => {
  const inv = loadInventory([join(ROOT, 'inventory-examples/mycluster')], {
    bin_dir: "{{ lookup('env', 'KSV_TEST_BIN_DIR') | default('/usr/local/bin', true) }}",
  });
  const saved = process.env.KSV_TEST_BIN_DIR;
  try {
    process.env.KSV_TEST_BIN_DIR = '/opt/ksv/bin';
    t.is(clusterModel(inv).binDir, '/opt/ksv/bin');
    delete process.env.KSV_TEST_BIN_DIR;
    t.is(clusterModel(inv).binDir, '/usr/local/bin');
  } finally {
    if (saved === undefined) delete process.env.KSV_TEST_BIN_DIR;
    else process.env.KSV_TEST_BIN_DIR = saved;
  }
});

// ssh options are read where ssh reads them: a key path, a host name or another option's value that
// holds "-J", "-p", "-i", "ProxyJump" or "ProxyCommand" is an argument, never an option. Two oracles:
// Python's shlex.split (what Ansible splits ansible_ssh_common_args with) for the words, and
// `ssh -G -F /dev/null` (ssh prints the configuration it would use and exits: nothing connects)
// for what ssh makes of them.

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function oracleMissing(t: { log: (m: string) => void; fail: (m: string) => void }, cmd: string): boolean {
  if (have(cmd)) return false;
  if (process.env.CI) t.fail(`${cmd} is not on PATH (CI installs it)`);
  else t.log(`${cmd} not on PATH; oracle comparison skipped`);
  return true;
}

/** Python's shlex.split, then Ansible's strip and drop of empty words. */
function pythonSplit(texts: string[]): (string[] | 'error')[] {
  const py =
    'import json, shlex, sys\n' +
    'def split(s):\n' +
    '    try:\n' +
    '        return [x.strip() for x in shlex.split(s) if x.strip()]\n' +
    '    except ValueError:\n' +
    '        return "error"\n' +
    'print(json.dumps([split(s) for s in json.load(sys.stdin)]))\n';
  const r = spawnSync('python3', ['-c', py], { input: JSON.stringify(texts), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as (string[] | 'error')[];
}

/** `ssh -G`: the options ssh would connect with, lowercased keys. */
function sshConfig(argv: string[]): Map<string, string> {
  const r = spawnSync('ssh', ['-G', '-F', '/dev/null', ...argv], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.status !== 0) throw new Error(`ssh -G ${argv.join(' ')}: ${r.stderr}`);
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) (.*)$/.exec(line);
    if (m && !out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return out;
}

// keys live under a directory whose random part starts with "J", like the lab's key can
const KEYS = mkdtempSync(join(tmpdir(), 'ksv-keys-J'));
test.after.always(() => rmSync(KEYS, { recursive: true, force: true }));
function key(rel: string): string {
  const p = join(KEYS, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, '');
  return p;
}

interface ProxyCase {
  args: string;
  /** the jump host, or null: no jump host */
  hop: { address: string; port: number; user: string; key: string | null } | null;
}

const NODE_KEY = '/srv/node-key';
const ME = userInfo().username;
const proxyCases = (): ProxyCase[] => [
  // ProxyJump, with -J/-p/-i/ProxyJump/ProxyCommand inside the other words
  {
    args: `-i ${key('site-Jump/id_rsa')} -o ProxyJump=jump@bastion-Jakarta`,
    hop: { address: 'bastion-Jakarta', port: 22, user: 'jump', key: NODE_KEY },
  },
  {
    args: `-o IdentityFile=${key('-Jx/-p/id')} -J ops@198.18.20.1:2200`,
    hop: { address: '198.18.20.1', port: 2200, user: 'ops', key: NODE_KEY },
  },
  { args: '-Jbastion-p -p 2222', hop: { address: 'bastion-p', port: 22, user: ME, key: NODE_KEY } },
  { args: '-vJ gw-J', hop: { address: 'gw-J', port: 22, user: ME, key: NODE_KEY } },
  {
    args: '-o "ProxyJump core@ProxyCommand-gw" -l ProxyJump',
    hop: { address: 'ProxyCommand-gw', port: 22, user: 'core', key: NODE_KEY },
  },
  {
    args: '-o UserKnownHostsFile=/tmp/-J/known -oProxyJump=jumper@[fd00::20]:2022',
    hop: { address: 'fd00::20', port: 2022, user: 'jumper', key: NODE_KEY },
  },
  {
    args: '-o UserKnownHostsFile=/tmp/-i -J ssh://jumper@gw-J:2022',
    hop: { address: 'gw-J', port: 2022, user: 'jumper', key: NODE_KEY },
  },
  // ProxyCommand: Kubespray's own form (roles/kubespray_defaults, ansible_ssh_common_args), single-quoted
  // with its trailing blank, and the lab's key in a mkdtemp directory whose random part began with "J"
  {
    args: `-o ProxyCommand='ssh -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -W %h:%p -p 22 root@198.18.0.5 -i ${key('ksv-lab-bastion-JYfpMg/id_ed25519')} '`,
    hop: { address: '198.18.0.5', port: 22, user: 'root', key: join(KEYS, 'ksv-lab-bastion-JYfpMg/id_ed25519') },
  },
  {
    args: `-o ProxyCommand="ssh -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -W %h:%p -p 2222 core@bastion-Jakarta -i ${key('-p/-i/ProxyJump/key')}"`,
    hop: { address: 'bastion-Jakarta', port: 2222, user: 'core', key: join(KEYS, '-p/-i/ProxyJump/key') },
  },
  // the argv of Kubespray's ssh-bastion.conf (roles/bastion-ssh-config)
  {
    args: `-o "ProxyCommand ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -W %h:%p -p 2022 admin@198.18.20.1 -i ${key('k-J/id')}"`,
    hop: { address: '198.18.20.1', port: 2022, user: 'admin', key: join(KEYS, 'k-J/id') },
  },
  {
    args: `-oProxyCommand="ssh -l ops -W [%h]:%p -i ${key('-J/ProxyCommand-key')} gw-J" -p 2200`,
    hop: { address: 'gw-J', port: 22, user: 'ops', key: join(KEYS, '-J/ProxyCommand-key') },
  },
  {
    args: '-o ProxyCommand="exec /usr/bin/ssh -q -W %h:%p -p2200 ProxyJump-host -l late"',
    hop: { address: 'ProxyJump-host', port: 2200, user: 'late', key: NODE_KEY },
  },
  // no jump host: "-J" and "ProxyJump" only inside arguments, or "none" first
  { args: `-i ${key('-J/id')} -o ControlPath=/tmp/ProxyJump-%r`, hop: null },
  { args: '-o StrictHostKeyChecking=no -p 2222 -l ProxyCommand-user', hop: null },
  { args: '-o ProxyJump=none -o ProxyJump=gw', hop: null },
  { args: '-o ProxyCommand=none -o ProxyJump=gw', hop: null },
];

test('ssh args: the jump host is found where ssh reads an option, never inside a path or a name', (t) => {
  for (const c of proxyCases()) {
    const got = buildTargets({ n1: { ansible_ssh_common_args: c.args } }, ['n1'], { privateKey: NODE_KEY }, null)[0]!
      .jump;
    t.deepEqual(
      got && { address: got.address, port: got.port, user: got.user, key: got.privateKeyFile },
      c.hop,
      c.args,
    );
  }
});

test('ssh args are split as Ansible splits them (Python shlex)', (t) => {
  if (oracleMissing(t, 'python3')) return t.pass();
  const texts = [
    ...proxyCases().map((c) => c.args),
    `a\\ b "c\\"d" 'e\\f' "g\\h" '' x"y"z "\\\\" tab\there`,
    '-o "ProxyCommand ssh -W %h:%p b',
    'trailing\\',
  ];
  const py = pythonSplit(texts);
  texts.forEach((s, i) => {
    let ours: string[] | 'error';
    try {
      ours = shellSplit(s);
    } catch (e) {
      if (!(e instanceof SplitError)) throw e;
      ours = 'error';
    }
    t.deepEqual(ours, py[i], s);
  });
  // and the ProxyCommand's words, which ssh hands to sh
  for (const c of proxyCases()) {
    const pc = readSshArgv(shellSplit(c.args), { destination: false }).proxy;
    if (pc?.kind === 'command') t.deepEqual(shellSplit(pc.value), pythonSplit([pc.value])[0], pc.value);
  }
});

test('ssh args are read as ssh reads them (ssh -G)', (t) => {
  if (oracleMissing(t, 'ssh')) return t.pass();
  for (const c of proxyCases()) {
    const words = shellSplit(c.args);
    const ours = readSshArgv(words, { destination: false }).proxy;
    const ssh = sshConfig([...words, 'n1']);
    // ssh prints a ProxyJump hop in its own spelling ([address]:port): compare the parts
    const hop = (v: string) => splitHop(v, { port: true });
    const jump = ssh.get('proxyjump');
    const command = ssh.get('proxycommand');
    const theirs = jump ? { jump: hop(jump) } : command ? { command } : null;
    const real = ours && !/^none$/i.test(ours.value) ? ours : null;
    t.deepEqual(
      real && (real.kind === 'jump' ? { jump: hop(real.value) } : { command: real.value.trim() }),
      theirs,
      c.args,
    );
    if (ours?.kind !== 'command' || !c.hop) continue;
    // the ProxyCommand's own ssh: the user, host, port and key it would use (%h:%p stands for the node)
    const argv = shellSplit(ours.value).filter((w, i) => i > 0 || w !== 'exec');
    const inner = sshConfig(argv.slice(1).map((w) => w.replace('%h', 'n1').replace('%p', '22')));
    t.deepEqual(
      { address: inner.get('hostname'), port: Number(inner.get('port')), user: inner.get('user') },
      { address: c.hop.address.toLowerCase(), port: c.hop.port, user: c.hop.user },
      ours.value,
    );
    if (c.hop.key !== NODE_KEY) t.is(inner.get('identityfile') ?? null, c.hop.key, ours.value);
  }
});

test('ssh args this tool cannot follow: one line naming host and variable', (t) => {
  const refusals: [Vars, RegExp][] = [
    [
      { ansible_ssh_common_args: "-o ProxyCommand='ssh -W %h:%p gw" },
      /^host n1: ansible_ssh_common_args: no closing quotation/,
    ],
    [
      { ansible_ssh_extra_args: "-o ProxyCommand='nc -X 5 -x proxy-J:1080 %h %p'" },
      /^host n1: ansible_ssh_extra_args: the ProxyCommand runs "nc", not ssh -W %h:%p/,
    ],
    [
      { ansible_ssh_common_args: "-o ProxyCommand='ssh gw-J nc %h %p'" },
      /^host n1: ansible_ssh_common_args: the ProxyCommand's ssh does not forward to the node with -W %h:%p/,
    ],
    [
      { ansible_ssh_common_args: '-J a@gw1,gw2' },
      /^host n1: ansible_ssh_common_args: ProxyJump "a@gw1,gw2" has more than one hop/,
    ],
    [{ ansible_ssh_common_args: '-J "gw;id"' }, /^host n1: ProxyJump host "gw;id" is not an IP address or host name/],
    [{ ansible_ssh_common_args: '-J gw:99999' }, /^host n1: ProxyJump port "99999" is not a port/],
  ];
  for (const [vars, re] of refusals) {
    const err = t.throws(() => build(vars), { instanceOf: InventoryError }, JSON.stringify(vars));
    t.regex(err!.message, re);
    t.is(err!.message.split('\n').length, 1);
  }
  // what ssh itself refuses (ssh -G says so too)
  for (const args of ['-o ProxyCommand=none -J gw', '-J gw1 -J gw2', '-o ProxyJump=none -J gw']) {
    t.throws(
      () => build({ ansible_ssh_common_args: args }),
      { instanceOf: InventoryError, message: /^host n1: ansible_ssh_common_args: ssh (cannot take|takes a single) -J/ },
      args,
    );
    if (have('ssh')) t.throws(() => sshConfig([...shellSplit(args), 'n1']), undefined, args);
  }
  // the extra args come after the common args: the first jump host wins
  t.is(
    build({ ansible_ssh_common_args: '-o ProxyJump=gw1', ansible_ssh_extra_args: '-o ProxyJump=gw2' }).jump?.address,
    'gw1',
  );
  t.is(build({ ansible_ssh_common_args: '-i /k/-J', ansible_ssh_extra_args: '-J gw2' }).jump?.address, 'gw2');
});
