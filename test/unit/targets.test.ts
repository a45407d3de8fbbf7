// Connection variables written as Jinja resolve to what Ansible connects with: every host of
// test/fixtures/inventory/jinja-connection against `ansible -m debug` (the oracle), and the
// ones the validator refuses name host, variable and expression, never a secret.
import test from 'ava';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { clusterModel, effectiveHostVars } from '../../src/inventory/kubespray.js';
import { buildTargets, truthy } from '../../src/inventory/targets.js';
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
