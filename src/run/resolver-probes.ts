// The resolver chain's probes. In the round trip: a random name under each of the inventory's
// search domains, asked once through the cluster's DNS by the first node's probe program (a
// wildcard answers it). After the round trips, what only their results tell: the upstream servers
// themselves (upstream_dns_servers, else the kubelet's resolvConf file's), probed from every node
// over UDP and TCP — only when cluster names answer everywhere and the external name fails from
// every node through NodeLocalDNS and CoreDNS; and, where a node's file loops, the DNS pods' state
// and their last loop line from Kubespray's kubectl on a control-plane node. Small read-only
// commands on the connections already open; nothing when none of it is needed. With
// --external-name none nothing external is asked.
import type { ClusterModel, NodeFacts, NodeSession, ProbeResult, ProbeRole, Target } from '../types.js';
import type { ProbePath } from '../probe/paths.js';
import { probeScript } from '../probe/program.js';
import { resolverFacts, type UpstreamProbe, type WildcardProbe } from '../collect/resolver.js';
import { externalZoneLoops, resolverVerdict } from '../checks/resolver-config.js';
import { DEFAULT_RESOLVER } from '../inventory/resolver.js';
import { dnsPodsCommand, parseDnsPods } from '../kubectl/dns-pods.js';
import type { ResolverRun } from '../checks/module.js';

export type { ResolverRun };
import { firstLine } from '../errors.js';

export interface ResolverState {
  target: Target;
  session: NodeSession | null;
  error: string | null;
  facts: NodeFacts | null;
  probes: ProbeResult[];
}

export const RESOLVER_STEP_TIMEOUT_MS = 20_000;
const MAX_SEARCH_DOMAINS = 8;

const inspected = (s: ResolverState) => !!s.session && !s.error && !!s.facts;

const good = (p: ProbeResult) => (p.ok ?? 0) > 0;

/** Cluster names answer from every node through the CoreDNS service, while the external name gets
 *  no good answer through NodeLocalDNS nor CoreDNS from any node. */
export function externalFailsEverywhere(states: ResolverState[]): boolean {
  const nodes = states.filter(inspected);
  if (!nodes.length) return false;
  return nodes.every(externalFailsOn);
}

/** On this node: cluster names answer through the CoreDNS service, the external name does not. A node
 *  where this is false rules the upstream step out (its connection is not needed for it). */
export function externalFailsOn(s: Pick<ResolverState, 'probes'>): boolean {
  const own = s.probes.filter((p) => p.from !== 'pod');
  const cluster = own.filter((p) => p.internal !== false && p.role === 'coredns-service');
  const external = own.filter(
    (p) => p.internal === false && (p.role === 'nodelocaldns' || p.role === 'coredns-service'),
  );
  return cluster.some(good) && external.length > 0 && !external.some(good);
}

/** The upstream servers a node's DNS pods forward to, and where they came from (loop addresses left
 *  out: resolver-loop speaks of those). */
export function upstreamServers(c: ClusterModel, facts: NodeFacts | null): { server: string; source: string }[] {
  const up = (c.resolver ?? DEFAULT_RESOLVER).upstreamDnsServers;
  if (up.length) return up.map((server) => ({ server, source: 'upstream_dns_servers' }));
  const f = resolverFacts(facts);
  if (!f) return [];
  const v = resolverVerdict(c, f);
  const loops = new Set(v.loops.map((l) => l.address));
  return v.servers.filter((s) => !loops.has(s)).map((server) => ({ server, source: v.file ?? 'resolv.conf' }));
}

const path = (role: ProbeRole, server: string, transport: 'udp' | 'tcp', name: string): ProbePath => ({
  role,
  server,
  port: 53,
  transport,
  name,
  type: 'A',
  internal: false,
  endpointHost: null,
});

function label(random: () => number): string {
  return `ksv-${Math.floor(random() * 0xffffffff)
    .toString(16)
    .padStart(8, '0')}`;
}

/** The inventory's search domains (what Kubespray writes into the hosts' resolv.conf), each with a
 *  random name under it, asked through what pods ask: NodeLocalDNS, else the CoreDNS service. The
 *  cluster's own domains are left out. */
export function wildcardPaths(
  c: ClusterModel,
  random: () => number,
): { paths: ProbePath[]; asked: { domain: string; name: string }[]; server: string } {
  const cluster = [c.dnsDomain, `svc.${c.dnsDomain}`];
  const domains = (c.resolver ?? DEFAULT_RESOLVER).searchdomains
    .filter((d) => !cluster.some((x) => d === x || d.endsWith(`.${x}`)))
    .slice(0, MAX_SEARCH_DOMAINS);
  const role: ProbeRole = c.nodelocaldnsEnabled ? 'nodelocaldns' : 'coredns-service';
  const server = c.nodelocaldnsEnabled ? c.nodelocaldnsIp : c.corednsIp;
  const asked = domains.map((d) => ({ domain: d, name: `${label(random)}.${d}` }));
  return { paths: asked.map((a) => path(role, server, 'udp', a.name)), asked, server };
}

