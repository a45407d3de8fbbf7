// The report as one self-contained HTML page (--html FILE): inline CSS and SVG, no script, nothing
// fetched. The header and verdict, each diagnosis with its evidence and fix, what changed since the
// baseline, the failing checks grouped by check id, and the DNS path matrix: a row per node (and
// its pod), a column per server (NodeLocalDNS, the CoreDNS service, each CoreDNS endpoint) and
// transport, each cell coloured by its share of good answers, the numbers on hover. Nodes whose
// rows are identical share one row, so a 300-node cluster stays a small page.
import type { CheckResult, ProbeResult, ProbeRole, Report, Transport } from '../types.js';
import { renderComparison } from '../compare/render.js';
import { hostText, mergeByHost } from './hosts.js';
import { type Universe, universeOf } from './human.js';

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

const ROLE_NAME: Record<ProbeRole, string> = {
  nodelocaldns: 'NodeLocalDNS',
  'coredns-service': 'CoreDNS service',
  'coredns-endpoint': 'CoreDNS endpoint',
};
const ROLE_ORDER: ProbeRole[] = ['nodelocaldns', 'coredns-service', 'coredns-endpoint'];
const TRANSPORTS: Transport[] = ['udp', 'tcp'];

/** The most lines of evidence, and of nodes per failing check, the page lists (the JSON report has all). */
const MAX_EVIDENCE = 60;
const MAX_DETAIL = 40;

interface Column {
  role: ProbeRole;
  server: string;
  transport: Transport;
  endpointHost: string | null;
}

const ipKey = (ip: string) =>
  ip.includes(':')
    ? ip
    : ip
        .split('.')
        .map((x) => x.padStart(3, '0'))
        .join('.');

function columns(probes: ProbeResult[]): Column[] {
  const servers = new Map<string, { role: ProbeRole; server: string; endpointHost: string | null }>();
  for (const p of probes) {
    const key = `${p.role} ${p.server}`;
    if (!servers.has(key)) servers.set(key, { role: p.role, server: p.server, endpointHost: p.endpointHost ?? null });
  }
  return [...servers.values()]
    .sort(
      (a, b) =>
        ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || ipKey(a.server).localeCompare(ipKey(b.server)),
    )
    .flatMap((s) => TRANSPORTS.map((transport) => ({ ...s, transport })));
}

interface Cell {
  good: number;
  sent: number;
  answered: number;
  rcodes: Record<string, number>;
  errors: Record<string, number>;
  p50: number | null;
}

function cellOf(ps: ProbeResult[]): Cell | null {
  if (!ps.length) return null;
  const add = (into: Record<string, number>, from: Record<string, number> | undefined) => {
    for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
  };
  const c: Cell = { good: 0, sent: 0, answered: 0, rcodes: {}, errors: {}, p50: null };
  for (const p of ps) {
    c.good += p.ok ?? 0;
    c.sent += p.sent;
    c.answered += p.answered;
    add(c.rcodes, p.rcodes);
    add(c.errors, p.errors);
    if (p.latencyMs.p50 !== null) c.p50 = Math.max(c.p50 ?? 0, p.latencyMs.p50);
  }
  return c;
}

/** Red (none good) through amber to green (all good), as a CSS colour. */
function shade(share: number): string {
  return `hsl(${Math.round(share * 120)} 65% ${share === 1 ? 38 : 45}%)`;
}

const counts = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');

