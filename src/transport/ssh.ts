// One ssh2 connection per node (through the bastion when there is one), reused for every
// command. Every step has a timeout; every failure becomes a classified TransportError.
// Secrets (passwords, key contents, passphrases) are never put into an error message.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { TransportError, firstLine } from '../errors.js';
import type { ExecOptions, ExecResult, NodeSession, Target } from '../types.js';
import { shQuote } from './quote.js';
import { verifyHostKey } from './known-hosts.js';

export interface ConnectOptions {
  timeoutMs: number;
  knownHostsFile: string;
  hostKeyChecking: 'strict' | 'accept-new' | 'off';
  agentSocket: string | null;
  execTimeoutMs: number;
  /** prove root right away with `id -u` (default). The validator instead folds that check into its
   *  first command on the node, saving a round trip (and a login shell start) per node. */
  checkRoot?: boolean;
}

type Hop = Pick<Target, 'name' | 'address' | 'port' | 'user' | 'privateKeyFile' | 'password'>;

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

function keyCandidates(hop: Hop): { path: string; data: Buffer }[] {
  const paths = hop.privateKeyFile ? [hop.privateKeyFile] : DEFAULT_KEYS.map((k) => join(homedir(), '.ssh', k));
  const out: { path: string; data: Buffer }[] = [];
  for (const p of paths) {
    if (!hop.privateKeyFile && !existsSync(p)) continue;
    try {
      out.push({ path: p, data: readFileSync(p) });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new TransportError('auth', `cannot read private key ${p} (${code})`);
    }
  }
  return out;
}

/** Auth methods in OpenSSH's order: agent, keys, password. */
function authMethods(hop: Hop, agent: string | null): ConnectConfig['authHandler'] {
  const keys = keyCandidates(hop);
  const methods: unknown[] = [];
  if (agent) methods.push({ type: 'agent', username: hop.user, agent });
  for (const k of keys) methods.push({ type: 'publickey', username: hop.user, key: k.data });
  if (hop.password) {
    methods.push({ type: 'password', username: hop.user, password: hop.password });
    methods.push({
      type: 'keyboard-interactive',
      username: hop.user,
      prompt: (_n: string, _i: string, _l: string, prompts: unknown[], finish: (r: string[]) => void) =>
        finish(prompts.map(() => hop.password!)),
    });
  }
  let i = 0;
  return ((methodsLeft: string[] | null, _partial: boolean, next: (m: unknown) => void) => {
    while (i < methods.length) {
      const m = methods[i++] as { type: string };
      const wire = m.type === 'agent' ? 'publickey' : m.type;
      if (!methodsLeft || methodsLeft.includes(wire)) return next(m);
    }
    return next(false);
  }) as unknown as ConnectConfig['authHandler'];
}

function classify(err: unknown, where: string, hostKeyReason: string | null): TransportError {
  if (err instanceof TransportError) return err;
  if (hostKeyReason) return new TransportError('host-key', hostKeyReason);
  const e = err as { level?: string; code?: string; message?: string };
  const msg = firstLine(e?.message ?? err);
  if (e?.level === 'client-authentication')
    return new TransportError(
      'auth',
      `authentication failed at ${where} (tried: ${msg.replace(/^All configured authentication methods failed$/, 'agent/keys/password')})`,
    );
  if (e?.level === 'client-timeout') return new TransportError('timeout', `SSH handshake with ${where} timed out`);
  if (/encrypted|passphrase/i.test(msg))
    return new TransportError(
      'auth',
      `private key for ${where} is encrypted and no passphrase is available (load it into ssh-agent)`,
    );
  if (/Cannot parse privateKey|Unsupported key format/i.test(msg))
    return new TransportError('auth', `private key for ${where} cannot be parsed`);
  if (e?.code === 'ECONNREFUSED') return new TransportError('unreachable', `connection refused by ${where}`);
  if (e?.code === 'EHOSTUNREACH' || e?.code === 'ENETUNREACH')
    return new TransportError('unreachable', `no route to ${where}`);
  if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN')
    return new TransportError('unreachable', `cannot resolve ${where}`);
  if (e?.code === 'ETIMEDOUT') return new TransportError('timeout', `TCP connect to ${where} timed out`);
  if (e?.code === 'ECONNRESET') return new TransportError('unreachable', `connection to ${where} reset`);
  return new TransportError('unreachable', `${where}: ${msg}`);
}

