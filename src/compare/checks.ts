// Check results, host by host: a check whose status got worse (pass < warn < error < fail) is a
// regression, one that got better is resolved. overlay.offload is decided by its evidence, not
// its status: checksum offload that was off and is on again (a reboot, Calico recreating
// vxlan.calico, an upgrade) undoes the checksum-offload fix, whatever status "on" is given.
import type { CheckResult, Report, Status } from '../types.js';
import type { Change } from './types.js';
import { byName, listed, oneLine, type Scope } from './scope.js';

const RANK: Partial<Record<Status, number>> = { pass: 0, warn: 1, error: 2, fail: 3 };
/** Checks about the cluster, not a node: compared whatever node ran them. */
const CLUSTER_CHECKS = new Set(['coredns.endpoints']);
/** Covered by the host comparison (inspected or not). */
const HOST_CHECKS = new Set(['ssh.reachable']);

export interface CheckComparison {
  regressions: Change[];
  resolved: Change[];
  compared: number;
  notes: string[];
}

interface Offload {
  device: string;
  tx: boolean;
  rx: boolean;
}

/** The checksum offload state an overlay.offload result's evidence records, or null. */
export function offloadState(r: CheckResult): Offload | null {
  const e = r.evidence ?? {};
  const tx = e['tx-checksumming'];
  const rx = e['rx-checksumming'];
  if (typeof tx !== 'boolean' || typeof rx !== 'boolean') return null;
  return { device: typeof e.device === 'string' ? e.device : 'the overlay device', tx, rx };
}

// TX checksum offload is what corrupts (Felix's own fix turns only TX off and leaves RX on): the
// state that matters is TX's
const onOff = (o: Offload) => (o.tx ? 'on' : 'off');
const detail = (o: Offload) => `tx ${o.tx ? 'on' : 'off'}, rx ${o.rx ? 'on' : 'off'}`;

function index(r: Report, scope: Scope): Map<string, CheckResult> {
  const m = new Map<string, CheckResult>();
  for (const x of r.results) {
    if (HOST_CHECKS.has(x.check)) continue;
    const cluster = CLUSTER_CHECKS.has(x.check) || x.host === '*';
    if (cluster ? !scope.cluster : !scope.both.has(x.host)) continue;
    const key = cluster ? `${x.check}\u0000` : `${x.check}\u0000${x.host}`;
    const prev = m.get(key);
    // one result per check and host; should a report hold two, the worse one counts
    if (!prev || (RANK[x.status] ?? -1) > (RANK[prev.status] ?? -1)) m.set(key, x);
  }
  return m;
}

function change(b: CheckResult, c: CheckResult, cluster: boolean): { change: Change; worse: boolean } | null {
  const host = cluster ? undefined : c.host;
  const who = host ? `${host}: ` : '';
  if (c.check === 'overlay.offload') {
    const ob = offloadState(b);
    const oc = offloadState(c);
    if (ob && oc) {
      if (onOff(ob) === onOff(oc)) return null;
      const worse = onOff(oc) === 'on';
      const summary = worse
        ? `${who}overlay.offload: checksum offload on ${oc.device} was off, is on again (${detail(oc)}) — the fix did not last (reboot, upgrade, or Calico recreated the device)`
        : `${who}overlay.offload: checksum offload on ${oc.device} was on (${detail(ob)}), is off now`;
      return {
        worse,
        change: { kind: 'check', ...(host ? { host } : {}), id: c.check, before: onOff(ob), after: onOff(oc), summary },
      };
    }
  }
  const rb = RANK[b.status];
  const rc = RANK[c.status];
  if (rb === undefined || rc === undefined || rb === rc) return null; // skip on either side: not applicable
  const worse = rc > rb;
  const summary = `${who}${c.check} ${b.status} → ${c.status}${worse ? `: ${oneLine(c.summary)}` : ''}`;
  return {
    worse,
    change: { kind: 'check', ...(host ? { host } : {}), id: c.check, before: b.status, after: c.status, summary },
  };
}

export function compareChecks(base: Report, now: Report, scope: Scope): CheckComparison {
  const b = index(base, scope);
  const c = index(now, scope);
  const out: CheckComparison = { regressions: [], resolved: [], compared: 0, notes: [] };
  const onlyThen = new Map<string, string[]>();
  const onlyNow = new Map<string, string[]>();
  const note = (m: Map<string, string[]>, r: CheckResult) => m.set(r.check, [...(m.get(r.check) ?? []), r.host]);
  for (const [key, rc] of c) {
    const rb = b.get(key);
    if (!rb) {
      if (rc.status !== 'skip') note(onlyNow, rc);
      continue;
    }
    out.compared++;
    const ch = change(rb, rc, key.endsWith('\u0000'));
    if (ch) (ch.worse ? out.regressions : out.resolved).push(ch.change);
  }
  for (const [key, rb] of b) if (!c.has(key) && rb.status !== 'skip') note(onlyThen, rb);
  const say = (m: Map<string, string[]>, where: string) => {
    if (!m.size) return;
    const parts = [...m].sort(([x], [y]) => byName(x, y)).map(([check, hosts]) => `${check} (${listed(hosts, 3)})`);
    out.notes.push(
      `checks only ${where}: ${parts.slice(0, 8).join(', ')}${parts.length > 8 ? ` and ${parts.length - 8} more` : ''}`,
    );
  };
  say(onlyThen, 'in the baseline');
  say(onlyNow, 'in this run');
  return out;
}
