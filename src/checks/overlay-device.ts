// The overlay device a node should have, looked up in its links: shared by the overlay.* checks.
import type { ClusterModel, LinkFacts, NodeFacts } from '../types.js';
import { isParseError } from '../types.js';
import { expectedOverlay, type Overlay } from '../inventory/overlay.js';

export type OverlayLookup =
  | { kind: 'none'; why: string }
  | { kind: 'error'; error: string }
  | { kind: 'missing'; ov: Overlay; present: string[] }
  | { kind: 'found'; ov: Overlay; dev: LinkFacts; links: LinkFacts[] };

export function lookupOverlay(f: NodeFacts, c: ClusterModel): OverlayLookup {
  const ov = expectedOverlay(c);
  if (!ov) return { kind: 'none', why: c.networkPlugin !== 'calico' ? `network plugin is ${c.networkPlugin}` : 'Calico runs without encapsulation' };
  if (isParseError(f.links)) return { kind: 'error', error: f.links.parseError };
  const dev = f.links.find((l) => l.name === ov.device);
  if (!dev) return { kind: 'missing', ov, present: f.links.filter((l) => ['vxlan.calico', 'tunl0', 'vxlan-v6.calico', 'flannel.1', 'cilium_vxlan'].includes(l.name)).map((l) => l.name) };
  return { kind: 'found', ov, dev, links: f.links };
}
