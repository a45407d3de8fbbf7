// The gather script prints sections "@@<name> [arg]" followed by that command's output and a
// closing "@@rc <code>". One SSH round trip per node carries every command. A command whose output
// is a document (iptables-save, nft -j, ip -j) keeps its standard error apart (SH_RUN): it follows
// the output after a line "@@stderr", so a warning written while the output is still buffered
// cannot land inside a line of it.
export interface Section {
  name: string;
  arg: string;
  body: string;
  /** what the command wrote to standard error, where the script kept it apart ('' otherwise) */
  stderr: string;
  code: number | null;
}

/** `ksv_run cmd args…`: runs the command with its standard output straight to the script's, its
 *  standard error after it under "@@stderr", then "@@rc <code>". No process of its own: the command
 *  substitution's subshell runs the command itself. POSIX sh. */
export const SH_RUN =
  'ksv_run() { { ksv_e=$("$@" 2>&1 1>&3 3>&-); ksv_c=$?; } 3>&1; if [ -n "$ksv_e" ]; then echo; echo @@stderr; printf \'%s\\n\' "$ksv_e"; fi; echo "@@rc $ksv_c"; }';

/** The text a failed section has to say for itself: its standard error, else its output. */
export const failureText = (s: Section): string => (s.stderr.trim() ? s.stderr : s.body).trim();

export function splitSections(stdout: string): Section[] {
  const out: Section[] = [];
  let cur: Section | null = null;
  const lines: string[] = [];
  let err: string[] | null = null;
  const endStderr = () => {
    if (cur && err) {
      // the blank line SH_RUN puts ahead of "@@stderr" (output need not end in a newline)
      if (lines[lines.length - 1] === '') lines.pop();
      cur.stderr = err.join('\n');
    }
    err = null;
  };
  const flush = () => {
    endStderr();
    if (cur) {
      cur.body = lines.join('\n');
      out.push(cur);
    }
    lines.length = 0;
  };
  for (const line of stdout.split('\n')) {
    const m = /^@@(\S+)(?: (.*))?$/.exec(line);
    if (line === '@@stderr' && cur && !err) {
      err = [];
      continue;
    }
    if (m && m[1] === 'rc' && cur) {
      endStderr();
      cur.code = /^\d+$/.test(m[2] ?? '') ? Number(m[2]) : null;
      continue;
    }
    if (m && m[1] !== 'rc') {
      flush();
      cur = { name: m[1]!, arg: m[2] ?? '', body: '', stderr: '', code: null };
      continue;
    }
    if (cur) (err ?? lines).push(line);
  }
  flush();
  return out;
}
