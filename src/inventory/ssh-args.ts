// ssh's command line as ssh reads it, so that an option is found only where ssh would take it as one.
// Ansible splits ansible_ssh_common_args / ansible_ssh_extra_args with Python's shlex.split (POSIX rules)
// and hands the words to ssh as argv; ssh reads them with getopt; a ProxyCommand runs through `sh -c`.
// A key path or host name holding "-J" or "ProxyJump" is therefore an argument, never an option.

export class SplitError extends Error {}

const BLANK = ' \t\r\n';

/** Python's `shlex.split(s)` (POSIX mode, no comments), then Ansible's `x.strip()` and dropping empty words.
 *  Throws SplitError where shlex raises (an unclosed quote, a trailing backslash). */
export function shellSplit(s: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: '' | "'" | '"' = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = '';
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = '';
      else if (c === '\\') {
        const n = s[++i];
        if (n === undefined) throw new SplitError('no closing quotation');
        // inside double quotes only the quote and the backslash itself are escaped
        word += n === '"' || n === '\\' ? n : `\\${n}`;
      } else word += c;
    } else if (BLANK.includes(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === "'" || c === '"') {
      word ??= '';
      quote = c;
    } else if (c === '\\') {
      const n = s[++i];
      if (n === undefined) throw new SplitError('no escaped character after a backslash');
      word = (word ?? '') + n;
    } else word = (word ?? '') + c;
  }
  if (quote) throw new SplitError('no closing quotation');
  if (word !== null) words.push(word);
  return words.map((w) => w.trim()).filter(Boolean);
}

// ssh's getopt string (OpenSSH ssh.c): these letters take an argument, attached (-p22) or the next word
const WITH_ARG = new Set('bceilmopBDEFIJLOPQRSwW');

export type Proxy = { kind: 'jump'; value: string } | { kind: 'command'; value: string };

/** What an ssh command line sets, first value winning as in ssh (command line before config,
 *  an earlier word before a later one; ProxyJump and ProxyCommand compete: the first one counts). */
export interface SshArgs {
  proxy: Proxy | null;
  port: string | null;
  user: string | null;
  hostName: string | null;
  identity: string | null;
  /** -W's argument */
  forward: string | null;
  /** the first word that is not an option (ssh's destination), and the host it names */
  destination: string | null;
  destinationHost: string | null;
  /** why ssh would refuse this command line (it allows one -J, and no -J after a ProxyCommand) */
  refused: string | null;
}

function emptyArgs(): SshArgs {
  return {
    proxy: null,
    port: null,
    user: null,
    hostName: null,
    identity: null,
    forward: null,
    destination: null,
    destinationHost: null,
    refused: null,
  };
}

/** One `-o` argument, read as ssh_config reads a line: a keyword, then blanks or one "=", then the value. */
function option(a: SshArgs, text: string): void {
  const m = /^[ \t]*([A-Za-z]+)(?:[ \t]*=[ \t]*|[ \t]+)(.*?)[ \t]*$/s.exec(text);
  if (!m) return;
  const key = m[1]!.toLowerCase();
  const rest = m[2]!;
  let word = rest;
  try {
    word = shellSplit(rest)[0] ?? '';
  } catch {
    // ssh would refuse the line; the text as written names the value in a message
  }
  if (key === 'proxycommand') a.proxy ??= { kind: 'command', value: rest };
  else if (key === 'proxyjump') a.proxy ??= { kind: 'jump', value: word };
  else if (key === 'port') a.port ??= word;
  else if (key === 'user') a.user ??= word;
  else if (key === 'hostname') a.hostName ??= word;
  else if (key === 'identityfile') a.identity ??= word;
}

/** ssh's destination: its user and port count where the word stands (an earlier -l or -p wins). */
function destination(a: SshArgs, w: string): void {
  const d = splitHop(w, { port: false });
  a.destination = w;
  a.destinationHost = d.host;
  a.user ??= d.user;
  a.port ??= d.port;
}

/** Reads ssh's argv (without the program name) as ssh's getopt does. After the destination ssh reads
 *  options again; the next word that is not an option starts the remote command, where options end.
 *  With `destination: false` (Ansible's extra words, which come before the host) options end at the
 *  first word that is not one, as ssh would take that word for the host. `opaque` words (text not yet
 *  known, such as an unevaluated template) are passed over where they would end the options. */
export function readSshArgv(
  argv: string[],
  opts: { destination: boolean; opaque?: (word: string) => boolean },
): SshArgs {
  const a = emptyArgs();
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') {
      const d = argv[i + 1];
      if (opts.destination && a.destination === null && d !== undefined) destination(a, d);
      break;
    }
    if (!w.startsWith('-') || w === '-') {
      if (opts.opaque?.(w)) continue;
      if (!opts.destination || a.destination !== null) break;
      destination(a, w);
      continue;
    }
    for (let j = 1; j < w.length; j++) {
      const c = w[j]!;
      // a letter without an argument is a flag; one ssh does not know changes nothing read here
      if (!WITH_ARG.has(c)) continue;
      const arg = j + 1 < w.length ? w.slice(j + 1) : argv[++i];
      if (arg === undefined) break;
      if (c === 'J') {
        if (a.proxy?.kind === 'command') a.refused ??= 'ssh cannot take -J with a ProxyCommand';
        else if (a.proxy) a.refused ??= 'ssh takes a single -J or ProxyJump (hops are separated by commas)';
        a.proxy ??= { kind: 'jump', value: arg };
      } else if (c === 'o') option(a, arg);
      else if (c === 'p') a.port ??= arg;
      else if (c === 'l') a.user ??= arg;
      else if (c === 'i') a.identity ??= arg;
      else if (c === 'W') a.forward ??= arg;
      break;
    }
  }
  return a;
}

/** `[user@]host[:port]` or `ssh://[user@]host[:port]` (ProxyJump's hop, ssh's destination); a bracketed
 *  IPv6 address keeps its colons. With `port: false` (a plain destination) a colon is part of the host. */
export function splitHop(
  s: string,
  opts: { port: boolean },
): { user: string | null; host: string; port: string | null } {
  const uri = s.startsWith('ssh://');
  let rest = uri ? s.slice('ssh://'.length).replace(/\/$/, '') : s;
  let user: string | null = null;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let port: string | null = null;
  const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(rest);
  if ((uri || opts.port) && m && m[2] !== undefined) {
    rest = m[1]!;
    port = m[2];
  }
  return { user, host: rest.replace(/^\[(.*)\]$/, '$1'), port };
}
