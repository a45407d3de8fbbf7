// The one place a value is made safe for a POSIX shell. Every value that reaches a remote
// command line goes through shQuote; values are also validated when the inventory loads.

/** Quote a string for sh/bash: wraps in single quotes, escaping embedded single quotes. */
export function shQuote(value: string): string {
  if (value.includes('\0')) throw new Error('NUL byte in a shell argument');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Join argv into one command line, each argument quoted. */
export function shJoin(argv: readonly string[]): string {
  return argv.map(shQuote).join(' ');
}
