// The human summary printed after the progress display, bounded whatever the cluster's size: each
// diagnosis with its evidence and fix first, then what changed since the baseline (with
// --baseline), the failing checks grouped by check id, the DNS probes one row per distinct result,
// and the verdict. The same finding on many nodes is one line naming them as a --limit pattern;
// -v adds each node's results and the per-path evidence.
import type { CheckResult, Diagnosis, ProbeResult, ProbeRole, Report } from '../types.js';
import { renderComparison } from '../compare/render.js';
import { hostText, mergeByHost } from './hosts.js';

export interface HumanOptions {
  color: boolean;
  strict: boolean;
  verbose?: boolean; // each node's results, the per-path evidence, warnings with theirs; nothing cut
}

const ROLES: [ProbeRole, string][] = [
  ['nodelocaldns', 'NodeLocalDNS'],
  ['coredns-service', 'CoreDNS svc'],
  ['coredns-endpoint', 'endpoints'],
];

function paint(on: boolean) {
  const wrap = (code: string) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { red: wrap('31'), yellow: wrap('33'), green: wrap('32'), bold: wrap('1'), dim: wrap('2') };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** "good/sent" over every probe of one host, role and transport ("-" when none ran). Good is what
 *  the dns.* checks count: NOERROR with records of the asked type (`ok`). NXDOMAIN, SERVFAIL or an
 *  empty NOERROR is an answer, but not a working path. Like the checks, a cell whose only bad
 *  probes are for the external name is a warning, not a failure. */
export function probeCell(probes: ProbeResult[]): { text: string; state: 'ok' | 'warn' | 'fail' | null } {
  if (!probes.length) return { text: '-', state: null };
  const sent = probes.reduce((a, p) => a + p.sent, 0);
  const good = probes.reduce((a, p) => a + (p.ok ?? 0), 0);
  const bad = probes.filter((p) => (p.ok ?? 0) !== p.sent);
  const state = !bad.length ? 'ok' : bad.every((p) => p.internal === false) ? 'warn' : 'fail';
  return { text: `${good}/${sent}`, state };
}

/** Every node the report speaks of, in report order (what host lists are compressed against), and
 *  the addresses of those the report lists (a line naming a node's address merges like its name). */
export interface Universe {
  names: string[];
  addresses: Record<string, string>;
}

export function universeOf(report: Pick<Report, 'probes' | 'results'> & { hosts?: Report['hosts'] }): Universe {
  const names = [
    ...(report.hosts ?? []).map((h) => h.name),
    ...report.probes.map((p) => p.host),
    ...report.results.map((r) => r.host),
  ];
  return {
    names: [...new Set(names.filter((h) => h !== '*'))],
    addresses: Object.fromEntries((report.hosts ?? []).map((h) => [h.name, h.address])),
  };
}

function cellText(c: ReturnType<typeof paint>, p: { text: string; state: 'ok' | 'warn' | 'fail' | null }): string {
  const s = pad(p.text, 9);
  return p.state === null ? c.dim(s) : p.state === 'ok' ? c.green(s) : p.state === 'warn' ? c.yellow(s) : c.red(s);
}

const MAX_ROWS = 10;

/**
 * The DNS probes: one row per distinct result with the nodes it covers (a 300-node cluster whose
 * nodes all answer alike is one row), from the nodes and from a pod on each; with `verbose`, one
 * row per node and its pod.
 */
export function probeTable(report: Report, color: boolean, verbose = false): string[] {
  const c = paint(color);
  const hosts = [...new Set(report.probes.map((p) => p.host))];
  if (!hosts.length) return [];
  const u = universeOf(report);
  // each node's probes and pod-side verdict, gathered once (thousands of nodes: no scan per node)
  const own = new Map<string, { node: ProbeResult[]; pod: ProbeResult[] }>();
  for (const p of report.probes) {
    let o = own.get(p.host);
    if (!o) own.set(p.host, (o = { node: [], pod: [] }));
    (p.from === 'pod' ? o.pod : o.node).push(p);
  }
  const skips = new Map<string, CheckResult>();
  for (const r of report.results)
    if (r.check.startsWith('dns.pod.') && (r.status === 'skip' || r.status === 'error') && !skips.has(r.host))
      skips.set(r.host, r);
  // under each node, the same probes from its pod's network namespace (or why there were none)
  const podLabel = (h: string) => {
    const p = own.get(h)?.pod[0];
    return p ? `  pod ${p.podIp ?? ''}`.trimEnd() : '  pod';
  };
  const podSkip = (h: string) => skips.get(h);
  const withPods = hosts.filter((h) => (own.get(h)?.pod.length ?? 0) > 0 || podSkip(h));
  const cells = (ps: ProbeResult[]) =>
    ROLES.flatMap(([role]) =>
      (['udp', 'tcp'] as const).map((t) => probeCell(ps.filter((p) => p.role === role && p.transport === t))),
    );
  const render = (label: string, width: number, cs: ReturnType<typeof probeCell>[], tail = '') => {
    let out = pad(label, width);
    for (let i = 0; i < cs.length; i += 2) out += cellText(c, cs[i]!) + cellText(c, cs[i + 1]!) + '  ';
    return (out + tail).trimEnd();
  };
  const hostProbes = (h: string) => own.get(h)?.node ?? [];
  const podProbes = (h: string) => own.get(h)?.pod ?? [];
  const width = verbose
    ? Math.max(6, ...hosts.map((h) => h.length), ...withPods.map((h) => podLabel(h).length)) + 2
    : 6;
  const head1 = pad(verbose ? 'node' : 'from', width) + ROLES.map(([, t]) => pad(t, 20)).join('');
  const head2 = pad('', width) + ROLES.map(() => pad('udp      tcp', 20)).join('') + (verbose ? '' : 'on');
  const lines = [
    c.bold(
      `DNS probes (NOERROR with records / sent)${withPods.length ? ', from each node and from a pod on it' : ''}${verbose ? '' : ', one row per distinct result'}`,
    ),
    head1.trimEnd(),
    c.dim(head2.trimEnd()),
  ];
  // nodes with no pod to probe from: one line for all of them (most workers right after cluster.yml)
  const none: string[] = [];
  const whyNot = new Map<string, string>();
  for (const h of hosts) {
    if (podProbes(h).length) continue;
    const why = podSkip(h);
    if (why && why.status === 'skip' && /^no pod network namespace on /.test(why.summary) && !why.evidence.created)
      none.push(h);
    else if (why) whyNot.set(h, `${why.status === 'error' ? 'error: ' : ''}${why.summary.replace(/ \(.*$/, '')}`);
  }
  if (verbose) {
    for (const h of hosts) {
      lines.push(render(h, width, cells(hostProbes(h))));
      if (podProbes(h).length) lines.push(render(podLabel(h), width, cells(podProbes(h))));
      else if (whyNot.has(h)) lines.push(c.dim(`${pad(podLabel(h), width)}${whyNot.get(h)!}`));
    }
  } else {
    const rows = new Map<string, { kind: string; cs: ReturnType<typeof probeCell>[]; hosts: string[] }>();
    const add = (kind: string, h: string, ps: ProbeResult[]) => {
      const cs = cells(ps);
      const key = kind + cs.map((x) => `${x.text}:${x.state}`).join(' ');
      const row = rows.get(key);
      if (row) row.hosts.push(h);
      else rows.set(key, { kind, cs, hosts: [h] });
    };
    for (const h of hosts) add('node', h, hostProbes(h));
    for (const h of hosts) if (podProbes(h).length) add('pod', h, podProbes(h));
    const all = [...rows.values()];
    for (const r of all.slice(0, MAX_ROWS)) lines.push(render(r.kind, width, r.cs, hostText(r.hosts, u.names)));
    if (all.length > MAX_ROWS)
      lines.push(c.dim(`… ${all.length - MAX_ROWS} more distinct rows (-v: one row per node)`));
    const why = mergeByHost(
      [...whyNot].map(([h, w]) => `pod on ${h}: ${w}`),
      u.names,
      u.addresses,
    );
    lines.push(...capped(why, 4, '(-v: one row per node)').map((l) => c.dim(l)));
  }
  if (none.length)
    lines.push(
      c.dim(`no pod to probe from on ${hostText(none, u.names)} (dns.pod.* skipped; --pod-probes create makes one)`),
    );
  return lines;
}

/** At most `max` lines: the rest said in one line. */
function capped(lines: string[], max: number, where: string): string[] {
  return lines.length > max ? [...lines.slice(0, max - 1), `… ${lines.length - max + 1} more ${where}`] : lines;
}

function evidenceLines(r: CheckResult): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(r.evidence)) {
    if (Array.isArray(v)) {
      if (!v.length) continue;
      out.push(`${k}:`);
      for (const item of v.slice(0, 12)) out.push(`  ${typeof item === 'string' ? item : JSON.stringify(item)}`);
      if (v.length > 12) out.push(`  … ${v.length - 12} more`);
    } else if (v !== null && typeof v === 'object') {
      out.push(`${k}: ${JSON.stringify(v)}`);
    } else if (v !== undefined && v !== null && v !== '') {
      out.push(`${k}: ${String(v)}`);
    }
  }
  return out;
}

