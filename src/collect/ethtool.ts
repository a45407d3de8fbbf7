// `ethtool -k <dev>` -> feature map. Pure; never throws.
import type { OffloadFacts, Parsed } from '../types.js';

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
