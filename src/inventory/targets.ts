// Inventory variables -> SSH targets, as Ansible's ssh connection plugin reads them.
// Ansible templates connection variables before it connects (`ansible_host: "{{ ip }}"`), so they
// go through the cluster model's Jinja subset first. Every value that later reaches a socket or a
// command line is validated here, after that.
import { userInfo, homedir } from 'node:os';
import { InventoryError } from '../errors.js';
import type { Target, Vars } from '../types.js';
import { isIP, isPort, isSafeName } from './validate.js';
import { explainUnresolvable, showExpr, Unresolvable, VarResolver } from './jinja.js';
import { isSecretKey } from './listing.js';

export interface TargetDefaults {
  user?: string;
  privateKey?: string;
  /** where `lookup('env', …)` reads (default: this process's environment) */
  env?: NodeJS.ProcessEnv;
}

function str(v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/** A host's variables as Ansible's connection sees them: templated, with the magic host names. */
class HostVars {
  private readonly r: VarResolver;
  /** resolved secrets, kept out of every message */
  readonly secrets: string[] = [];
  constructor(
    readonly host: string,
    readonly raw: Vars,
    env: NodeJS.ProcessEnv | undefined,
  ) {
    this.r = new VarResolver({ ...raw, inventory_hostname: host, inventory_hostname_short: host.split('.')[0] }, env);
  }

  has(name: string): boolean {
    return name in this.raw;
  }

  /** The value, templated; undefined when the variable is not set. */
  get(name: string): unknown {
    let v: unknown;
    try {
      v = this.r.get(name);
    } catch (e) {
      if (e instanceof Unresolvable)
        throw new InventoryError(`host ${this.host}: cannot evaluate ${explainUnresolvable(e, name)}`);
      if (e instanceof InventoryError) throw new InventoryError(`host ${this.host}: ${e.message}`);
      throw e;
    }
    if (isSecretKey(name) && typeof v === 'string' && v) this.secrets.push(v);
    return v;
  }

  /** Like get(), but Jinja outside the subset leaves the text as written (for values scanned, not used whole). */
  soft(name: string): unknown {
    try {
      return this.get(name);
    } catch {
      return this.raw[name];
    }
  }

  first(...names: string[]): string | null {
    for (const n of names) {
      const v = str(this.get(n));
      if (v !== null) return v;
    }
    return null;
  }

  /** How a message names the variable: its expression too when it was Jinja. */
  label(name: string): string {
    const raw = this.raw[name];
    return typeof raw === 'string' && raw.includes('{{') && !isSecretKey(name) ? `${name} ("${showExpr(raw)}")` : name;
  }
}

/** Ansible's boolean filter: true/yes/on/1 (any case). */
export function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  return typeof v === 'string' && /^(true|yes|on|1|y|t)$/i.test(v.trim());
}

function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? homedir() + p.slice(1) : p;
}

function isHostname(s: string): boolean {
  return s.length <= 253 && /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(s);
}

function checkAddress(host: string, variable: string, value: string): string {
  if (/^[\d.]+$/.test(value) && !isIP(value))
    throw new InventoryError(`host ${host}: ${variable} "${value}" is not a valid IPv4 address`);
  if (isIP(value) || isHostname(value)) return value;
  throw new InventoryError(`host ${host}: ${variable} "${value}" is not an IP address or host name`);
}

function checkPort(host: string, variable: string, value: string | null): number {
  if (value === null) return 22;
  if (!isPort(value)) throw new InventoryError(`host ${host}: ${variable} "${value}" is not a port (1-65535)`);
  return Number(value);
}

function checkUser(host: string, variable: string, value: string): string {
  if (!isSafeName(value)) throw new InventoryError(`host ${host}: ${variable} "${value}" is not a valid user name`);
  return value;
}

type Hop = NonNullable<Target['jump']>;

/** `ProxyCommand ssh ... -W %h:%p [-p port] [-i key] user@host`, `-o ProxyJump=…` or `-J …` in
 *  ansible_ssh_common_args / ansible_ssh_extra_args. Returns null when none is found. */