function matrix(report: Report, u: Universe): string {
  const cols = columns(report.probes);
  if (!cols.length) return '<p class="muted">No DNS probes ran.</p>';
  const hosts = [...new Set(report.probes.map((p) => p.host))];
  const rows = new Map<string, { from: 'host' | 'pod'; cells: (Cell | null)[]; hosts: string[]; pods: string[] }>();
  for (const from of ['host', 'pod'] as const)
    for (const h of hosts) {
      const mine = report.probes.filter((p) => p.host === h && (p.from ?? 'host') === from);
      if (!mine.length) continue;
      const cells = cols.map((c) =>
        cellOf(mine.filter((p) => p.role === c.role && p.server === c.server && p.transport === c.transport)),
      );
      // alike rows: the same numbers in every cell (latency aside)
      const key = from + JSON.stringify(cells.map((c) => c && [c.good, c.sent, c.answered, c.rcodes, c.errors]));
      const row = rows.get(key);
      const pod = from === 'pod' ? (mine[0]!.podIp ?? '') : '';
      if (row) {
        row.hosts.push(h);
        if (pod) row.pods.push(pod);
      } else rows.set(key, { from, cells, hosts: [h], pods: pod ? [pod] : [] });
    }
  const sorted = [...rows.values()].sort(
    (a, b) => u.names.indexOf(a.hosts[0]!) - u.names.indexOf(b.hosts[0]!) || (a.from === 'host' ? -1 : 1),
  );
  const head1 = cols
    .filter((_, i) => i % 2 === 0)
    .map((c) => {
      const where = c.role === 'coredns-endpoint' && c.endpointHost ? ` on ${c.endpointHost}` : '';
      return `<th colspan="2" scope="colgroup">${esc(ROLE_NAME[c.role])}<br><span class="ip">${esc(c.server)}${esc(where)}</span></th>`;
    })
    .join('');
  const head2 = cols.map((c) => `<th scope="col">${c.transport.toUpperCase()}</th>`).join('');
  const body = sorted
    .map((r) => {
      const who = hostText(r.hosts, u.names);
      const label =
        r.from === 'pod'
          ? `pod on ${who}${r.pods.length === 1 ? ` <span class="ip">${esc(r.pods[0])}</span>` : ''}`
          : esc(who);
      const tds = r.cells
        .map((c, i) => {
          const col = cols[i]!;
          const attrs = `data-server="${esc(col.server)}" data-role="${col.role}" data-transport="${col.transport}"`;
          if (!c) return `<td class="cell none" ${attrs} title="not probed">–</td>`;
          const share = c.sent ? c.good / c.sent : 0;
          const title =
            `${r.from === 'pod' ? 'from the pods on ' : 'from '}${who} to ${ROLE_NAME[col.role]} ${col.server} over ${col.transport.toUpperCase()}: ` +
            `${c.good}/${c.sent} good (NOERROR with records), ${c.answered} answered` +
            (Object.keys(c.rcodes).length ? `; rcodes: ${counts(c.rcodes)}` : '') +
            (Object.keys(c.errors).length ? `; unanswered: ${counts(c.errors)}` : '') +
            (c.p50 !== null ? `; p50 ${c.p50} ms` : '') +
            (r.hosts.length > 1 ? ` (each of ${r.hosts.length} nodes)` : '');
          return `<td class="cell" ${attrs} data-good="${c.good}" data-sent="${c.sent}" style="background:${shade(share)}" title="${esc(title)}">${c.good}/${c.sent}</td>`;
        })
        .join('');
      return `<tr class="${r.from}" data-hosts="${esc(r.hosts.join(' '))}" data-from="${r.from}"><th scope="row">${label}${r.hosts.length > 1 ? ` <span class="n">×${r.hosts.length}</span>` : ''}</th>${tds}</tr>`;
    })
    .join('\n');
  return `<table class="matrix"><thead><tr><th rowspan="2" scope="col">from</th>${head1}</tr><tr>${head2}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

const LEGEND = `<svg class="legend" width="260" height="34" viewBox="0 0 260 34" role="img" aria-label="share of good answers">
<title>share of good answers: red none, green all</title>
<defs><linearGradient id="share"><stop offset="0" stop-color="${shade(0)}"/><stop offset="0.5" stop-color="${shade(0.5)}"/><stop offset="1" stop-color="${shade(1)}"/></linearGradient></defs>
<rect x="0" y="0" width="260" height="14" rx="3" fill="url(#share)"/>
<text x="0" y="30" font-size="11">0% good</text><text x="130" y="30" font-size="11" text-anchor="middle">50%</text><text x="260" y="30" font-size="11" text-anchor="end">100%</text>
</svg>`;

function checkGroups(results: CheckResult[], u: Universe): string {
  const groups = new Map<string, CheckResult[]>();
  for (const r of results) groups.set(`${r.status} ${r.check}`, [...(groups.get(`${r.status} ${r.check}`) ?? []), r]);
  const rows = [...groups.values()].map((g) => {
    const r = g[0]!;
    const detail = g
      .slice(0, MAX_DETAIL)
      .map((x) => `<li><b>${esc(x.host)}</b>: ${esc(x.summary)}</li>`)
      .join('');
    const more = g.length > MAX_DETAIL ? `<li>… ${g.length - MAX_DETAIL} more (the JSON report lists them)</li>` : '';
    return `<tr class="${r.status}" data-check="${esc(r.check)}"><td>${r.status.toUpperCase()}</td><td><code>${esc(r.check)}</code></td><td>${esc(
      hostText(
        g.map((x) => x.host),
        u.names,
      ),
    )}</td><td>${esc(mergeByHost([r.summary], u.names, u.addresses)[0])}<details><summary>${g.length} node(s)</summary><ul>${detail}${more}</ul></details></td></tr>`;
  });
  return `<table class="checks"><thead><tr><th>status</th><th>check</th><th>nodes</th><th>summary</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

const CSS = `
:root{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232b;background:#fff}
body{margin:1.5rem auto;max-width:1400px;padding:0 1rem}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem;border-bottom:1px solid #d8dee4}
.meta{color:#57606a}.muted{color:#57606a}.ip{font-weight:normal;color:#57606a;font-size:.85em}
.verdict{display:inline-block;padding:.2rem .6rem;border-radius:4px;color:#fff;font-weight:600}
.verdict.ok{background:hsl(120 65% 38%)}.verdict.fail{background:hsl(0 65% 45%)}.verdict.warn{background:hsl(40 80% 40%)}
.diagnosis{border-left:5px solid hsl(0 65% 45%);padding:.4rem .9rem;margin:.8rem 0;background:#fbf6f6}
.diagnosis.warn{border-color:hsl(40 80% 45%);background:#fcf9f0}
.diagnosis h3{margin:.2rem 0;font-size:1.05rem}.diagnosis .where{font-weight:normal;color:#57606a}
.diagnosis ul{margin:.3rem 0;padding-left:1.3rem}.diagnosis li{margin:.1rem 0}
pre{background:#f3f5f7;padding:.5rem .7rem;overflow-x:auto;white-space:pre-wrap;font-size:.85rem;margin:.3rem 0}
table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #d8dee4;padding:.25rem .45rem;vertical-align:top}
thead th{background:#f3f5f7}.matrix td.cell{color:#fff;text-align:center;font-variant-numeric:tabular-nums;min-width:3.2rem}
.matrix td.none{background:#eceff2;color:#8c959f}.matrix tbody th{text-align:left;font-weight:normal;max-width:28rem}
.matrix tr.pod th{padding-left:1.4rem;color:#57606a}.n{color:#57606a;font-size:.8em}
.checks tr.fail td:first-child,.checks tr.error td:first-child{color:hsl(0 65% 40%);font-weight:600}
.checks tr.warn td:first-child{color:hsl(40 80% 35%);font-weight:600}
.legend{display:block;margin:.4rem 0}
`;

export function renderHtml(report: Report): string {
  const u = universeOf(report);
  const k = report.cluster;
  const s = report.summary;
  const verdict = report.interrupted
    ? ['fail', `INTERRUPTED (${report.interrupted})`]
    : s.exitCode === 0
      ? ['ok', 'PASSED']
      : s.exitCode === 3
        ? ['warn', 'INCOMPLETE']
        : ['fail', 'FAILED'];
  const parts: string[] = [];
  parts.push(
    `<header><h1>kubespray-validate ${esc(report.tool.version)}</h1>`,
    `<p class="meta">${report.hosts.length} node(s), domain ${esc(k.dnsDomain)}, CoreDNS ${esc(k.corednsIp)}, NodeLocalDNS ${esc(k.nodelocaldnsIp ?? 'disabled')}, ${esc(k.networkPlugin)}${k.calicoBackend ? '/' + esc(k.calicoBackend) : ''}, kube-proxy ${esc(k.kubeProxyMode)} — started ${esc(report.startedAt)}, ${(report.durationMs / 1000).toFixed(1)}s</p>`,
    `<p><span class="verdict ${verdict[0]}" id="verdict">${esc(verdict[1])}</span> ${s.pass} passed, ${s.warn} warnings, ${s.fail} failed, ${s.error} errors, ${s.skip} skipped — exit ${report.interrupted ? 130 : s.exitCode}</p></header>`,
  );
  const down = report.hosts.filter((h) => !h.inspected);
  if (down.length)
    parts.push(
      '<h2>Not inspected</h2><ul>',
      ...mergeByHost(
        down.map((h) => `${h.name} (${h.address}): ${h.error ?? 'unknown error'}`),
        u.names,
        u.addresses,
      ).map((l) => `<li>${esc(l)}</li>`),
      '</ul>',
    );
  parts.push('<h2 id="diagnoses">Diagnoses</h2>');
  if (!report.diagnoses.length) parts.push('<p class="muted">None: nothing to explain.</p>');
  for (const d of report.diagnoses) {
    const evidence = mergeByHost(d.evidence, u.names, u.addresses);
    const shown = evidence.slice(0, MAX_EVIDENCE);
    parts.push(
      `<section class="diagnosis ${d.severity}" id="diagnosis-${esc(d.id)}" data-diagnosis="${esc(d.id)}">`,
      `<h3>${d.severity === 'fail' ? '✖' : '⚠'} <code>${esc(d.id)}</code> <span class="where">on ${esc(d.hosts.length ? hostText(d.hosts, u.names) : 'the cluster')}</span></h3>`,
      `<p>${esc(mergeByHost([d.summary], u.names, u.addresses)[0])}</p>`,
      evidence.length
        ? `<b>Evidence</b><ul>${shown.map((e) => `<li>${esc(e)}</li>`).join('')}${evidence.length > shown.length ? `<li>… ${evidence.length - shown.length} more (the JSON report lists them)</li>` : ''}</ul>`
        : '',
      d.fix.length
        ? `<b>Fix</b><pre>${mergeByHost(d.fix, u.names, u.addresses)
            .map((f) => esc(f.startsWith('#') ? f : `$ ${f}`))
            .join('\n')}</pre>`
        : '',
      '</section>',
    );
  }
  if (report.comparison)
    parts.push(
      '<h2 id="changes">What changed since the baseline</h2>',
      `<pre>${esc(renderComparison(report.comparison, false).join('\n'))}</pre>`,
    );
  parts.push(
    '<h2 id="matrix">DNS paths</h2>',
    '<p class="muted">Good answers (NOERROR with records) out of the queries sent, per node and from a pod on it, to each server over each transport; nodes with identical rows share one. Hover a cell for the numbers.</p>',
    LEGEND,
    matrix(report, u),
  );
  const failing = report.results.filter((r) => r.status === 'fail' || r.status === 'error' || r.status === 'warn');
  if (failing.length) parts.push('<h2 id="checks">Failing checks and warnings</h2>', checkGroups(failing, u));
  const title = `kubespray-validate: ${verdict[1]} — ${report.hosts.length} node(s)`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style></head>
<body>
${parts.filter(Boolean).join('\n')}
<footer class="muted"><p>The JSON report (--report FILE) holds every node's results.</p></footer>
</body></html>
`;
}