/** What the names under the search domains got: an address (a wildcard), no such name, or nothing. */
export function wildcardResults(
  w: { host: string; asked: { domain: string; name: string }[]; server: string },
  results: ProbeResult[],
): WildcardProbe[] {
  return w.asked.map((a) => {
    const ps = results.filter((p) => p.name === a.name);
    const rc = Object.keys(Object.assign({}, ...ps.map((p) => p.rcodes)) as Record<string, number>);
    const outcome: WildcardProbe['outcome'] = ps.some(good)
      ? 'answers'
      : rc.includes('NXDOMAIN') || rc.includes('NOERROR')
        ? 'no-such-name'
        : 'no-answer';
    const errs = [...new Set(ps.flatMap((p) => Object.keys(p.errors ?? {})))];
    const detail =
      outcome === 'answers' ? 'NOERROR with an address' : rc.length ? rc.join(', ') : errs.join(', ') || 'no answer';
    return { domain: a.domain, name: a.name, server: w.server, askedFrom: w.host, outcome, detail };
  });
}

async function upstreamProbes(
  states: ResolverState[],
  c: ClusterModel,
  o: { externalName: string; probeCount: number; probeTimeoutMs: number; random: () => number },
): Promise<ResolverRun['upstream']> {
  if (!externalFailsEverywhere(states))
    return { state: 'not-needed', reason: 'the external name resolves through the cluster DNS from some node' };
  const nodes = states.filter(inspected);
  const all: { server: string; source: string }[] = [];
  await Promise.all(
    nodes.map(async (s) => {
      const servers = upstreamServers(c, s.facts);
      for (const x of servers) if (!all.some((y) => y.server === x.server)) all.push(x);
      const f = resolverFacts(s.facts);
      if (!f || !servers.length) return;
      const paths = servers.flatMap((x) =>
        (['udp', 'tcp'] as const).map((t) => path('coredns-service', x.server, t, o.externalName)),
      );
      let program;
      try {
        program = probeScript(paths, {
          count: o.probeCount,
          timeoutMs: o.probeTimeoutMs,
          idSeed: Math.floor(o.random() * 0x10000),
        });
      } catch {
        return; // not an address to probe
      }
      try {
        const r = await s.session!.exec(program.script, { timeoutMs: RESOLVER_STEP_TIMEOUT_MS, label: 'upstream' });
        f.upstream = program.decode(s.target.name, r.stdout).map((p, i): UpstreamProbe => ({
          server: p.server,
          source: servers[Math.floor(i / 2)]!.source,
          transport: p.transport,
          name: p.name,
          sent: p.sent,
          ok: p.ok ?? 0,
          answered: p.answered,
          rcodes: p.rcodes,
          errors: p.errors ?? {},
        }));
      } catch (err) {
        f.upstream = servers.flatMap((x) =>
          (['udp', 'tcp'] as const).map((t) => ({
            server: x.server,
            source: x.source,
            transport: t,
            name: o.externalName,
            sent: 0,
            ok: 0,
            answered: 0,
            rcodes: {},
            errors: { [firstLine(err).slice(0, 40)]: 1 },
          })),
        );
      }
    }),
  );
  if (!all.length) return { state: 'not-probed', reason: 'no upstream server is known (none set, none in the files)' };
  return { state: 'probed', servers: all };
}

async function dnsPods(
  states: ResolverState[],
  c: ClusterModel,
  controlPlane: Target[],
  sessionFor: (t: Target) => Promise<NodeSession | null>,
): Promise<Pick<ResolverRun, 'pods' | 'podsError' | 'askedOn'>> {
  const looping = states
    .filter(inspected)
    .filter((s) => {
      const f = resolverFacts(s.facts);
      return !!f && (resolverVerdict(c, f).loops.length > 0 || externalZoneLoops(c).length > 0);
    })
    .map((s) => s.target.name);
  if (!looping.length) return {};
  const tried: string[] = [];
  for (const t of controlPlane) {
    try {
      const session = await sessionFor(t);
      if (!session) {
        tried.push(`${t.name}: not reachable`);
        continue;
      }
      const r = await session.exec(dnsPodsCommand(c, looping), {
        timeoutMs: RESOLVER_STEP_TIMEOUT_MS,
        label: 'dnspods',
      });
      const got = parseDnsPods(r);
      if ('error' in got) {
        tried.push(`${t.name}: ${got.error}`);
        continue;
      }
      return { pods: got.pods, askedOn: t.name };
    } catch (err) {
      tried.push(`${t.name}: ${firstLine(err)}`);
    }
  }
  return { podsError: tried.join('; ') || 'no control-plane host in the inventory' };
}

/** Run the step; the wildcard and upstream findings go into each node's resolver facts, the pods
 *  into the returned run (and each node's facts: the pods on it). */
export async function resolverStep(
  states: ResolverState[],
  c: ClusterModel,
  o: {
    externalName: string | null;
    probeCount: number;
    probeTimeoutMs: number;
    random: () => number;
    controlPlane: Target[];
    sessionFor: (t: Target) => Promise<NodeSession | null>;
  },
): Promise<ResolverRun> {
  const upstream: ResolverRun['upstream'] = o.externalName
    ? await upstreamProbes(states, c, { ...o, externalName: o.externalName })
    : { state: 'not-probed', reason: '--external-name none: no external name, no upstream server was asked' };
  const pods = await dnsPods(states, c, o.controlPlane, o.sessionFor);
  if (pods.pods)
    for (const s of states) {
      const f = resolverFacts(s.facts);
      if (f) f.pods = pods.pods.filter((p) => p.node === s.target.name || p.app === 'kube-dns');
    }
  if (pods.podsError)
    for (const s of states) {
      const f = resolverFacts(s.facts);
      if (f) f.podsError = pods.podsError;
    }
  return { externalName: o.externalName, upstream, ...pods };
}
