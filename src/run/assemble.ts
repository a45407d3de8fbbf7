// Report assembly: the registered checks on every node's outcome, the cluster checks on the
// endpoint lookup, the diagnoses, the summary. Pure; the live run, an interrupted run and a
// replay all end here.
import type { EndpointLookup } from '../checks/module.js';
import { evaluateCluster, evaluateNode, type Selection } from '../checks/registry.js';
import { counterDelta } from '../collect/counters.js';
import { diagnose } from '../diagnose/index.js';
import { summarize } from '../report/summary.js';
import type {
  CheckResult,
  ClusterModel,
  Counters,
  DiagnoseInput,
  HostReport,
  NodeFacts,
  ProbeResult,
  Report,
  Target,
} from '../types.js';
import { VERSION } from '../version.js';
import type { ResolverRun } from './resolver-probes.js';

export interface NodeState {
  target: Target;
  /** connected, and the round trip (when it ran) proved root */
  connected: boolean;
  error: string | null;
  facts: NodeFacts | null;
  before: Counters | null;
  after: Counters | null;
  probes: ProbeResult[];
}

export interface AssembleInput {
  cluster: ClusterModel;
  nodes: NodeState[];
  lookup: EndpointLookup;
  selection: Selection;
  strict: boolean;
  startedAt: number;
  finishedAt: number;
  /** readers whose output a replayed bundle does not hold */
  unread?: ReadonlySet<string>;
  /** the resolver step's findings (run/resolver-probes.ts) */
  resolver?: ResolverRun;
}

export function assemble(a: AssembleInput): { report: Omit<Report, 'fix'>; input: DiagnoseInput } {
  const { cluster } = a;
  const hosts: HostReport[] = a.nodes.map((s) => ({
    name: s.target.name,
    address: s.target.address,
    inspected: s.connected && s.error === null,
    error: s.error,
  }));
  const results: CheckResult[] = [];
  const facts: Record<string, NodeFacts> = {};
  const counterDeltas: Record<string, Counters> = {};
  const probes: ProbeResult[] = [];
  for (const s of a.nodes) {
    const ok = s.connected && s.error === null;
    const delta = ok && s.before && s.after ? counterDelta(s.before, s.after) : null;
    if (ok && s.facts) facts[s.target.name] = s.facts;
    if (delta) counterDeltas[s.target.name] = delta;
    if (ok) probes.push(...s.probes);
    results.push(
      ...evaluateNode(
        {
          host: s.target.name,
          cluster,
          connection: {
            ok,
            error: s.error,
            address: s.target.address,
            port: s.target.port,
            user: s.target.user,
            become: s.target.become,
          },
          facts: ok ? s.facts : null,
          probes: ok ? s.probes : [],
          counterDelta: delta,
          unread: a.unread,
          endpoints: a.lookup,
        },
        a.selection,
      ),
    );
  }
  results.push(...evaluateCluster({ cluster, endpoints: a.lookup, resolver: a.resolver }, a.selection));
  const input: DiagnoseInput = {
    cluster,
    hosts,
    results,
    probes,
    facts,
    counterDeltas,
    endpoints: a.lookup.endpoints,
    endpointError: a.lookup.error,
  };
  const report: Omit<Report, 'fix'> = {
    schemaVersion: 1,
    tool: { name: 'kubespray-validate', version: VERSION },
    startedAt: new Date(a.startedAt).toISOString(),
    durationMs: Math.max(0, a.finishedAt - a.startedAt),
    cluster: {
      dnsDomain: cluster.dnsDomain,
      nodelocaldnsIp: cluster.nodelocaldnsEnabled ? cluster.nodelocaldnsIp : null,
      corednsIp: cluster.corednsIp,
      networkPlugin: cluster.networkPlugin,
      calicoBackend: cluster.networkPlugin === 'calico' ? cluster.calicoBackend : null,
      kubeProxyMode: cluster.kubeProxyMode,
    },
    hosts,
    results,
    probes,
    diagnoses: diagnose(input),
    summary: summarize(hosts, results, a.strict),
  };
  return { report, input };
}
