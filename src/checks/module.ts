// What a check is: one module under src/checks/ that declares its id(s), a one-line title, what it
// reads on the node (readers: a script fragment and its parser), and evaluate() from facts to
// results with evidence and a structured remediation. The registry (registry.ts) is generated from
// the directory listing at build time (scripts/gen-registry.mjs): a new check touches only its own
// module, its test and its fixture. A reader that produces a new kind of fact declares its field
// on NodeFacts by module augmentation (`declare module '../types.js' { interface NodeFacts {...} }`).
import type { Reader } from '../collect/reader.js';
import type { DnsPod } from '../kubectl/dns-pods.js';

/** What the step found, for the cluster-wide check (resolver.upstream). */
export interface ResolverRun {
  externalName: string | null;
  upstream:
    | { state: 'not-needed' | 'not-probed'; reason: string }
    | { state: 'probed'; servers: { server: string; source: string }[] };
  /** the DNS pods read with kubectl (where a node's file loops), or why they were not */
  pods?: DnsPod[];
  podsError?: string;
  askedOn?: string;
}

export type { Reader, ReaderContext } from '../collect/reader.js';
import type {
  CheckResult,
  ClusterModel,
  Counters,
  Endpoint,
  NodeFacts,
  ProbeResult,
  Remediation,
  Status,
} from '../types.js';

/** A node's connection outcome, for ssh.reachable. */
export interface ConnectionInfo {
  ok: boolean;
  error: string | null;
  address: string;
  port: number;
  user: string;
  become: boolean;
}

/** What a node-scoped check evaluates. `facts` is null when the node's round trip was not parsed. */
export interface NodeInput {
  host: string;
  cluster: ClusterModel;
  connection: ConnectionInfo;
  facts: NodeFacts | null;
  probes: ProbeResult[];
  /** counters after minus before the probe window; null when a snapshot is missing */
  counterDelta: Counters | null;
  /** readers (by key) whose output is not there to read: a replayed bundle recorded by a version
   *  without them. Checks that need one are skipped and say so. */
  unread?: ReadonlySet<string>;
  /** the CoreDNS endpoint lookup of the run (the same for every node) */
  endpoints?: EndpointLookup;
}

/** The CoreDNS endpoint lookup, as data (kubectl/endpoints.ts). */
export interface EndpointLookup {
  endpoints: Endpoint[] | null;
  /** why no list was obtained, when it was not */
  error: string | null;
  /** the control-plane node asked (or the last one tried) */
  askedOn: string;
  /** what each control-plane node answered when it did not give a list */
  tried: string[];
  /** which API gave the list: EndpointSlices, or v1 Endpoints as a fallback */
  source?: 'endpointslices' | 'endpoints' | null;
  /** kubectl's warnings on stderr (not errors) */
  warnings?: string[];
}

export interface ClusterInput {
  cluster: ClusterModel;
  endpoints: EndpointLookup;
  /** what the resolver step found (run/resolver-probes.ts); absent when it did not run */
  resolver?: ResolverRun;
}

/** Makes results for the module's own ids only: a typo in an id does not compile. */
export type Emit<Id extends string> = (
  check: Id,
  host: string,
  status: Status,
  summary: string,
  evidence?: Record<string, unknown>,
  remediation?: Remediation,
) => CheckResult;

interface Base<Id extends string> {
  /** the ids this module reports, stable (README's checks table) */
  ids: readonly Id[];
  /** one line, for `kubespray-validate checks` and the README table */
  title: string;
  /** readers whose facts evaluate() uses */
  readers?: readonly Reader[];
  /** the module needs the DNS probes (and the counters around them) to run */
  probes?: boolean;
  /** it also needs the probes from a pod's network namespace on each node (probe/pod.ts) */
  podProbes?: boolean;
  /** where its results come in a host's list (lower first; default 50) */
  rank?: number;
}

export interface NodeCheck<Id extends string = string> extends Base<Id> {
  scope: 'node';
  /** runs on nodes whose round trip was parsed; `always` also on nodes that could not be inspected */
  always?: boolean;
  evaluate(input: NodeInput, emit: Emit<Id>): CheckResult[];
}

export interface ClusterCheck<Id extends string = string> extends Base<Id> {
  scope: 'cluster';
  evaluate(input: ClusterInput, emit: Emit<Id>): CheckResult[];
}

export type CheckModule<Id extends string = string> = NodeCheck<Id> | ClusterCheck<Id>;

export function emitter<Id extends string>(): Emit<Id> {
  return (check, host, status, summary, evidence = {}, remediation) => ({
    check,
    host,
    status,
    summary,
    evidence,
    ...(remediation ? { remediation } : {}),
  });
}

/** Declare a check module (the default export of a file in src/checks/). */
export function defineCheck<const Id extends string>(m: NodeCheck<Id> | ClusterCheck<Id>): CheckModule<Id> {
  return m;
}