/** Open one ssh2 client to `hop`, over `sock` when given (a channel through the bastion). */
function openClient(hop: Hop, opts: ConnectOptions, sock?: ClientChannel): Promise<Client> {
  const where = `${hop.user}@${hop.address}:${hop.port}`;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKeyReason: string | null = null;
    let settled = false;
    const done = (err: unknown, c?: Client) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        client.removeAllListeners('ready');
        client.on('error', () => undefined);
        client.end();
        client.destroy();
        reject(classify(err, where, hostKeyReason));
      } else resolve(c!);
    };
    const timer = setTimeout(
      () =>
        done(
          new TransportError('timeout', `no SSH session with ${where} within ${Math.round(opts.timeoutMs / 1000)}s`),
        ),
      opts.timeoutMs + 500,
    );
    let auth: ConnectConfig['authHandler'];
    try {
      auth = authMethods(hop, opts.agentSocket);
    } catch (err) {
      done(err);
      return;
    }
    client.on('ready', () => done(null, client));
    client.on('error', (err) => done(err));
    client.on('close', () =>
      done(new TransportError('unreachable', `${where} closed the connection during the handshake`)),
    );
    try {
      client.connect({
        host: hop.address,
        port: hop.port,
        username: hop.user,
        sock,
        readyTimeout: opts.timeoutMs,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        authHandler: auth,
        hostVerifier: (key: Buffer) => {
          const v = verifyHostKey(opts.knownHostsFile, hop.address, hop.port, key, opts.hostKeyChecking);
          if (!v.ok) hostKeyReason = v.reason;
          return v.ok;
        },
      } as ConnectConfig);
      // SSH's handshake is a string of small writes, each waiting on the other side: with Nagle's
      // algorithm on, a small packet waits for the ACK of the last one, which the node delays by
      // 40 ms — twice per handshake (measured: 75 ms -> ~30 ms per connection)
      client.setNoDelay(true);
    } catch (err) {
      done(err);
    }
  });
}

/**
 * Runs `command` so it cannot outlive us. A watcher reads the channel's stdin, which the client
 * keeps open until the command is done, and passes every line on to the command's stdin (the
 * controller streams late input that way, e.g. the CoreDNS endpoint probes). If stdin ends first —
 * we closed the channel (timeout, SIGINT) or the connection dropped — the watcher kills the
 * command's whole process group, so nothing is left running on the node. After a normal end the
 * command side ends the watcher.
 */
export function guard(command: string): string {
  return [
    'exec 3<&0',
    // the watcher: first its own pid (read from /proc/self by the shell itself, no process), then
    // every line of stdin; at EOF it kills the process group. Its `read` starts no process.
    '{ read -r p _ </proc/self/stat; echo "$p"; while IFS= read -r l <&3; do printf \'%s\\n\' "$l"; done; kill -TERM 0; } 2>/dev/null | (',
    // the command side learns the watcher's pid and ends it when the command is done: the watcher
    // holds the channel's stdin, which sshd shares with stdout (a socketpair), so the channel would
    // not close while it lives
    'read -r wp',
    '(',
    command,
    ')',
    'rc=$?; kill "$wp" 2>/dev/null; exit $rc',
    ') &',
    'w=$!',
    'exec 3<&-',
    // (the shell would report the watcher's end on stderr)
    'wait $w 2>/dev/null',
  ].join('\n');
}

