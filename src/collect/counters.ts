// /proc/net/snmp and /proc/net/netstat -> flat counters ("Tcp.InCsumErrors"). Pure; never throws.
import type { Counters, Parsed } from '../types.js';
import { shQuote } from '../transport/quote.js';
import { splitSections } from './sections.js';

/** The counters read before and after the probes, for the bash fallback (the python prober reads
 *  the same files itself): /proc/net/snmp, /proc/net/netstat and `files`. */
export function countersScript(files: { section: string; path: string }[] = []): string {
  return [
    'echo @@snmp; cat /proc/net/snmp; echo "@@rc $?"; echo @@netstat; cat /proc/net/netstat; echo "@@rc $?"',
    ...files.map((f) => `echo ${shQuote(`@@${f.section}`)}; cat ${shQuote(f.path)} 2>&1; echo "@@rc $?"`),
  ].join('; ');
}

/** Files read with the counters: the overlay devices' packet counters (RX that does not move while
 *  TX does is an overlay blocked on the way in) and conntrack's statistics (insert races, a full
 *  table). A file that is not there (a device the plugin did not create, conntrack not loaded) is
 *  an error section the parser passes over. */
export function counterFiles(overlayDevs: string[]): { section: string; path: string }[] {
  const out: { section: string; path: string }[] = [];
  for (const d of overlayDevs) {
    for (const stat of ['rx_packets', 'tx_packets', 'rx_dropped', 'rx_errors'])
      out.push({ section: `value Link.${d}.${stat}`, path: `/sys/class/net/${d}/statistics/${stat}` });
  }
  out.push({ section: 'nfct Conntrack', path: '/proc/net/stat/nf_conntrack' });
  return out;
}

/** /proc/net/stat/nf_conntrack: a header of field names, then one row of hex values per CPU.
 *  Summed over CPUs (entries is global: the first row's). Pure; never throws. */
export function parseNfConntrack(text: string, prefix: string, into: Counters = {}): Parsed<Counters> {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const head = lines[0]?.split(/\s+/) ?? [];
  if (!head.length || !head.every((h) => /^[a-z_]+$/.test(h))) return { parseError: 'nf_conntrack stats: no header' };
  let rows = 0;
  for (const l of lines.slice(1)) {
    const vals = l.split(/\s+/);
    if (vals.length !== head.length || !vals.every((v) => /^[0-9a-f]+$/i.test(v))) continue;
    head.forEach((h, i) => {
      const v = Number.parseInt(vals[i]!, 16);
      const k = `${prefix}.${h}`;
      if (h === 'entries') into[k] = rows === 0 ? v : into[k]!;
      else into[k] = (into[k] ?? 0) + v;
    });
    rows++;
  }
  if (!rows) return { parseError: 'nf_conntrack stats: no rows' };
  return into;
}

const PAIR_LINE = /^(\w+):\s+(.*)$/;
const VALUES = /^-?\d+(?:\s+-?\d+)*$/;
/** A header line's keys ("Tcp: RtoAlgorithm …" -> "Tcp.RtoAlgorithm", …), null when it is not a
 *  header. Every node prints the same few header lines: their keys are made once, not per node. */
const headers = new Map<string, { prefix: string; keys: string[] } | null>();
function headerOf(line: string): { prefix: string; keys: string[] } | null {
  let h = headers.get(line);
  if (h !== undefined) return h;
  const a = PAIR_LINE.exec(line);
  const names = a ? a[2]!.trim().split(/\s+/) : [];
  h = a && names.every((n) => /^[A-Za-z]/.test(n)) ? { prefix: a[1]!, keys: names.map((n) => `${a[1]}.${n}`) } : null;
  if (headers.size > 512) headers.clear();
  headers.set(line, h);
  return h;
}

/** Header/value line pairs: "Tcp: RtoAlgorithm RtoMin ..." then "Tcp: 1 200 ...". */
export function parseProcNet(text: string, into: Counters = {}): Parsed<Counters> {
  const lines = text.split('\n').filter((l) => l.trim());
  let pairs = 0;
  for (let i = 0; i + 1 < lines.length; i++) {
    const b = PAIR_LINE.exec(lines[i + 1]!);
    if (!b || !PAIR_LINE.test(lines[i]!)) continue;
    const h = headerOf(lines[i]!);
    const row = b[2]!.trim();
    if (!h || h.prefix !== b[1] || !VALUES.test(row)) continue;
    const vals = row.split(/\s+/);
    if (h.keys.length !== vals.length)
      return { parseError: `${h.prefix}: ${h.keys.length} names but ${vals.length} values` };
    for (let j = 0; j < vals.length; j++) into[h.keys[j]!] = Number(vals[j]);
    pairs++;
    i++;
  }
  if (!pairs) return { parseError: 'no counter header/value pairs found' };
  return into;
}

/** The key of a counter read in the network namespace holding a pod's address. */
export const podKey = (ip: string, counter: string) => `Pod.${ip}.${counter}`;

/** A pod namespace's Tcp/Udp lines of /proc/<pid>/net/snmp, read by the python prober (section
 *  `podsnmp <addr>[,<addr>]`), filed under each of its addresses: `Pod.<addr>.Udp.InCsumErrors`. */
export function parsePodSnmp(arg: string, body: string, into: Counters): void {
  const addrs = arg.split(',').filter((a) => /^[0-9a-fA-F.:]{2,45}$/.test(a));
  if (!addrs.length) return;
  const got = parseProcNet(body);
  if ('parseError' in got) return;
  for (const a of addrs) for (const [k, v] of Object.entries(got)) into[podKey(a, k)] = v;
}

/** The output of the pod namespaces' counters read on their own (probe/program.ts podCountersScript):
 *  `Netns.pods` and the `Pod.<addr>.…` keys; nothing when the output has none. Never throws. */
export function parsePodCounters(stdout: string): Counters {
  const c: Counters = {};
  for (const s of splitSections(stdout)) {
    if (s.name === 'value' && s.arg === 'Netns.pods' && s.code === 0 && /^\s*\d+\s*$/.test(s.body))
      c[s.arg] = Number(s.body.trim());
    if (s.name === 'podsnmp' && s.code === 0) parsePodSnmp(s.arg, s.body, c);
  }
  return c;
}

export function parseCounters(stdout: string): Parsed<Counters> {
  const c: Counters = {};
  let ok = 0;
  const errs: string[] = [];
  for (const s of splitSections(stdout)) {
    if (s.name === 'value' && s.code === 0 && /^[A-Za-z][\w.@:-]*$/.test(s.arg) && /^\s*\d+\s*$/.test(s.body)) {
      c[s.arg] = Number(s.body.trim());
      continue;
    }
    if (s.name === 'nfct' && s.code === 0 && /^[A-Za-z]+$/.test(s.arg)) {
      parseNfConntrack(s.body, s.arg, c);
      continue;
    }
    if (s.name === 'podsnmp') {
      if (s.code === 0) parsePodSnmp(s.arg, s.body, c);
      continue;
    }
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
  'Tcp.InCsumErrors',
  'Tcp.InErrs',
  'Tcp.RetransSegs',
  'TcpExt.TCPTimeouts',
  'TcpExt.TCPSynRetrans',
  'Udp.InCsumErrors',
  'Udp.InErrors',
  'Udp.RcvbufErrors',
  'Udp.NoPorts',
  'Ip.InHdrErrors',
  'Ip.InDiscards',
];
