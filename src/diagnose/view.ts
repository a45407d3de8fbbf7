// Read-only views over a DiagnoseInput that the rules share.
import type { CheckResult, DiagnoseInput, ProbeResult, ProbeRole, Transport } from '../types.js';
import { describeProbe, isOk } from '../probe/results.js';
import type { CheckId } from '../checks/registry.js';

export { describeProbe, isOk };

export class View {
  /** per host, its own probes and its pod's (cluster names only), in input order */
  private readonly byHost = new Map<string, { node: ProbeResult[]; pod: ProbeResult[] }>();
  private readonly anyHost = { node: [] as ProbeResult[], pod: [] as ProbeResult[] };
  private readonly byCheck = new Map<string, CheckResult>();
  private readonly address = new Map<string, string>();

  constructor(readonly input: DiagnoseInput) {
    // indexed once: every diagnosis asks per host, and a cluster has thousands of them
    for (const p of input.probes) {
      if (p.internal === false) continue;
      let h = this.byHost.get(p.host);
      if (!h) this.byHost.set(p.host, (h = { node: [], pod: [] }));
      const side = p.from === 'pod' ? 'pod' : 'node';
      h[side].push(p);
      this.anyHost[side].push(p);
    }
    for (const r of input.results) {
      const k = `${r.host}\u0000${r.check}`;
      if (!this.byCheck.has(k)) this.byCheck.set(k, r);
    }
    for (const h of input.hosts) if (!this.address.has(h.name)) this.address.set(h.name, h.address);
  }

  inspected(): string[] {
    return this.input.hosts.filter((h) => h.inspected).map((h) => h.name);
  }

  /** A host's address (as the inventory gives it). */
  addressOf(host: string): string | undefined {
    return this.address.get(host);
  }

  private select(
    side: 'node' | 'pod',
    host?: string,
    role?: ProbeRole,
    transport?: Transport,
    server?: string,
  ): ProbeResult[] {
    const from = host ? (this.byHost.get(host)?.[side] ?? []) : this.anyHost[side];
    if (!role && !transport && !server) return [...from];
    return from.filter(
      (p) =>
        (!role || p.role === role) && (!transport || p.transport === transport) && (!server || p.server === server),
    );
  }

  /** Cluster-name probes only: an external name depends on the way out, not the cluster. The
   *  node's own probes (from its network namespace); podProbes() gives those from its pod's. */
  probes(host?: string, role?: ProbeRole, transport?: Transport, server?: string): ProbeResult[] {
    return this.select('node', host, role, transport, server);
  }

  /** The same from the pod network namespace probed on each node (`from: "pod"`). */
  podProbes(host?: string, role?: ProbeRole, transport?: Transport, server?: string): ProbeResult[] {
    return this.select('pod', host, role, transport, server);
  }

  check(host: string, id: CheckId): CheckResult | undefined {
    return this.byCheck.get(`${host}\u0000${id}`);
  }

  /** All probes of a kind answered fine (and there was at least one). */
  allOk(ps: ProbeResult[]): boolean {
    return ps.length > 0 && ps.every(isOk);
  }

  /** Not one probe of a kind got a good answer (and there was at least one). */
  allDead(ps: ProbeResult[]): boolean {
    return ps.length > 0 && ps.every((p) => (p.ok ?? 0) === 0);
  }

  someBad(ps: ProbeResult[]): boolean {
    return ps.some((p) => !isOk(p));
  }

  okCount(ps: ProbeResult[]): number {
    return ps.reduce((a, p) => a + (p.ok ?? 0), 0);
  }

  sentCount(ps: ProbeResult[]): number {
    return ps.reduce((a, p) => a + p.sent, 0);
  }

  /** "3/5" over a set of probes. */
  ratio(ps: ProbeResult[]): string {
    return `${this.okCount(ps)}/${this.sentCount(ps)}`;
  }

  /**
   * One transport blocked: on `host`, the paths over `transport` whose twin (same role, server,
   * name and type over the other transport) answered every probe; `dead` are those that got no
   * good answer at all. Null unless the dead ones are at least half of those paths.
   */
  oneTransportDead(host: string, transport: Transport): { dead: { p: ProbeResult; twin: ProbeResult }[] } | null {
    const other: Transport = transport === 'udp' ? 'tcp' : 'udp';
    const pairs = this.probes(host, undefined, transport)
      .map((p) => ({
        p,
        twin: this.probes(host, p.role, other, p.server).find((x) => x.name === p.name && x.type === p.type),
      }))
      .filter((x): x is { p: ProbeResult; twin: ProbeResult } => !!x.twin && isOk(x.twin));
    const dead = pairs.filter((x) => (x.p.ok ?? 0) === 0);
    if (!pairs.length || dead.length * 2 < pairs.length) return null;
    return { dead };
  }

  /** Counter rises during the probe window that speak of lost or corrupt TCP/UDP segments. */
  lossCounters(host: string): Record<string, number> {
    const d = this.input.counterDeltas[host] ?? {};
    const out: Record<string, number> = {};
    for (const k of [
      'Tcp.InCsumErrors',
      'Udp.InCsumErrors',
      'Tcp.RetransSegs',
      'TcpExt.TCPSynRetrans',
      'TcpExt.TCPTimeouts',
    ])
      if ((d[k] ?? 0) > 0) out[k] = d[k]!;
    return out;
  }

  csumErrors(host: string): number {
    const d = this.input.counterDeltas[host] ?? {};
    return (d['Tcp.InCsumErrors'] ?? 0) + (d['Udp.InCsumErrors'] ?? 0);
  }
}

export function fmtCounters(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, v]) => `${k} +${v}`)
    .join(', ');
}
