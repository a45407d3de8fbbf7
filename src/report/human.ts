// The human summary printed after the progress display: what changed since the baseline (with
// --baseline), a node x path table of probe results, the failing checks with the evidence that
// decided them, and each diagnosis with its fix.
import type { CheckResult, Diagnosis, ProbeResult, ProbeRole, Report } from '../types.js';
import { renderComparison } from '../compare/render.js';

export interface HumanOptions {
  color: boolean;
  strict: boolean;
  verbose?: boolean; // also list warnings' evidence and passing checks
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

export function probeTable(report: Report, color: boolean): string[] {
  const c = paint(color);
  const hosts = [...new Set(report.probes.map((p) => p.host))];
  if (!hosts.length) return [];
  // under each node, the same probes from its pod's network namespace (or why there were none)
  const podLabel = (h: string) => {
    const p = report.probes.find((x) => x.host === h && x.from === 'pod');
    return p ? `  pod ${p.podIp ?? ''}`.trimEnd() : '  pod';
  };
  const podSkip = (h: string) =>
    report.results.find(
      (r) => r.host === h && r.check.startsWith('dns.pod.') && (r.status === 'skip' || r.status === 'error'),
    );
  const withPods = hosts.filter((h) => report.probes.some((x) => x.host === h && x.from === 'pod') || podSkip(h));
  const width = Math.max(6, ...hosts.map((h) => h.length), ...withPods.map((h) => podLabel(h).length)) + 2;
  const head1 = pad('node', width) + ROLES.map(([, t]) => pad(t, 20)).join('');
  const head2 = pad('', width) + ROLES.map(() => pad('udp      tcp', 20)).join('');
  const lines = [
    c.bold(`DNS probes (NOERROR with records / sent)${withPods.length ? ', from each node and from a pod on it' : ''}`),
    head1,
    c.dim(head2),
  ];
  const row = (label: string, ps: ProbeResult[]) => {
    let out = pad(label, width);
    for (const [role] of ROLES) {
      const parts = (['udp', 'tcp'] as const).map((t) =>
        probeCell(ps.filter((p) => p.role === role && p.transport === t)),
      );
      const txt = parts.map((p) => {
        const s = pad(p.text, 9);
        return p.state === null
          ? c.dim(s)
          : p.state === 'ok'
            ? c.green(s)
            : p.state === 'warn'
              ? c.yellow(s)
              : c.red(s);
      });
      out += txt.join('') + '  ';
    }
    return out.trimEnd();
  };
  // nodes with no pod to probe from: one line for all of them (most workers right after cluster.yml)
  const none: string[] = [];
  for (const h of hosts) {
    lines.push(
      row(
        h,
        report.probes.filter((p) => p.host === h && p.from !== 'pod'),
      ),
    );
    const mine = report.probes.filter((p) => p.host === h && p.from === 'pod');
    if (mine.length) lines.push(row(podLabel(h), mine));
    else {
      const why = podSkip(h);
      if (why && why.status === 'skip' && /^no pod network namespace on /.test(why.summary) && !why.evidence.created)
        none.push(h);
      else if (why)
        lines.push(
          c.dim(
            `${pad(podLabel(h), width)}${why.status === 'error' ? 'error: ' : ''}${why.summary.replace(/ \(.*$/, '')}`,
          ),
        );
    }
  }
  if (none.length) {
    const list = none.length > 8 ? `${none.slice(0, 8).join(', ')} and ${none.length - 8} more` : none.join(', ');
    lines.push(c.dim(`no pod to probe from on ${list} (dns.pod.* skipped; --pod-probes create makes one)`));
  }
  return lines;
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

function diagnosisLines(d: Diagnosis, color: boolean): string[] {
  const c = paint(color);
  const tag = d.severity === 'fail' ? c.red('✖ ' + d.id) : c.yellow('⚠ ' + d.id);
  const lines = [`${tag}  ${c.dim('on ' + (d.hosts.length ? d.hosts.join(', ') : 'the cluster'))}`, `  ${d.summary}`];
  if (d.evidence.length) {
    lines.push('  evidence:');
    for (const e of d.evidence) lines.push(`    - ${e}`);
  }
  if (d.fix.length) {
    lines.push('  fix:');
    for (const f of d.fix) lines.push(`    ${f.startsWith('#') ? c.dim(f) : '$ ' + f}`);
  }
  return lines;
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
    `TX checksum offload is on for ${devs} on ${hosts.length} node(s): ${hosts.slice(0, 8).join(', ')}${hosts.length > 8 ? ', …' : ''} — not a fault by itself, the probes decide${why}`,
  ];
}

export function renderHuman(report: Report, opts: HumanOptions): string {
  const c = paint(opts.color);
  const k = report.cluster;
  const out: string[] = [];
  // with --baseline the output starts with what changed since then
  if (report.comparison) out.push(...renderComparison(report.comparison, opts.color), '');
  out.push(
    c.bold(`kubespray-validate ${report.tool.version}`) +
      ` — ${report.hosts.length} node(s), domain ${k.dnsDomain}, CoreDNS ${k.corednsIp}` +
      `, NodeLocalDNS ${k.nodelocaldnsIp ?? 'disabled'}, ${k.networkPlugin}${k.calicoBackend ? '/' + k.calicoBackend : ''}, kube-proxy ${k.kubeProxyMode}`,
  );
  const down = report.hosts.filter((h) => !h.inspected);
  if (down.length) {
    out.push('', c.bold('Not inspected'));
    for (const h of down) out.push(`  ${c.red('✖')} ${h.name} (${h.address}): ${h.error ?? 'unknown error'}`);
  }
  if (report.fix) {
    out.push('', c.bold('Fixes applied (--fix)'));
    if (!report.fix.applied.length) out.push('  none: no diagnosis had a safe fix');
    for (const a of report.fix.applied)
      out.push(`  ${a.ok ? c.green('✔') : c.red('✖')} ${a.host}: ${a.command}${a.ok ? '' : ' — ' + a.output}`);
    const b = report.fix.before.summary;
    out.push(`  before the fixes: ${b.fail} failed, ${b.warn} warnings, exit ${b.exitCode}; below: the second pass`);
  }
  const table = probeTable(report, opts.color);
  if (table.length) out.push('', ...table);

  const shown = report.results.filter(
    (r) => r.status === 'fail' || r.status === 'error' || (r.status === 'warn' && (opts.strict || opts.verbose)),
  );
  if (shown.length) {
    out.push('', c.bold('Failing checks'));
    for (const r of shown) {
      const tag = r.status === 'fail' ? c.red('FAIL ') : r.status === 'error' ? c.red('ERROR') : c.yellow('WARN ');
      out.push(`  ${tag} ${r.host}  ${r.check} — ${r.summary}`);
      for (const l of evidenceLines(r)) out.push(c.dim(`        ${l}`));
    }
  }
  const warns = report.results.filter((r) => r.status === 'warn' && !(opts.strict || opts.verbose));
  if (warns.length) {
    out.push('', c.bold('Warnings'));
    for (const r of warns) out.push(`  ${c.yellow('WARN ')} ${r.host}  ${r.check} — ${r.summary}`);
  }
  const notes = infoNotes(report);
  if (notes.length) {
    out.push('', c.bold('Notes'));
    for (const n of notes) out.push(`  ${c.dim('i')} ${n}`);
  }
  if (report.diagnoses.length) {
    out.push('', c.bold('Diagnoses'));
    for (const d of report.diagnoses) out.push(...diagnosisLines(d, opts.color), '');
    out.pop();
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
