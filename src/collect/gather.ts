// Everything the checks read from a node, in one script: a prelude (PATH, locale, the default
// route's device in $dev for readers that need the overlay's parent) and each reader's fragment.
// Read-only. The counters are read right before and after the probes, by the probe program.
import type { NodeFacts } from '../types.js';
import type { Reader, ReaderContext } from './reader.js';
import { SH_RUN, splitSections } from './sections.js';
import { parseCounters } from './counters.js';
import { kernelReader } from './kernel.js';
import { iptablesReader } from './iptables.js';
import { linksReader } from './iproute.js';
import { offloadReader } from './ethtool.js';
import { firstLine } from '../errors.js';

/** The default route's device, cut out of `ip -j route show default` (in $r) without a process. */
export const DEFAULT_DEV_SH = `dev=; case "$r" in *'"dev":"'*) dev=\${r#*'"dev":"'}; dev=\${dev%%'"'*};; esac`;

/** The readers every node check of the core needs; the registry adds the modules' own. */
export const CORE_READERS: readonly Reader[] = [kernelReader, iptablesReader, linksReader, offloadReader];

const PRELUDE = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH; LC_ALL=C; export LC_ALL',
  'r=$(ip -j route show default 2>&1); c=$?; echo @@route; echo "$r"; echo "@@rc $c"',
  DEFAULT_DEV_SH,
  SH_RUN,
].join('\n');

/** Unique readers by key, first one wins, in a stable order. */
export function uniqueReaders(readers: readonly Reader[]): Reader[] {
  const seen = new Map<string, Reader>();
  for (const r of readers) if (!seen.has(r.key)) seen.set(r.key, r);
  return [...seen.values()];
}

// Every process started on a node costs a fork and exec (over a millisecond each on a VM that
// traps CPUID in the dynamic loader): readers read files with shell builtins and start as few
// processes as they can.
export function gatherScript(readers: readonly Reader[], ctx: ReaderContext): string {
  return [PRELUDE, ...uniqueReaders(readers).map((r) => r.script(ctx))].join('\n');
}

/** Parse the gather output with the given readers. Never throws: each field holds its value or
 *  its ParseError. (Counters in older captures are taken from the gather output too.) */
export function parseGather(
  host: string,
  stdout: string,
  readers: readonly Reader[] = CORE_READERS,
  ctx?: ReaderContext,
): NodeFacts {
  const sections = splitSections(stdout);
  const c = ctx ?? ({} as ReaderContext);
  const facts = {
    host,
    kernel: null,
    links: { parseError: 'ip link: no output' },
    iptables: { parseError: 'iptables-save: no output' },
    offload: {},
    counters: parseCounters(stdout),
  } as NodeFacts;
  const into = facts as unknown as Record<string, unknown>;
  for (const r of uniqueReaders(readers)) {
    try {
      into[r.key] = r.parse(sections, c);
    } catch (err) {
      into[r.key] = { parseError: `${r.key}: ${firstLine(err)}` };
    }
  }
  return facts;
}
