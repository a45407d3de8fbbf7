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
import { readSshArgv, shellSplit, splitHop, SplitError } from './ssh-args.js';

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

  /** ssh args as Ansible templates them; Jinja outside the subset leaves the text as written. */
  sshArgs(name: string): SshArgsText | null {
    try {
      const v = str(this.get(name));
      return v === null ? null : { variable: name, text: v, exact: true };
    } catch (e) {
      const raw = str(this.raw[name]);
      if (!(e instanceof InventoryError) || raw === null) throw e;
      return { variable: name, text: raw, exact: false };
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

/** ansible_ssh_common_args or ansible_ssh_extra_args: `exact` when templated whole, otherwise the text as
 *  written (Jinja outside the subset), where only the ssh words outside `{{ … }}` can be read. */
export interface SshArgsText {
  variable: string;
  text: string;
  exact: boolean;
}

// Stands for an unevaluated `{{ … }}` while the words around it are read: no blank, quote or backslash,
// so the expression stays one word, as Ansible renders Jinja before it splits the words.
const MARK = '\u0001';

function words(host: string, a: SshArgsText): { words: string[]; exprs: string[]; statement: boolean } {
  const exprs: string[] = [];
  let statement = false;
  const text = a.exact
    ? a.text
    : a.text.replace(/\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}/gs, (m) => {
        if (!m.startsWith('{{')) {
          statement = true;
          return ' ';
        }
        exprs.push(m);
        return `${MARK}${exprs.length - 1}${MARK}`;
      });
  try {
    return { words: shellSplit(text), exprs, statement };
  } catch (e) {
    if (e instanceof SplitError)
      throw new InventoryError(`host ${host}: ${a.variable}: ${e.message} (Ansible splits it as a shell would)`);
    throw e;
  }
}

/** The jump host that `-J`, `-o ProxyJump=…` or `-o ProxyCommand="ssh … -W %h:%p …"` in the ssh args
 *  names, read as Ansible and ssh read them (see ssh-args.ts); null when there is none. */
export function parseProxy(host: string, args: SshArgsText[], fallbackKey: string | null): Hop | null {
  const split = args.map((a) => words(host, a));
  // a template standing alone renders to words unknown here: it does not end the options
  const read = (w: string[]) => readSshArgv(w, { destination: false, opaque: (x) => x.startsWith(MARK) });
  const all = read(split.flatMap((s) => s.words));
  const proxy = all.proxy;
  if (all.refused) throw new InventoryError(`host ${host}: ${args.map((a) => a.variable).join(' + ')}: ${all.refused}`);
  if (!proxy || /^none$/i.test(proxy.value.trim())) return null;
  const origin = args[split.findIndex((s) => read(s.words).proxy !== null)]!;
  const from = split[args.indexOf(origin)]!;
  if (from.statement || proxy.value.includes(MARK)) {
    const shown = proxy.value.replace(
      new RegExp(`${MARK}(\\d+)${MARK}`, 'g'),
      (_m, n: string) => from.exprs[Number(n)]!,
    );
    throw new InventoryError(
      `host ${host}: ${origin.variable} names a jump host with Jinja this tool does not evaluate ("${showExpr(from.statement ? origin.text : shown)}"); put the bastion in a [bastion] group instead`,
    );
  }
  const where = `host ${host}: ${origin.variable}`;
  let spec: { user: string | null; address: string; port: string | null; key: string | null };
  let label: string;
  if (proxy.kind === 'jump') {
    label = 'ProxyJump';
    if (proxy.value.includes(','))
      throw new InventoryError(
        `${where}: ProxyJump "${proxy.value}" has more than one hop; this tool connects through one jump host`,
      );
    const hop = splitHop(proxy.value.trim(), { port: true });
    spec = { user: hop.user, address: hop.host, port: hop.port, key: null };
  } else {
    label = 'ProxyCommand';
    let argv: string[];
    try {
      argv = shellSplit(proxy.value);
    } catch (e) {
      if (e instanceof SplitError) throw new InventoryError(`${where}: ProxyCommand: ${e.message}`);
      throw e;
    }
    if (argv[0] === 'exec') argv = argv.slice(1);
    const program = (argv[0] ?? '').split('/').pop()!;
    if (program !== 'ssh')
      throw new InventoryError(
        `${where}: the ProxyCommand runs ${/^[\w.+-]+$/.test(program) ? `"${program}"` : 'a program'}, not ssh -W %h:%p; name the jump host with -J or a [bastion] group instead`,
      );
    const ssh = readSshArgv(argv.slice(1), { destination: true });
    if (ssh.forward === null || !/^(?:%h|\[%h\]):%p$/.test(ssh.forward))
      throw new InventoryError(
        `${where}: the ProxyCommand's ssh does not forward to the node with -W %h:%p; name the jump host with -J or a [bastion] group instead`,
      );
    if (ssh.proxy && !/^none$/i.test(ssh.proxy.value.trim()))
      throw new InventoryError(
        `${where}: the ProxyCommand's ssh goes through a jump host of its own; this tool connects through one jump host`,
      );
    if (ssh.destinationHost === null) throw new InventoryError(`${where}: the ProxyCommand's ssh names no host`);
    spec = { user: ssh.user, address: ssh.hostName ?? ssh.destinationHost, port: ssh.port, key: ssh.identity };
  }
  return {
    name: spec.address,
    address: checkAddress(host, `${label} host`, spec.address),
    port: checkPort(host, `${label} port`, spec.port),
    user: checkUser(host, `${label} user`, spec.user ?? userInfo().username),
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
  /** A host's target; `readProxy`: the jump host its ssh args name (not when a [bastion] group decides). */
  const base = (name: string, readProxy: boolean): { target: Omit<Target, 'jump'>; proxy: Hop | null } => {
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
      const privateKeyFile = key ? expandHome(key) : null;
      // Ansible's order on ssh's command line: the common args, then the extra args
      const sshArgs = readProxy
        ? ['ansible_ssh_common_args', 'ansible_ssh_extra_args'].flatMap((k) => v.sshArgs(k) ?? [])
        : [];
      return {
        target: {
          name,
          address,
          port,
          user,
          privateKeyFile,
          password,
          become,
          becomeMethod,
          becomeUser,
          becomePassword,
          groups: [],
        },
        proxy: sshArgs.length ? parseProxy(name, sshArgs, privateKeyFile) : null,
      };
    } catch (e) {
      if (e instanceof InventoryError && v.secrets.some((s) => e.message.includes(s))) {
        throw new InventoryError(v.secrets.reduce((m, s) => m.split(s).join('<redacted>'), e.message));
      }
      throw e;
    }
  };
  const bastion = bastionHost && vars[bastionHost] ? base(bastionHost, false).target : null;
  return hosts.map((name) => {
    const viaBastion = bastion !== null && name !== bastionHost;
    const { target: t, proxy } = base(name, !viaBastion);
    let jump: Hop | null = proxy;
    if (viaBastion) {
      const { become: _b, becomeMethod: _m, becomeUser: _u, becomePassword: _p, ...hop } = bastion;
      // Kubespray's ProxyCommand uses the node's own key for the bastion when the bastion has none
      jump = { ...hop, privateKeyFile: hop.privateKeyFile ?? t.privateKeyFile };
    }
    return { ...t, jump };
  });
}
