// Everything read from a node in one round trip: kernel, iptables (both backends), links and
// addresses, offload settings of the overlay interface and its parent. Read-only. (The counters
// are read right before and after the probes; parseGather still takes them from older captures.)
import type { NodeFacts, OffloadFacts, ParseError, IptablesRule } from '../types.js';
import { isParseError } from '../types.js';
import { shQuote } from '../transport/quote.js';
import { splitSections } from './sections.js';
import { parseIptablesSave } from './iptables.js';
import { parseDefaultDev, parseLinks } from './iproute.js';
import { parseEthtoolK } from './ethtool.js';
import { parseCounters } from './counters.js';

export interface GatherOptions {
  overlayInterfaces: string[];
}

/** The default route's device, cut out of `ip -j route show default` (in $r) without a process. */
export const DEFAULT_DEV_SH = `dev=; case "$r" in *'"dev":"'*) dev=\${r#*'"dev":"'}; dev=\${dev%%'"'*};; esac`;

export function gatherScript(o: GatherOptions): string {
  const ifs = o.overlayInterfaces.map(shQuote).join(' ');
  // Every process started on a node costs a fork and exec (over a millisecond each on a VM that
  // traps CPUID in the dynamic loader): files are read with shell builtins, one `ip` call lists links
  // with their details and addresses, the default route's device is cut out of its JSON in the shell,
  // and iptables-legacy-save runs only where legacy tables exist (it prints nothing otherwise).
  // Counters are read around the probes (the probe program), not here.
  return [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; LC_ALL=C; export LC_ALL',
    'echo @@kernel; if read -r k </proc/sys/kernel/osrelease 2>/dev/null; then echo "$k"; echo "@@rc 0"; else uname -r; echo "@@rc $?"; fi',
    'if command -v iptables-legacy-save >/dev/null 2>&1 && read -r t </proc/net/ip_tables_names 2>/dev/null; then echo "@@iptables legacy"; iptables-legacy-save 2>&1; echo "@@rc $?"; fi',
    'if command -v iptables-nft-save >/dev/null 2>&1; then echo "@@iptables nft"; iptables-nft-save 2>&1; echo "@@rc $?"; fi',
    'if ! command -v iptables-legacy-save >/dev/null 2>&1 && ! command -v iptables-nft-save >/dev/null 2>&1; then echo "@@iptables auto"; iptables-save 2>&1; echo "@@rc $?"; fi',
    'echo @@link; ip -d -j addr show 2>&1; echo "@@rc $?"',
    'r=$(ip -j route show default 2>&1); c=$?; echo @@route; echo "$r"; echo "@@rc $c"',
    DEFAULT_DEV_SH,
    `for i in ${ifs} $dev; do if [ -e "/sys/class/net/$i" ]; then echo "@@ethtool $i"; if command -v ethtool >/dev/null 2>&1; then ethtool -k "$i" 2>&1; echo "@@rc $?"; else echo "ethtool: not installed"; echo "@@rc 127"; fi; fi; done`,
  ].join('\n');
}

export function parseGather(host: string, stdout: string): NodeFacts {
  const sections = splitSections(stdout);
  const get = (name: string) => sections.filter((s) => s.name === name);
  const facts: NodeFacts = {
    host,
    kernel: get('kernel')[0]?.body.trim() || null,
    links: { parseError: 'ip link: no output' },
    iptables: { parseError: 'iptables-save: no output' },
    offload: {},
    counters: { parseError: '/proc/net/snmp: no output' },
    commands: [],
  };
  for (const s of sections) facts.commands.push({ name: s.name + (s.arg ? ` ${s.arg}` : ''), command: s.name, code: s.code, stderr: s.code ? s.body.split('\n')[0] ?? '' : '' });

  const link = get('link')[0];
  const addr = get('addr')[0];
  if (link) {
    facts.links = link.code === 0 ? parseLinks(link.body, addr?.body ?? link.body, parseDefaultDev(get('route')[0]?.body ?? '')) : { parseError: `ip -d -j addr show failed: ${link.body.trim().split('\n')[0] ?? ''}` };
  }

  const ipt = get('iptables');
  if (ipt.length) {
    const rules: IptablesRule[] = [];
    const backends: ('legacy' | 'nft')[] = [];
    let err: ParseError | null = null;
    for (const s of ipt) {
      if (s.code !== 0) {
        err ??= { parseError: `iptables-${s.arg}-save failed (exit ${s.code}): ${s.body.trim().split('\n')[0] ?? ''}` };
        continue;
      }
      let backend: 'legacy' | 'nft' = s.arg === 'legacy' ? 'legacy' : 'nft';
      if (s.arg === 'auto') backend = /\(legacy\)/.test(s.body) ? 'legacy' : 'nft';
      const r = parseIptablesSave(s.body, backend);
      if (isParseError(r)) {
        err ??= r;
        continue;
      }
      if (r.length || /^\*/m.test(s.body)) backends.push(backend);
      rules.push(...r);
    }
    facts.iptables = err && !backends.length ? err : { backends, rules };
  }

  for (const s of get('ethtool')) {
    facts.offload[s.arg] = s.code === 0 ? parseEthtoolK(s.body) : ({ parseError: `ethtool -k ${s.arg} failed: ${s.body.trim().split('\n')[0] ?? ''}` } as ParseError);
  }
  facts.counters = parseCounters(stdout);
  return facts;
}

export type { OffloadFacts };
