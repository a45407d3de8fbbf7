// /proc/net/snmp and /proc/net/netstat -> flat counters ("Tcp.InCsumErrors"). Pure; never throws.
import type { Counters, Parsed } from '../types.js';
import { splitSections } from './sections.js';

export const countersScript = 'echo @@snmp; cat /proc/net/snmp; echo "@@rc $?"; echo @@netstat; cat /proc/net/netstat; echo "@@rc $?"';

/** Header/value line pairs: "Tcp: RtoAlgorithm RtoMin ..." then "Tcp: 1 200 ...". */
export function parseProcNet(text: string, into: Counters = {}): Parsed<Counters> {
  const lines = text.split('\n').filter((l) => l.trim());
  let pairs = 0;
  for (let i = 0; i + 1 < lines.length; i++) {
    const a = /^(\w+):\s+(.*)$/.exec(lines[i]!);
    const b = /^(\w+):\s+(.*)$/.exec(lines[i + 1]!);
    if (!a || !b || a[1] !== b[1]) continue;
    const names = a[2]!.trim().split(/\s+/);
    const vals = b[2]!.trim().split(/\s+/);
    if (!names.every((n) => /^[A-Za-z]/.test(n)) || !vals.every((v) => /^-?\d+$/.test(v))) continue;
    if (names.length !== vals.length) return { parseError: `${a[1]}: ${names.length} names but ${vals.length} values` };
    names.forEach((n, j) => (into[`${a[1]}.${n}`] = Number(vals[j])));
    pairs++;
    i++;
  }
  if (!pairs) return { parseError: 'no counter header/value pairs found' };
  return into;
}

export function parseCounters(stdout: string): Parsed<Counters> {
  const c: Counters = {};
  let ok = 0;
  const errs: string[] = [];
  for (const s of splitSections(stdout)) {
    if (s.name !== 'snmp' && s.name !== 'netstat') continue;
    const r = parseProcNet(s.body, c);
    if ('parseError' in r) errs.push(`/proc/net/${s.name}: ${r.parseError}`);
    else ok++;
  }
  if (!ok) return { parseError: errs[0] ?? 'no /proc/net/snmp output' };
  return c;
}

export function counterDelta(before: Counters, after: Counters): Counters {
  const d: Counters = {};
  for (const [k, v] of Object.entries(after)) {
    const b = before[k];
    if (typeof b === 'number') d[k] = v - b;
  }
  return d;
}

/** The counters that speak of lost or corrupt segments, in the order evidence lists them. */
export const INTERESTING = [
  'Tcp.InCsumErrors', 'Tcp.InErrs', 'Tcp.RetransSegs', 'TcpExt.TCPTimeouts', 'TcpExt.TCPSynRetrans',
  'Udp.InCsumErrors', 'Udp.InErrors', 'Udp.RcvbufErrors', 'Udp.NoPorts', 'Ip.InHdrErrors', 'Ip.InDiscards',
];
