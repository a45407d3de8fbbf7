// Host patterns in inventory files, as Ansible reads them: `host:port`, `[v6::addr]:port`, and
// ranges `node[01:04]`, `node[a:c]`, `node[1:10:2]` (ansible.inventory.helpers / utils.display).

export class PatternError extends Error {}

/** Split `name:port`, keeping colons inside [ranges] and bare IPv6 addresses intact. */
export function parseAddress(pattern: string): { host: string; port: number | null } {
  const v6 = /^\[([0-9a-fA-F:.]+(?:%[\w.]+)?)\](?::(\d+))?$/.exec(pattern);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : null };
  // Replace range brackets by placeholders so their colons do not count.
  const masked = pattern.replace(/\[[^\]]*\]/g, (m) => 'x'.repeat(m.length));
  const colons = [...masked].filter((c) => c === ':').length;
  if (colons === 1) {
    const i = masked.indexOf(':');
    const port = pattern.slice(i + 1);
    if (!/^\d+$/.test(port)) throw new PatternError(`invalid port in host pattern "${pattern}"`);
    return { host: pattern.slice(0, i), port: Number(port) };
  }
  return { host: pattern, port: null };
}

function expandOne(beg: string, end: string, step: string | undefined, pattern: string): string[] {
  const stride = step === undefined || step === '' ? 1 : Number(step);
  if (!Number.isInteger(stride) || stride < 1) throw new PatternError(`invalid range step in "${pattern}"`);
  const out: string[] = [];
  if (/^\d*$/.test(beg) && /^\d+$/.test(end)) {
    const b = beg === '' ? 0 : Number(beg);
    const e = Number(end);
    if (b > e) throw new PatternError(`range start is after range end in "${pattern}"`);
    // A leading zero keeps the width, as in node[01:10] -> node01 ... node10.
    const width = beg.length > 1 && beg.startsWith('0') ? beg.length : 0;
    for (let i = b; i <= e; i += stride) out.push(width ? String(i).padStart(width, '0') : String(i));
    return out;
  }
  if (/^[a-zA-Z]$/.test(beg) && /^[a-zA-Z]$/.test(end)) {
    const b = beg.charCodeAt(0);
    const e = end.charCodeAt(0);
    if (b > e) throw new PatternError(`range start is after range end in "${pattern}"`);
    for (let i = b; i <= e; i += stride) out.push(String.fromCharCode(i));
    return out;
  }
  throw new PatternError(`host range must be numeric or a single letter in "${pattern}"`);
}

/** Expand every [a:b] / [a:b:s] range in a host name. */
export function expandHostRange(pattern: string): string[] {
  const m = /^(.*?)\[([^\]:]*):([^\]:]*)(?::([^\]]*))?\](.*)$/.exec(pattern);
  if (!m) {
    if (/[[\]]/.test(pattern)) throw new PatternError(`unbalanced or invalid range in host pattern "${pattern}"`);
    return [pattern];
  }
  const [, head, beg, end, step, tail] = m;
  const values = expandOne(beg!, end!, step, pattern);
  const rest = expandHostRange(tail!);
  const out: string[] = [];
  for (const v of values) for (const r of rest) out.push(`${head}${v}${r}`);
  return out;
}

export function expandHostPattern(pattern: string): { hosts: string[]; port: number | null } {
  const { host, port } = parseAddress(pattern);
  return { hosts: expandHostRange(host), port };
}