const MAX_EVIDENCE = 8;
const MAX_FIX = 5;

function diagnosisLines(d: Diagnosis, u: Universe, color: boolean, verbose: boolean): string[] {
  const c = paint(color);
  const tag = d.severity === 'fail' ? c.red('✖ ' + d.id) : c.yellow('⚠ ' + d.id);
  const where = d.hosts.length ? hostText(d.hosts, u.names) : 'the cluster';
  const lines = [
    `${tag}  ${c.dim('on ' + where)}`,
    ...mergeByHost([d.summary], u.names, u.addresses).map((s) => `  ${s}`),
  ];
  const evidence = mergeByHost(d.evidence, u.names, u.addresses);
  if (evidence.length) {
    lines.push('  evidence:');
    const shown = verbose ? evidence : capped(evidence, MAX_EVIDENCE, 'line(s): -v, or the JSON report');
    for (const e of shown) lines.push(`    - ${e}`);
  }
  const fix = mergeByHost(d.fix, u.names, u.addresses);
  if (fix.length) {
    lines.push('  fix:');
    const shown = verbose ? fix : capped(fix, MAX_FIX, 'step(s): -v, or the JSON report');
    for (const f of shown) lines.push(`    ${f.startsWith('#') || f.startsWith('… ') ? c.dim(f) : '$ ' + f}`);
  }
  return lines;
}

