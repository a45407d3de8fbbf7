// The comparison for people: "Changes since <baseline date>", regressions first, then what was
// resolved, hosts added or removed, and what could not be compared. The same change on many
// hosts is one line naming the hosts (a 200-node cluster stays readable).
import type { Change, Comparison } from './types.js';
import { describePath } from './probes.js';
import { listed } from './scope.js';

const MAX_LINES = 25;

function paint(on: boolean) {
  const wrap = (code: string) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { red: wrap('31'), yellow: wrap('33'), green: wrap('32'), bold: wrap('1'), dim: wrap('2') };
}

/** "2024-05-02 10:31:07 UTC" from the baseline's ISO time (as given when it does not parse). */
export function when(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t)
    ? iso
    : new Date(t)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC');
}

const pct = (x: string | number | null) => (typeof x === 'number' ? `${Math.round(x * 100)}%` : String(x));

/** The change without its host, for grouping the same change on many hosts. */
function short(c: Change): string {
  switch (c.kind) {
    case 'host':
      return `${c.before} → ${c.after}`;
    case 'diagnosis':
      return `diagnosis ${c.id}: ${c.before ?? 'not named'} → ${c.after ?? 'not named'}`;
    case 'check':
      return c.id === 'overlay.offload' && (c.after === 'on' || c.after === 'off')
        ? `overlay.offload: checksum offload ${c.before} → ${c.after}`
        : `${c.id}: ${c.before} → ${c.after}`;
    case 'probe':
      return `${c.path ? describePath(c.path) : c.id}: ${pct(c.before)} → ${pct(c.after)} good answers`;
    case 'latency':
      return c.summary;
  }
}

function lines(changes: Change[], mark: string): string[] {
  const groups = new Map<string, { first: Change; hosts: string[] }>();
  for (const c of changes) {
    const key = c.kind === 'latency' || !c.host ? `${c.kind} ${c.summary}` : `${c.kind} ${short(c)}`;
    const g = groups.get(key);
    if (g) g.hosts.push(c.host!);
    else groups.set(key, { first: c, hosts: c.host ? [c.host] : [] });
  }
  const out: string[] = [];
  for (const { first, hosts } of groups.values())
    out.push(
      hosts.length > 1 ? `    ${mark} ${short(first)} — on ${listed(hosts, 8)}` : `    ${mark} ${first.summary}`,
    );
  return out.length > MAX_LINES
    ? [...out.slice(0, MAX_LINES - 1), `    … ${out.length - MAX_LINES + 1} more (the JSON report lists every change)`]
    : out;
}

export function renderComparison(c: Comparison, color: boolean): string[] {
  const p = paint(color);
  const n = c.regressions.length;
  const head = `Changes since ${when(c.baseline.startedAt)} (baseline: kubespray-validate ${c.baseline.version})`;
  const count = `  ${n ? p.red(`${n} regression${n === 1 ? '' : 's'}`) : p.green('no regressions')}, ${c.resolved.length} resolved; compared ${c.compared.hosts} node(s), ${c.compared.checks} checks, ${c.compared.paths} DNS paths`;
  const out = [p.bold(head), count];
  if (n) out.push('  Regressions', ...lines(c.regressions, p.red('✖')));
  if (c.resolved.length) out.push('  Resolved', ...lines(c.resolved, p.green('✔')));
  if (c.hosts.added.length) out.push(`  Hosts added (not in the baseline): ${listed(c.hosts.added, 12)}`);
  if (c.hosts.removed.length)
    out.push(`  Hosts removed (in the baseline, not in this run): ${listed(c.hosts.removed, 12)}`);
  if (c.notes.length) out.push('  Notes', ...c.notes.map((x) => p.dim(`    - ${x}`)));
  return out;
}
