// The overlay devices a node should have, looked up in its links: shared by the overlay.* checks.
// A dual-stack Calico cluster has two (vxlan.calico, vxlan-v6.calico); each check judges every one
// and reports one result per node (merge()).
import type { ClusterModel, LinkFacts, NodeFacts, Remediation, Status } from '../types.js';
import { isParseError } from '../types.js';
import {
  expectedOverlay,
  isOverlayName,
  noOverlayReason,
  type Overlay,
  type OverlayDevice,
} from '../inventory/overlay.js';

export interface DeviceLookup {
  spec: OverlayDevice;
  /** the link, when the node has it */
  dev: LinkFacts | null;
}

export type OverlayLookup =
  | { kind: 'none'; why: string }
  | { kind: 'error'; error: string }
  | { kind: 'found'; ov: Overlay; devs: DeviceLookup[]; links: LinkFacts[]; present: string[] };

export function lookupOverlay(f: NodeFacts, c: ClusterModel): OverlayLookup {
  const ov = expectedOverlay(c);
  if (!ov) return { kind: 'none', why: noOverlayReason(c) };
  if (isParseError(f.links)) return { kind: 'error', error: f.links.parseError };
  const links = f.links;
  const devs = ov.devices.map((spec) => ({ spec, dev: links.find((l) => l.name === spec.device) ?? null }));
  return { kind: 'found', ov, devs, links, present: links.filter((l) => isOverlayName(l.name)).map((l) => l.name) };
}

/** The parent (underlay) link of an overlay device, when it can be told. */
export function parentOf(dev: LinkFacts, links: LinkFacts[]): LinkFacts | undefined {
  return dev.parent ? links.find((l) => l.name === dev.parent) : undefined;
}

export interface Part {
  status: Status;
  summary: string;
  evidence: Record<string, unknown>;
  remediation?: Remediation;
}

const ORDER: Status[] = ['skip', 'pass', 'warn', 'error', 'fail'];

/** One result from the devices' verdicts: the worst status, every summary, the evidence of the worst
 *  device (and of each, under `devices`, when there are several), the remediation of the worst part. */
export function merge(parts: Part[]): Part {
  if (parts.length === 1) return parts[0]!;
  const worst = parts.reduce((a, p) => (ORDER.indexOf(p.status) > ORDER.indexOf(a.status) ? p : a), parts[0]!);
  return {
    status: worst.status,
    summary: parts.map((p) => p.summary).join('; '),
    evidence: { ...worst.evidence, devices: parts.map((p) => p.evidence) },
    ...(worst.remediation ? { remediation: worst.remediation } : {}),
  };
}
