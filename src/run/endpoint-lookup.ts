// Ask a control-plane node for the CoreDNS endpoints, as Kubespray's own kubectl would: the first
// selected one as soon as its connection is up, else one outside --limit. Returns data; the
// coredns.endpoints check judges it.
import type { EndpointLookup } from '../checks/module.js';
import { endpointsCommand, parseEndpointLookup } from '../kubectl/endpoints.js';
import type { ClusterModel, NodeSession, Target } from '../types.js';
import { firstLine } from '../errors.js';

export const LOOKUP_TIMEOUT_MS = 30_000;

export async function lookupEndpoints(
  cluster: ClusterModel,
  controlPlane: Target[],
  sessionFor: (t: Target) => Promise<NodeSession | null>,
): Promise<EndpointLookup> {
  const tried: string[] = [];
  let askedOn = controlPlane[0]?.name ?? '*';
  const warnings: string[] = [];
  for (const t of controlPlane) {
    askedOn = t.name;
    try {
      const session = await sessionFor(t);
      if (!session) {
        tried.push(`${t.name}: not reachable`);
        continue;
      }
      const r = await session.exec(endpointsCommand(cluster), { timeoutMs: LOOKUP_TIMEOUT_MS, label: 'endpoints' });
      const got = parseEndpointLookup(r);
      warnings.push(...got.warnings.filter((w) => !warnings.includes(w)));
      if ('error' in got) {
        tried.push(`${t.name}: ${got.error}`);
        continue;
      }
      return { endpoints: got.endpoints, error: null, askedOn, tried, source: got.source, warnings };
    } catch (err) {
      tried.push(`${t.name}: ${firstLine(err)}`);
    }
  }
  return {
    endpoints: null,
    error: tried.length ? tried.join('; ') : 'no control-plane host in the inventory',
    askedOn,
    tried,
    source: null,
    warnings,
  };
}