export function parseProxy(host: string, args: string, fallbackKey: string | null): Hop | null {
  let spec: { user: string | null; address: string; port: number | null; key: string | null } | null = null;
  const jump = /(?:-J\s*|ProxyJump[= ]\s*)([^\s'"]+)/.exec(args);
  if (jump) {
    const first = jump[1]!.split(',')[0]!;
    const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(first);
    if (m)
      spec = {
        user: m[1] ?? null,
        address: m[2]!.replace(/^\[|\]$/g, ''),
        port: m[3] ? Number(m[3]) : null,
        key: null,
      };
  } else {
    const pc = /ProxyCommand[= ]\s*(["']?)(.*?)\1(?:\s+-o\s|$)/.exec(args);
    const cmd = pc?.[2] ?? '';
    if (/\bssh\b/.test(cmd) && /-W\s*%h:%p/.test(cmd)) {
      const toks = cmd.split(/\s+/).filter(Boolean);
      let port: number | null = null;
      let key: string | null = null;
      let dest: string | null = null;
      for (let i = toks.indexOf('ssh') + 1; i < toks.length; i++) {
        const t = toks[i]!;
        if (t === '-p') port = Number(toks[++i]);
        else if (t === '-i') key = toks[++i] ?? null;
        else if (t === '-l') dest = `${toks[++i]}@${dest ?? ''}`;
        else if (/^-[FoWJcEmOQSbeLRDBI]$/.test(t)) i++;
        else if (t.startsWith('-')) continue;
        else dest = t;
      }
      if (dest) {
        const m = /^(?:([^@]+)@)?(.+)$/.exec(dest)!;
        spec = { user: m[1] ?? null, address: m[2]!, port, key };
      }
    }
  }
  if (!spec) return null;
  if (spec.address.includes('{{'))
    throw new InventoryError(
      `host ${host}: ansible_ssh_common_args names a jump host with Jinja ("${spec.address}"); put the bastion in a [bastion] group instead`,
    );
  return {
    name: spec.address,
    address: checkAddress(host, 'ProxyCommand host', spec.address),
    port: spec.port ?? 22,
    user: checkUser(host, 'ProxyCommand user', spec.user ?? userInfo().username),
    privateKeyFile: spec.key ? expandHome(spec.key) : fallbackKey,
    password: null,
    groups: [],
  };
}

export function buildTargets(
  vars: Record<string, Vars>,
  hosts: string[],
  defaults: TargetDefaults,
  bastionHost: string | null,
): Target[] {
  const base = (name: string): { target: Omit<Target, 'jump'>; sshArgs: string } => {
    const raw = vars[name];
    if (!raw) throw new InventoryError(`host "${name}" is not in the inventory`);
    const v = new HostVars(name, raw, defaults.env);
    try {
      // secrets first, so that no later message can carry one
      const password = v.first('ansible_password', 'ansible_ssh_pass', 'ansible_ssh_password');
      const becomePassword = v.first(
        'ansible_become_password',
        'ansible_become_pass',
        'ansible_sudo_pass',
        'ansible_sudo_password',
      );
      for (const k of ['ansible_host', 'ansible_ssh_host']) {
        if (v.has(k)) {
          const x = v.get(k);
          if (x === null || x === '')
            throw new InventoryError(
              `host ${name}: ${v.label(k)} is set but empty (give the node's address, or remove the variable to use the name)`,
            );
        }
      }
      const hostVar = ['ansible_host', 'ansible_ssh_host'].find((k) => str(v.get(k)) !== null) ?? 'ansible_host';
      const address = checkAddress(name, v.label(hostVar), v.first(hostVar) ?? name);
      const portVar = ['ansible_port', 'ansible_ssh_port'].find((k) => str(v.get(k)) !== null) ?? 'ansible_port';
      const port = checkPort(name, v.label(portVar), v.first(portVar));
      const userVar = ['ansible_user', 'ansible_ssh_user'].find((k) => str(v.get(k)) !== null) ?? 'ansible_user';
      const user = checkUser(name, v.label(userVar), v.first(userVar) ?? defaults.user ?? userInfo().username);
      const key = v.first('ansible_ssh_private_key_file', 'ansible_private_key_file') ?? defaults.privateKey ?? null;
      const becomeMethod = v.first('ansible_become_method') ?? 'sudo';
      const becomeUser = checkUser(name, v.label('ansible_become_user'), v.first('ansible_become_user') ?? 'root');
      const become = user !== 'root' || truthy(v.get('ansible_become')) || becomeUser !== 'root';
      if (become && becomeMethod !== 'sudo')
        throw new InventoryError(`host ${name}: ansible_become_method "${becomeMethod}" is not supported (only sudo)`);
      const sshArgs = [str(v.soft('ansible_ssh_common_args')), str(v.soft('ansible_ssh_extra_args'))]
        .filter(Boolean)
        .join(' ');
      return {
        target: {
          name,
          address,
          port,
          user,
          privateKeyFile: key ? expandHome(key) : null,
          password,
          become,
          becomeMethod,
          becomeUser,
          becomePassword,
          groups: [],
        },
        sshArgs,
      };
    } catch (e) {
      if (e instanceof InventoryError && v.secrets.some((s) => e.message.includes(s))) {
        throw new InventoryError(v.secrets.reduce((m, s) => m.split(s).join('<redacted>'), e.message));
      }
      throw e;
    }
  };
  const bastion = bastionHost && vars[bastionHost] ? base(bastionHost).target : null;
  return hosts.map((name) => {
    const { target: t, sshArgs } = base(name);
    let jump: Hop | null = null;
    if (bastion && name !== bastionHost) {
      const { become: _b, becomeMethod: _m, becomeUser: _u, becomePassword: _p, ...hop } = bastion;
      // Kubespray's ProxyCommand uses the node's own key for the bastion when the bastion has none
      jump = { ...hop, privateKeyFile: hop.privateKeyFile ?? t.privateKeyFile };
    } else if (sshArgs) jump = parseProxy(name, sshArgs, t.privateKeyFile);
    return { ...t, jump };
  });
}