const SUDO_FAIL =
  /sudo: (a password is required|a terminal is required|no tty present|\d+ incorrect password attempts?|.*is not in the sudoers|.*may not run sudo|.*not allowed to execute|unable to|sorry)/i;

class SshSession implements NodeSession {
  private closed = false;
  private dropped: string | null = null;
  /** finishers of the commands in flight: a dropped connection fails them at once */
  private readonly pending = new Set<(e: TransportError) => void>();

  constructor(
    readonly target: Target,
    private readonly client: Client,
    private readonly jumpClient: Client | null,
    private readonly defaultTimeoutMs: number,
  ) {
    const failPending = () => {
      const e = new TransportError('disconnected', this.dropped ?? `connection to ${target.name} closed`);
      for (const f of [...this.pending]) f(e);
    };
    const onGone = () => {
      if (!this.closed) this.dropped ??= `connection to ${target.name} dropped`;
      failPending();
    };
    client.on('close', onGone);
    client.on('end', onGone);
    client.on('error', (err) => {
      this.dropped ??= `connection to ${target.name} lost: ${firstLine(err)}`;
      failPending();
    });
    jumpClient?.on('close', onGone);
    jumpClient?.on('error', () => undefined);
  }

  /** The command line actually sent: through sudo when the target needs it. */
  private wrap(command: string, privileged: boolean, closeStdin: boolean): string {
    const t = this.target;
    // the guard watches stdin for its end: a command whose stdin ends at once runs unguarded
    const guarded = closeStdin ? command : guard(command);
    if (!privileged || !t.become) return `exec /bin/sh -c ${shQuote(guarded)}`;
    const prompt = t.becomePassword ? '-S -p ""' : '-n';
    return `exec sudo ${prompt} -H -u ${shQuote(t.becomeUser)} -- /bin/sh -c ${shQuote(guarded)}`;
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const privileged = opts.privileged ?? true;
    const t = this.target;
    if (this.closed || this.dropped)
      return Promise.reject(new TransportError('disconnected', this.dropped ?? `connection to ${t.name} is closed`));
    return new Promise((resolve, reject) => {
      let stream: ClientChannel | null = null;
      let settled = false;
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const finish = (e: TransportError | null, code: number | null = null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(onDrop);
        if (e) {
          try {
            stream?.signal('KILL');
            stream?.close();
          } catch {
            /* already gone */
          }
          reject(e);
          return;
        }
        let stderr = Buffer.concat(err).toString('utf8');
        if (t.becomePassword) stderr = stderr.split(t.becomePassword).join('<redacted>');
        const stdout = Buffer.concat(out).toString('utf8');
        if (privileged && t.become && code === 1 && !stdout && SUDO_FAIL.test(stderr)) {
          reject(new TransportError('sudo', `sudo on ${t.name} refused: ${firstLine(stderr.trim())}`));
          return;
        }
        resolve({ code, stdout, stderr });
      };
      const t0 = Date.now();
      const expire = () =>
        finish(
          new TransportError(
            'timeout',
            `command on ${t.name} did not finish within ${Math.round((Date.now() - t0) / 1000)}s`,
          ),
        );
      let timer = setTimeout(expire, opts.timeoutFrom ? (opts.maxMs ?? timeoutMs) : timeoutMs);
      // the budget starts once what the command waits for has come (bounded by maxMs overall)
      opts.timeoutFrom
        ?.then(
          () => undefined,
          () => undefined,
        )
        .then(() => {
          if (settled) return;
          const left = Math.min(timeoutMs, (opts.maxMs ?? Infinity) - (Date.now() - t0));
          clearTimeout(timer);
          timer = setTimeout(expire, Math.max(0, left));
        });
      const onDrop = (e: TransportError) => finish(e);
      this.pending.add(onDrop);
      try {
        this.client.exec(this.wrap(command, privileged, !!opts.closeStdin), (e, s) => {
          if (e)
            return finish(new TransportError('disconnected', `cannot run a command on ${t.name}: ${firstLine(e)}`));
          stream = s;
          s.on('data', (d: Buffer) => out.push(d));
          s.stderr.on('data', (d: Buffer) => err.push(d));
          s.on('exit', (code: number | null) => {
            s.once('close', () => finish(null, code));
          });
          s.on('close', () => setImmediate(() => finish(null, null)));
          s.on('error', () => undefined);
          if (privileged && t.become && t.becomePassword) s.write(`${t.becomePassword}\n`);
          // stdin stays open while the command runs: its end tells the node-side guard to stop.
          // (closeStdin: a wrong sudo password then fails at once instead of sudo asking again)
          if (opts.closeStdin) s.end();
          else if (opts.input) {
            opts.input.then(
              (data) => {
                if (!settled && data) s.write(data.endsWith('\n') ? data : `${data}\n`);
              },
              () => undefined,
            );
          }
        });
      } catch (e) {
        finish(new TransportError('disconnected', `cannot run a command on ${t.name}: ${firstLine(e)}`));
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.end();
    this.jumpClient?.end();
    setTimeout(() => {
      this.client.destroy();
      this.jumpClient?.destroy();
    }, 200).unref();
  }
}

function forward(
  jump: Client,
  host: string,
  port: number,
  timeoutMs: number,
  jumpName: string,
): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new TransportError(
            'timeout',
            `bastion ${jumpName} did not open a channel to ${host}:${port} within ${Math.round(timeoutMs / 1000)}s`,
          ),
        ),
      timeoutMs,
    );
    jump.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
      clearTimeout(timer);
      if (err)
        reject(
          new TransportError('unreachable', `bastion ${jumpName} cannot reach ${host}:${port}: ${firstLine(err)}`),
        );
      else resolve(ch);
    });
  });
}

