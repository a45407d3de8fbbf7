// Planning: everything resolved from the inventory before any connection is made. Throws UsageError.
import { loadInventory } from '../inventory/load.js';
import { parseExtraVars } from '../inventory/extra-vars.js';
import { selectHosts } from '../inventory/limit.js';
import { clusterModel, effectiveHostVars, kubesprayGroups } from '../inventory/kubespray.js';
import { buildTargets } from '../inventory/targets.js';
import { UsageError } from '../errors.js';
import type { ClusterModel, Target, Vars } from '../types.js';

export interface PlanInput {
  inventory: string[];
  limit?: string;
  user?: string;
  privateKey?: string;
  extraVars: string[];
}

export interface Plan {
  cluster: ClusterModel;
  targets: Target[];
  /** control-plane targets to ask for CoreDNS endpoints (may lie outside --limit) */
  controlPlane: Target[];
}

export function plan(opts: PlanInput): Plan {
  if (!opts.inventory.length) throw new UsageError('no inventory given: use -i PATH (file or directory)');
  const inventory = loadInventory(opts.inventory, parseExtraVars(opts.extraVars));
  const groups = kubesprayGroups(inventory);
  const base = groups.k8sCluster.filter((h) => h !== groups.bastion);
  if (!base.length)
    throw new UsageError('the inventory has no Kubernetes nodes (kube_control_plane, kube_node or k8s_cluster hosts)');
  const selected = selectHosts(inventory, opts.limit, base);
  const cluster = clusterModel(inventory, selected);
  const needed = [...new Set([...selected, ...groups.controlPlane])];
  const vars: Record<string, Vars> = {};
  for (const h of needed) vars[h] = effectiveHostVars(inventory, h);
  for (const h of groups.bastion ? [groups.bastion] : []) vars[h] = effectiveHostVars(inventory, h);
  const all = buildTargets(vars, needed, { user: opts.user, privateKey: opts.privateKey }, groups.bastion);
  const byName = new Map(all.map((t) => [t.name, t]));
  return {
    cluster,
    targets: selected.map((h) => byName.get(h)!),
    controlPlane: groups.controlPlane.map((h) => byName.get(h)!).filter(Boolean),
  };
}
