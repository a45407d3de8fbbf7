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
      env: {
        ...process.env,
        ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
      },
    });
    return relativize(JSON.parse(out), resolve(root));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const CONNECTION_VARS = [
  'ansible_host',
  'ansible_port',
  'ansible_user',
  'ansible_ssh_private_key_file',
  'ansible_become',
  'ansible_become_user',
  'ansible_become_method',
  'ansible_password',
  'ansible_become_password',
] as const;

export type AnsibleHostResult = { ok: true; vars: Record<string, unknown> } | { ok: false; msg: string };

/** What Ansible templates each host's connection variables to, as `ansible -m debug` shows them
 *  (debug runs on the controller: nothing connects). Unset variables are left out; a host whose
 *  variables Ansible cannot template has `ok: false` and Ansible's message. */
export function ansibleConnectionVars(sources: string[], env: NodeJS.ProcessEnv): Record<string, AnsibleHostResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-ansible-'));
  try {
    writeFileSync(join(dir, 'ansible.cfg'), '[defaults]\n');
    const names = JSON.stringify(CONNECTION_VARS);
    const msg = `{% set hv = hostvars[inventory_hostname] %}{% set out = {} %}{% for k in ${names} %}{% if k in hv %}{% set _ = out.__setitem__(k, hv[k]) %}{% endif %}{% endfor %}{{ out | to_json }}`;
    const r = spawnSync(
      'ansible',
      [...sources.flatMap((s) => ['-i', s]), 'all', '-o', '-m', 'debug', '-a', `msg=${msg}`],
      {
        cwd: '/',
        encoding: 'utf8',
        env: {
          ...env,
          ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
          ANSIBLE_NOCOLOR: '1',
          ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False',
        },
      },
    );
    const out: Record<string, AnsibleHostResult> = {};
    for (const line of r.stdout.split('\n')) {
      const m = /^(\S+) \| (SUCCESS|FAILED!) => (\{.*\})$/.exec(line);
      if (!m) continue;
      const body = JSON.parse(m[3]!) as { msg: string };
      out[m[1]!] =
        m[2] === 'SUCCESS'
          ? { ok: true, vars: JSON.parse(body.msg) as Record<string, unknown> }
          : { ok: false, msg: body.msg };
    }
    if (!Object.keys(out).length)
      throw new Error(`ansible printed no host results (exit ${r.status}): ${r.stderr.slice(0, 500)}`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
