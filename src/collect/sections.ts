// The gather script prints sections "@@<name> [arg]" followed by that command's output and a
// closing "@@rc <code>". One SSH round trip per node carries every command.
export interface Section {
  name: string;
  arg: string;
  body: string;
  code: number | null;
}

export function splitSections(stdout: string): Section[] {
  const out: Section[] = [];
  let cur: Section | null = null;
  const lines: string[] = [];
  const flush = () => {
    if (cur) {
      cur.body = lines.join('\n');
      out.push(cur);
    }
    lines.length = 0;
  };
  for (const line of stdout.split('\n')) {
    const m = /^@@(\S+)(?: (.*))?$/.exec(line);
    if (m && m[1] === 'rc' && cur) {
      cur.code = /^\d+$/.test(m[2] ?? '') ? Number(m[2]) : null;
      continue;
    }
    if (m && m[1] !== 'rc') {
      flush();
      cur = { name: m[1]!, arg: m[2] ?? '', body: '', code: null };
      continue;
    }
    if (cur) lines.push(line);
  }
  flush();
  return out;
}
