// The CoreDNS `loop` plugin's fatal line, as `kubectl logs --previous` prints it for a CoreDNS or
// node-cache container stopped by it. Three wordings over CoreDNS's history:
//   1.3+  [FATAL] plugin/loop: Loop (127.0.0.1:34614 -> :53) detected for zone ".", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO 6074102630077018525.5798689655824409358."
//   1.2.x [FATAL] plugin/loop: Seen "HINFO IN 2050421060481615995.5620656063561519376." more than twice, loop detected
//   1.2.4 [FATAL] plugin/loop: Forwarding loop detected in "." zone. Exiting. See https://coredns.io/plugins/loop#troubleshooting.
// A line may carry a prefix: a timestamp ("2019-04-17T00:18:44.486Z ", "2018/09/06 13:02:45 ",
// `--timestamps`' RFC 3339 time), the CRI log format ("<time> stdout F "), or be a JSON log record
// ({"log":"[FATAL] plugin/loop: …\n","stream":"stdout","time":"…"}). Pure; never throws.

export interface LoopLine {
  /** the address:port the looping query came from, e.g. 169.254.25.10:55583 (null in older wordings) */
  from: string | null;
  /** the listener it reached, e.g. 169.254.25.10:53 or :53 (null in older wordings) */
  to: string | null;
  /** the zone the loop was detected for ("." for the default zone), null when not printed */
  zone: string | null;
  /** the HINFO probe name, null when not printed */
  query: string | null;
  /** the message from "[FATAL]" on, without any prefix */
  text: string;
  /** 1-based line in the log */
  line: number;
}

const NEW = /Loop \(([^\s()]*) -> ([^\s()]*)\) detected for zone "([^"]*)"(?:.*?Query: "(?:HINFO )?([^"]*)")?/;
const SEEN = /Seen "HINFO IN ([^"]*)" more than twice, loop detected/;
const OLD = /Forwarding loop detected in "([^"]*)" zone/;

/** The message part of one log line: JSON records unwrapped, prefixes left in place. */
function message(raw: string): string {
  const t = raw.trim();
  if (t.startsWith('{')) {
    try {
      const o = JSON.parse(t) as { log?: unknown; msg?: unknown; message?: unknown };
      const m = o.log ?? o.msg ?? o.message;
      if (typeof m === 'string') return m.replace(/\n$/, '');
    } catch {
      /* not JSON: read the line as it is */
    }
  }
  return raw;
}

/** Every loop line in a log, in order. */
export function parseLoopLines(log: string): LoopLine[] {
  const out: LoopLine[] = [];
  const lines = log.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = message(lines[i]!);
    const at = m.indexOf('plugin/loop:');
    if (at < 0) continue;
    const fatal = m.lastIndexOf('[FATAL]', at);
    const text = m.slice(fatal >= 0 ? fatal : at).trim();
    let x: RegExpExecArray | null;
    if ((x = NEW.exec(text)))
      out.push({ from: x[1] || null, to: x[2] || null, zone: x[3]!, query: x[4] ?? null, text, line: i + 1 });
    else if ((x = SEEN.exec(text))) out.push({ from: null, to: null, zone: null, query: x[1]!, text, line: i + 1 });
    else if ((x = OLD.exec(text))) out.push({ from: null, to: null, zone: x[1]!, query: null, text, line: i + 1 });
  }
  return out;
}

/** The last loop line of a log (what stopped the container), or null. */
export function lastLoopLine(log: string): LoopLine | null {
  const all = parseLoopLines(log);
  return all.length ? all[all.length - 1]! : null;
}

/** The host part of "169.254.25.10:53", "[fd00::a]:53" or ":53" (null when empty). */
export function loopAddress(hostPort: string | null): string | null {
  if (!hostPort) return null;
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(hostPort);
  if (v6) return v6[1]!;
  const i = hostPort.lastIndexOf(':');
  const host = i >= 0 ? hostPort.slice(0, i) : hostPort;
  return host || null;
}
