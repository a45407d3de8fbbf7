// DNS paths, node by node: a path whose share of good answers fell is a regression; a path that
// answered as well as before but whose p50 latency rose past the thresholds (default 3x and +5 ms:
// both must hold, so a 0.3 -> 1.2 ms wobble is not one) is a latency regression. The reverse of
// each is resolved.
// CoreDNS pods get new IPs when they are recreated (an upgrade does that): when the endpoints
// differ between the runs, each node's endpoint paths are compared together, worst p50 counting.
import type { ProbeResult, Report } from '../types.js';
import type { Change, ProbePath, Thresholds } from './types.js';
import { listed, type Scope } from './scope.js';

export interface ProbeComparison {
  regressions: Change[];
  resolved: Change[];
  compared: number;
  notes: string[];
}

interface Path {
  host: string;
  path: ProbePath;
  sent: number;
  good: number;
  answered: number;
  p50: number | null;
}

/** Answers that count: NOERROR with records (the `ok` extension), else every NOERROR. */
const good = (p: ProbeResult) => (typeof p.ok === 'number' ? p.ok : (p.rcodes?.NOERROR ?? 0));

const endpointServers = (r: Report, scope: Scope) =>
  new Set(r.probes.filter((p) => p.role === 'coredns-endpoint' && scope.both.has(p.host)).map((p) => p.server));

function paths(r: Report, scope: Scope, poolEndpoints: boolean): Map<string, Path> {
  const m = new Map<string, Path>();
  for (const p of r.probes) {
    if (!scope.both.has(p.host)) continue;
    const server = poolEndpoints && p.role === 'coredns-endpoint' ? '*' : p.server;
    const pod = p.from === 'pod';
    const key = [p.host, pod ? 'pod' : 'host', p.role, p.transport, server, p.name, p.type].join('\u0000');
    const prev = m.get(key);
    const p50 = p.answered > 0 ? p.latencyMs.p50 : null;
    if (!prev)
      m.set(key, {
        host: p.host,
        path: {
          role: p.role,
          transport: p.transport,
          server,
          name: p.name,
          type: p.type,
          ...(pod ? { from: 'pod' as const } : {}),
        },
        sent: p.sent,
        good: good(p),
        answered: p.answered,
        p50,
      });
    else {
      prev.sent += p.sent;
      prev.good += good(p);
      prev.answered += p.answered;
      if (p50 !== null && (prev.p50 === null || p50 > prev.p50)) prev.p50 = p50;
    }
  }
  return m;
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const ms = (x: number) => `${x < 10 ? x.toFixed(2).replace(/\.?0+$/, '') : x.toFixed(1).replace(/\.0$/, '')} ms`;

export function describePath(p: ProbePath): string {
  const server = p.server === '*' ? 'the CoreDNS endpoints' : p.server;
  return `DNS over ${p.transport.toUpperCase()}${p.from === 'pod' ? ' from a pod' : ''} to ${server} (${p.role}) for ${p.name} ${p.type}`;
}

export function compareProbes(base: Report, now: Report, scope: Scope, t: Thresholds): ProbeComparison {
  const out: ProbeComparison = { regressions: [], resolved: [], compared: 0, notes: [] };
  const eb = endpointServers(base, scope);
  const ec = endpointServers(now, scope);
  const pool = eb.size > 0 && ec.size > 0 && ([...eb].some((s) => !ec.has(s)) || [...ec].some((s) => !eb.has(s)));
  if (pool)
    out.notes.push(
      `CoreDNS endpoints changed (baseline: ${listed([...eb], 4)}; now: ${listed([...ec], 4)}): each node's endpoint paths were compared together, not one by one`,
    );
  const b = paths(base, scope, pool);
  const c = paths(now, scope, pool);
  let onlyThen = 0;
  let onlyNow = 0;
  for (const [key, pc] of c) {
    const pb = b.get(key);
    if (!pb) {
      onlyNow++;
      continue;
    }
    if (!(pb.sent > 0 && pc.sent > 0)) continue;
    out.compared++;
    const id = `dns.${pc.path.from === 'pod' ? 'pod.' : ''}${pc.path.role}.${pc.path.transport}`;
    const what = `${pc.host}: ${describePath(pc.path)}`;
    // share of good answers, compared exactly (cross-multiplied), so 3/3 vs 5/5 is no change
    const diff = pc.good * pb.sent - pb.good * pc.sent;
    if (diff !== 0) {
      const entry: Change = {
        kind: 'probe',
        host: pc.host,
        id,
        before: round(pb.good / pb.sent),
        after: round(pc.good / pc.sent),
        summary: `${what}: ${pb.good}/${pb.sent} good answers → ${pc.good}/${pc.sent}`,
        path: pc.path,
      };
      (diff < 0 ? out.regressions : out.resolved).push(entry);
    }
    // latency only where the path answered as well as before: the p50 of a path that now fails
    // is the time its errors took, already reported above
    if (diff === 0 && pb.p50 !== null && pc.p50 !== null) {
      const [lo, hi, rising] = pc.p50 > pb.p50 ? [pb.p50, pc.p50, true] : [pc.p50, pb.p50, false];
      if (hi > lo * t.latencyFactor && hi - lo > t.latencyIncreaseMs) {
        const factor = lo > 0 ? `${(hi / lo).toFixed(hi / lo >= 10 ? 0 : 1)}x, ` : '';
        const entry: Change = {
          kind: 'latency',
          host: pc.host,
          id,
          before: pb.p50,
          after: pc.p50,
          summary: `${what}: p50 ${ms(pb.p50)} → ${ms(pc.p50)} (${factor}${rising ? '+' : '-'}${ms(hi - lo)})`,
          path: pc.path,
        };
        (rising ? out.regressions : out.resolved).push(entry);
      }
    }
  }
  for (const key of b.keys()) if (!c.has(key)) onlyThen++;
  if (onlyThen || onlyNow) {
    const parts = [onlyThen ? `${onlyThen} only in the baseline` : '', onlyNow ? `${onlyNow} only in this run` : '']
      .filter(Boolean)
      .join(', ');
    out.notes.push(
      `DNS paths on compared hosts: ${parts} (another --external-name, CoreDNS endpoints, or NodeLocalDNS setting)`,
    );
  }
  return out;
}