/** The error when `id -u` (run as root through the become method) did not print 0. */
export function rootProblem(
  target: Target,
  code: number | null,
  stdout: string,
  stderr: string,
): TransportError | null {
  const uid = stdout.trim().split('\n')[0]?.trim();
  if (code === 0 && uid === '0') return null;
  const why = (firstLine(stderr.trim()) || `id -u printed "${(uid ?? '').slice(0, 40)}"`).slice(0, 200);
  return new TransportError(
    'sudo',
    `cannot run commands as root on ${target.name}${target.become ? ' through sudo' : ''}: ${why}`,
  );
}

/** Connect to a node (through its jump host), then prove root works. */
export async function connect(target: Target, opts: ConnectOptions): Promise<NodeSession> {
  let jumpClient: Client | null = null;
  let client: Client | null = null;
  try {
    if (target.jump) {
      try {
        jumpClient = await openClient(target.jump, opts);
      } catch (err) {
        const e = err as TransportError;
        throw new TransportError(e.kind, `bastion: ${e.message}`);
      }
      const ch = await forward(jumpClient, target.address, target.port, opts.timeoutMs, target.jump.name);
      client = await openClient(target, opts, ch);
    } else {
      client = await openClient(target, opts);
    }
    const session = new SshSession(target, client, jumpClient, opts.execTimeoutMs);
    // A sudo password is checked up front, stdin closed, so a wrong one fails in a second rather
    // than leaving sudo waiting for a second try for the whole command budget.
    if (opts.checkRoot === false && !(target.become && target.becomePassword)) return session;
    const r = await session.exec('id -u', { timeoutMs: opts.timeoutMs, closeStdin: true });
    const notRoot = rootProblem(target, r.code, r.stdout, r.stderr);
    if (notRoot) {
      session.close();
      throw notRoot;
    }
    return session;
  } catch (err) {
    client?.end();
    jumpClient?.end();
    throw err instanceof TransportError ? err : classify(err, target.name, null);
  }
}
