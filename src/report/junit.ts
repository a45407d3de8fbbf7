// JUnit XML: one testsuite per host, one testcase per check on that host; failures carry the
// evidence. Diagnoses get a suite of their own so CI systems show the root cause by name, and
// so do regressions since the baseline (--baseline).
import type { CheckResult, Report } from '../types.js';

function esc(s: string): string {
  // XML 1.0 cannot carry most control characters at all; drop them rather than emit bad XML.
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function evidenceText(r: CheckResult): string {
  return Object.keys(r.evidence).length ? JSON.stringify(r.evidence, null, 2) : '';
}

function testcase(r: CheckResult, strict: boolean): string {
  const head = `    <testcase classname="${esc(r.host)}" name="${esc(r.check)}">`;
  const body = `${esc(r.summary)}\n${esc(evidenceText(r))}`;
  switch (r.status) {
    case 'fail':
      return `${head}\n      <failure message="${esc(r.summary)}" type="fail">${body}</failure>\n    </testcase>`;
    case 'warn':
      return strict
        ? `${head}\n      <failure message="${esc(r.summary)}" type="warn">${body}</failure>\n    </testcase>`
        : `${head}\n      <system-out>WARN: ${body}</system-out>\n    </testcase>`;
    case 'error':
      return `${head}\n      <error message="${esc(r.summary)}" type="error">${body}</error>\n    </testcase>`;
    case 'skip':
      return `${head}\n      <skipped message="${esc(r.summary)}"/>\n    </testcase>`;
    default:
      return `${head}</testcase>`;
  }
}

export function renderJunit(report: Report, strict: boolean): string {
  const byHost = new Map<string, CheckResult[]>();
  for (const r of report.results) {
    const list = byHost.get(r.host) ?? [];
    list.push(r);
    byHost.set(r.host, list);
  }
  const suites: string[] = [];
  let tests = 0,
    failures = 0,
    errors = 0,
    skipped = 0;
  for (const [host, results] of byHost) {
    const f = results.filter((r) => r.status === 'fail' || (strict && r.status === 'warn')).length;
    const e = results.filter((r) => r.status === 'error').length;
    const s = results.filter((r) => r.status === 'skip').length;
    tests += results.length;
    failures += f;
    errors += e;
    skipped += s;
    suites.push(
      `  <testsuite name="${esc(host)}" tests="${results.length}" failures="${f}" errors="${e}" skipped="${s}">\n` +
        results.map((r) => testcase(r, strict)).join('\n') +
        `\n  </testsuite>`,
    );
  }
  const diag = report.diagnoses;
  if (diag.length) {
    const f = diag.filter((d) => d.severity === 'fail' || strict).length;
    tests += diag.length;
    failures += f;
    suites.push(
      `  <testsuite name="diagnoses" tests="${diag.length}" failures="${f}" errors="0" skipped="0">\n` +
        diag
          .map((d) => {
            const text = esc(
              [
                d.summary,
                `hosts: ${d.hosts.join(', ')}`,
                'evidence:',
                ...d.evidence.map((e) => `  - ${e}`),
                'fix:',
                ...d.fix.map((x) => `  $ ${x}`),
              ].join('\n'),
            );
            const head = `    <testcase classname="diagnosis" name="${esc(d.id)}">`;
            return d.severity === 'fail' || strict
              ? `${head}\n      <failure message="${esc(d.summary)}" type="${esc(d.id)}">${text}</failure>\n    </testcase>`
              : `${head}\n      <system-out>WARN: ${text}</system-out>\n    </testcase>`;
          })
          .join('\n') +
        `\n  </testsuite>`,
    );
  }
  // with --baseline: one testcase per regression, a failure under --strict (which fails the run)
  const reg = report.comparison?.regressions ?? [];
  if (reg.length) {
    const f = strict ? reg.length : 0;
    tests += reg.length;
    failures += f;
    suites.push(
      `  <testsuite name="regressions since ${esc(report.comparison!.baseline.startedAt)}" tests="${reg.length}" failures="${f}" errors="0" skipped="0">\n` +
        reg
          .map((x) => {
            const head = `    <testcase classname="${esc(x.host ?? 'cluster')}" name="${esc(`${x.kind} ${x.id}`)}">`;
            const text = esc(`${x.summary}\nbefore: ${JSON.stringify(x.before)}, after: ${JSON.stringify(x.after)}`);
            return strict
              ? `${head}\n      <failure message="${esc(x.summary)}" type="regression">${text}</failure>\n    </testcase>`
              : `${head}\n      <system-out>REGRESSION: ${text}</system-out>\n    </testcase>`;
          })
          .join('\n') +
        `\n  </testsuite>`,
    );
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="kubespray-validate" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${(report.durationMs / 1000).toFixed(3)}">\n` +
    suites.join('\n') +
    `\n</testsuites>\n`
  );
}
