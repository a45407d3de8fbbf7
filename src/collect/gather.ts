// Everything read from a node in one round trip: kernel, iptables (both backends), links and
// addresses, offload settings of the overlay interface and its parent, counters. Read-only.
import type { NodeFacts, OffloadFacts, ParseError, IptablesRule } from '../types.js';
import { isParseError } from '../types.js';
import { shQuote } from '../transport/quote.js';
import { splitSections } from './sections.js';
import { parseIptablesSave } from './iptables.js';
import { parseDefaultDev, parseLinks } from './iproute.js';
import { parseEthtoolK } from './ethtool.js';
import { parseCounters, countersScript } from './counters.js';

export interface GatherOptions {
  overlayInterfaces: string[];
}

export function gatherScript(o: GatherOptions): string {
  const ifs = o.overlayInterfaces.map(shQuote).join(' ');
  return [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; LC_ALL=C; export LC_ALL',
    'echo @@kernel; uname -r; echo "@@rc $?"',
    'for b in legacy nft; do if command -v iptables-$b-save >/dev/null 2>&1; then echo "@@iptables $b"; iptables-$b-save 2>&1; echo "@@rc $?"; fi; done',
    'if ! command -v iptables-legacy-save >/dev/null 2>&1 && ! command -v iptables-nft-save >/dev/null 2>&1; then echo "@@iptables auto"; iptables-save 2>&1; echo "@@rc $?"; fi',
    'echo @@link; ip -d -j link show 2>&1; echo "@@rc $?"',
    'echo @@addr; ip -j addr show 2>&1; echo "@@rc $?"',
    'echo @@route; ip -j route show default 2>&1; echo "@@rc $?"',
    `dev=$(ip route show default 2>/dev/null | awk '{for(i=1;i<NF;i++) if($i=="dev"){print $(i+1); exit}}')`,
    `for i in ${ifs} $dev; do if [ -e "/sys/class/net/$i" ]; then echo "@@ethtool $i"; if command -v ethtool >/dev/null 2>&1; then ethtool -k "$i" 2>&1; echo "@@rc $?"; else echo "ethtool: not installed"; echo "@@rc 127"; fi; fi; done`,
    countersScript,
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
    facts.links = link.code === 0 ? parseLinks(link.body, addr?.body ?? '[]', parseDefaultDev(get('route')[0]?.body ?? '')) : { parseError: `ip -d -j link failed: ${link.body.trim().split('\n')[0] ?? ''}` };
    if (link.code === 0 && isParseError(facts.links)) {
      /* keep the parse error */
    }
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
  const c = parseCounters(stdout);
  facts.counters = c;
  return facts;
}

export type { OffloadFacts };
