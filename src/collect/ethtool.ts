// `ethtool -k <dev>` -> feature map. Pure; never throws.
import type { NodeFacts, OffloadFacts, Parsed } from '../types.js';
import type { Reader } from '../checks/module.js';
import { overlayDevices } from '../inventory/overlay.js';
import { shQuote } from '../transport/quote.js';
import { firstLine } from '../errors.js';

export function parseEthtoolK(text: string): Parsed<OffloadFacts> {
  const features: OffloadFacts['features'] = {};
  let header = false;
  for (const raw of text.split('\n')) {
    if (/^Features for /.test(raw)) {
      header = true;
      continue;
    }
    const m = /^\s*([a-z0-9][a-z0-9-]*):\s+(on|off)(\s+\[(fixed|requested on|requested off)\])?\s*$/.exec(raw);
    if (m) features[m[1]!] = { on: m[2] === 'on', fixed: m[4] === 'fixed' };
  }
  if (!Object.keys(features).length) {
    const first = text.trim().split('\n')[0] ?? '';
    return { parseError: `ethtool -k: ${first ? `unexpected output "${first.slice(0, 100)}"` : 'no output'}` };
  }
  if (!header && !('rx-checksumming' in features) && !('tx-checksumming' in features)) return { parseError: 'ethtool -k: no checksum features listed' };
  return { features };
}

/** tx/rx checksum offload as the seed's fix turns it off. */
export function checksumOffload(o: OffloadFacts): { tx: boolean | null; rx: boolean | null } {
  const tx = o.features['tx-checksumming'] ?? o.features['tx-checksum-ip-generic'];
  const rx = o.features['rx-checksumming'];
  return { tx: tx ? tx.on : null, rx: rx ? rx.on : null };
}

/** `ethtool -k` of the overlay devices the plugin may create and of the default route's device
 *  ($dev, set by the gather prelude), each only where it exists. */
export const offloadReader: Reader<'offload'> = {
  key: 'offload',
  script: ({ cluster }) =>
    `for i in ${overlayDevices(cluster).map(shQuote).join(' ')} $dev; do if [ -e "/sys/class/net/$i" ]; then echo "@@ethtool $i"; if command -v ethtool >/dev/null 2>&1; then ethtool -k "$i" 2>&1; echo "@@rc $?"; else echo "ethtool: not installed"; echo "@@rc 127"; fi; fi; done`,
  parse(sections): NodeFacts['offload'] {
    const out: NodeFacts['offload'] = {};
    for (const s of sections.filter((x) => x.name === 'ethtool')) {
      out[s.arg] = s.code === 0 ? parseEthtoolK(s.body) : { parseError: `ethtool -k ${s.arg} failed: ${firstLine(s.body.trim())}` };
    }
    return out;
  },
};