const MAX_CHECK_GROUPS = 12;

/** Failing (or warning) checks grouped by check id and status: one line naming the nodes; with
 *  `verbose`, each node's summary and the evidence that decided it (per DNS path) below. */
function checkGroups(results: CheckResult[], u: Universe, color: boolean, verbose: boolean): string[] {
  const c = paint(color);
  const groups = new Map<string, CheckResult[]>();
  for (const r of results) {
    const key = `${r.status} ${r.check}`;
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const out: string[] = [];
  const all = [...groups.values()];
  for (const g of verbose ? all : all.slice(0, MAX_CHECK_GROUPS)) {
    const r = g[0]!;
    const tag = r.status === 'fail' ? c.red('FAIL ') : r.status === 'error' ? c.red('ERROR') : c.yellow('WARN ');
    // the summaries with each node's own name taken out: alike ones count once
    const summaries = mergeByHost(
      g.map((x) => x.summary),
      u.names,
      u.addresses,
    );
    const others = summaries.length - 1;
    const more = others ? c.dim(` (+${others} other ${others === 1 ? 'summary' : 'summaries'}: -v)`) : '';
    out.push(
      `  ${tag} ${r.check}  on ${hostText(
        g.map((x) => x.host),
        u.names,
      )} — ${summaries[0]}${verbose ? '' : more}`,
    );
    if (verbose)
      for (const x of g) {
        out.push(c.dim(`        ${x.host}: ${x.summary}`));
        for (const l of evidenceLines(x)) out.push(c.dim(`          ${l}`));
      }
  }
  if (!verbose && all.length > MAX_CHECK_GROUPS)
    out.push(c.dim(`  … ${all.length - MAX_CHECK_GROUPS} more check id(s): -v, or the JSON report`));
  return out;
}

/** Facts worth knowing that are not faults, said once for the cluster rather than per node: TX
 *  checksum offload left on where nothing points at it (Calico >= 3.28 leaves it on above kernel
 *  5.7; the probes decide). */
export function infoNotes(report: Report): string[] {
  const on = report.results.filter(
    (r) => r.check === 'overlay.offload' && r.status === 'pass' && r.evidence['tx-checksumming'] === true,
  );
  if (!on.length) return [];
  const devs = [...new Set(on.map((r) => String(r.evidence.device ?? 'the overlay device')))].join(', ');
  const hosts = on.map((r) => r.host);
  const why = typeof on[0]!.evidence.felix === 'string' ? ` (${on[0]!.evidence.felix})` : '';
  return [
    `TX checksum offload is on for ${devs} on ${hostText(hosts, universeOf(report).names)} — not a fault by itself, the probes decide${why}`,
  ];
}

const MAX_DOWN = 6;

export function renderHuman(report: Report, opts: HumanOptions): string {
  const c = paint(opts.color);
  const k = report.cluster;
  const verbose = Boolean(opts.verbose);
  const u = universeOf(report);
  const out: string[] = [];
  out.push(
    c.bold(`kubespray-validate ${report.tool.version}`) +
      ` — ${report.hosts.length} node(s), domain ${k.dnsDomain}, CoreDNS ${k.corednsIp}` +
      `, NodeLocalDNS ${k.nodelocaldnsIp ?? 'disabled'}, ${k.networkPlugin}${k.calicoBackend ? '/' + k.calicoBackend : ''}, kube-proxy ${k.kubeProxyMode}`,
  );
  const down = report.hosts.filter((h) => !h.inspected);
  if (down.length) {
    out.push('', c.bold('Not inspected'));
    // the same reason on many nodes is one line (each node's own address read as <address>)
    const lines = mergeByHost(
      down.map((h) => `${h.name} (${h.address}): ${h.error ?? 'unknown error'}`),
      u.names,
      u.addresses,
    ).map((l) => `  ${c.red('✖')} ${l}`);
    out.push(...(verbose ? lines : capped(lines, MAX_DOWN, 'reason(s): -v, or the JSON report')));
  }
  if (report.fix) {
    out.push('', c.bold('Fixes applied (--fix)'));
    if (!report.fix.applied.length) out.push('  none: no diagnosis had a safe fix');
    const applied = mergeByHost(
      report.fix.applied.map((a) => `${a.ok ? '✔' : '✖'} ${a.host}: ${a.command}${a.ok ? '' : ' — ' + a.output}`),
      u.names,
      u.addresses,
    ).map((l) => `  ${l.startsWith('✔') ? c.green('✔') : c.red('✖')}${l.slice(1)}`);
    out.push(...(verbose ? applied : capped(applied, MAX_FIX, 'fix(es): -v, or the JSON report')));
    const b = report.fix.before.summary;
    out.push(`  before the fixes: ${b.fail} failed, ${b.warn} warnings, exit ${b.exitCode}; below: the second pass`);
  }
  // the answer first: what is wrong, where, why, and the fix
  if (report.diagnoses.length) {
    out.push('', c.bold('Diagnoses'));
    for (const d of report.diagnoses) out.push(...diagnosisLines(d, u, opts.color, verbose), '');
    out.pop();
  }
  if (report.comparison) out.push('', ...renderComparison(report.comparison, opts.color));

  const shown = report.results.filter(
    (r) => r.status === 'fail' || r.status === 'error' || (r.status === 'warn' && (opts.strict || verbose)),
  );
  if (shown.length) {
    out.push(
      '',
      c.bold(`Failing checks${verbose ? ', with the evidence that decided them' : ' (-v: per node and DNS path)'}`),
    );
    out.push(...checkGroups(shown, u, opts.color, verbose));
  }
  const warns = report.results.filter((r) => r.status === 'warn' && !(opts.strict || verbose));
  if (warns.length) out.push('', c.bold('Warnings'), ...checkGroups(warns, u, opts.color, false));
  const table = probeTable(report, opts.color, verbose);
  if (table.length) out.push('', ...table);
  const notes = infoNotes(report);
  if (notes.length) {
    out.push('', c.bold('Notes'));
    for (const n of notes) out.push(`  ${c.dim('i')} ${n}`);
  }
  const s = report.summary;
  const verdict = report.interrupted
    ? c.red(`INTERRUPTED (${report.interrupted})`)
    : s.exitCode === 0
      ? c.green('PASSED')
      : s.exitCode === 3
        ? c.yellow('INCOMPLETE')
        : c.red('FAILED');
  out.push(
    '',
    `${verdict}: ${s.pass} passed, ${s.warn} warnings, ${s.fail} failed, ${s.error} errors, ${s.skip} skipped` +
      (report.comparison ? `, ${report.comparison.regressions.length} regression(s) since the baseline` : '') +
      ` in ${(report.durationMs / 1000).toFixed(1)}s — exit ${report.interrupted ? 130 : s.exitCode}`,
  );
  return out.join('\n') + '\n';
}
