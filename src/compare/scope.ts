// Which hosts two reports can be compared on, and the host changes themselves: a host that was
// inspected and now is not is a regression; hosts present in only one report are listed, never
// regressions (a scale-out, a removed node, another --limit).
import type { HostReport, Report } from '../types.js';
import type { Change } from './types.js';

export interface Scope {
  /** inspected in both runs: their checks, probes and diagnoses are compared */
  both: Set<string>;
  /** at least one host in common: cluster-wide results are compared too */
  cluster: boolean;
}

export interface HostComparison {
  scope: Scope;
  regressions: Change[];
  resolved: Change[];
  added: string[];
  removed: string[];
  common: number;
  notes: string[];
}

export const byName = (a: string, b: string) => String(a).localeCompare(String(b), 'en', { numeric: true });

/** Text from a report file, as one line of a summary. */
export const oneLine = (v: unknown): string =>
  String(v ?? '')
    .split(/\r?\n/)[0]!
    .slice(0, 300);

export function listed(names: string[], max = 6): string {
  const sorted = [...names].sort(byName);
  return sorted.length > max ? `${sorted.slice(0, max).join(', ')} and ${sorted.length - max} more` : sorted.join(', ');
}

/** Not inspected because the run was cut short before the host was finished (not a fault of the host). */
function unfinished(r: Report, h: HostReport): boolean {
  return !h.inspected && !!r.interrupted && (h.error === null || /^interrupted\b/.test(h.error));
}

export function compareHosts(base: Report, now: Report): HostComparison {
  const b = new Map(base.hosts.map((h) => [h.name, h]));
  const c = new Map(now.hosts.map((h) => [h.name, h]));
  const added = [...c.keys()].filter((n) => !b.has(n)).sort(byName);
  const removed = [...b.keys()].filter((n) => !c.has(n)).sort(byName);
  const common = [...c.keys()].filter((n) => b.has(n)).sort(byName);
  const out: HostComparison = {
    scope: { both: new Set(), cluster: common.length > 0 },
    regressions: [],
    resolved: [],
    added,
    removed,
    common: common.length,
    notes: [],
  };
  if (!common.length) {
    out.notes.push(
      `no host in common with the baseline (baseline: ${listed([...b.keys()]) || 'none'}; this run: ${listed([...c.keys()]) || 'none'}): another cluster or another --limit? Nothing else was compared`,
    );
    return out;
  }
  const notNow: string[] = [];
  const notThen: string[] = [];
  const cutThen: string[] = [];
  const cutNow: string[] = [];
  const moved: string[] = [];
  for (const name of common) {
    const hb = b.get(name)!;
    const hc = c.get(name)!;
    if (hb.address && hc.address && hb.address !== hc.address) moved.push(`${name} (${hb.address} → ${hc.address})`);
    if (hb.inspected && hc.inspected) {
      out.scope.both.add(name);
    } else if (hb.inspected && !hc.inspected) {
      if (unfinished(now, hc)) cutNow.push(name);
      else {
        notNow.push(name);
        out.regressions.push({
          kind: 'host',
          host: name,
          id: 'ssh.reachable',
          before: 'inspected',
          after: 'not inspected',
          summary: `${name}: was inspected, now is not: ${oneLine(hc.error ?? 'no reason given')}`,
        });
      }
    } else if (!hb.inspected && hc.inspected) {
      if (unfinished(base, hb)) cutThen.push(name);
      else {
        notThen.push(name);
        out.resolved.push({
          kind: 'host',
          host: name,
          id: 'ssh.reachable',
          before: 'not inspected',
          after: 'inspected',
          summary: `${name}: inspected again (the baseline could not: ${oneLine(hb.error ?? 'no reason given')})`,
        });
      }
    }
  }
  if (cutThen.length)
    out.notes.push(
      `the baseline run was interrupted (${base.interrupted}) before it finished ${listed(cutThen)}: not compared there`,
    );
  if (cutNow.length)
    out.notes.push(
      `this run was interrupted (${now.interrupted}) before it finished ${listed(cutNow)}: not compared there`,
    );
  if (notNow.length) out.notes.push(`checks, DNS paths and diagnoses of ${listed(notNow)}: not inspected in this run`);
  if (notThen.length)
    out.notes.push(`checks, DNS paths and diagnoses of ${listed(notThen)}: not inspected in the baseline`);
  if (moved.length) out.notes.push(`compared by host name although the address changed: ${listed(moved, 4)}`);
  return out;
}
