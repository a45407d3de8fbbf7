// Read a JSON report written by an earlier run (--report, -o json) for --baseline and `diff`.
// Anything that is not a schemaVersion 1 report is one UsageError line naming the file (exit 2);
// the entries the comparison reads are checked here, so comparing never meets a surprise shape.
import { readFileSync } from 'node:fs';
import { UsageError, firstLine } from '../errors.js';
import type { Report } from '../types.js';

export class ReportFileError extends UsageError {
  override name = 'ReportFileError';
}

const STATUSES = ['pass', 'warn', 'fail', 'error', 'skip'];
const ROLES = ['nodelocaldns', 'coredns-service', 'coredns-endpoint'];
const TRANSPORTS = ['udp', 'tcp'];
const SEVERITIES = ['fail', 'warn'];

/** A path as the user gave it, safe for one line of output. */
function shown(file: string): string {
  const s = file.replace(/[\u0000-\u001f\u007f]/g, '?');
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** What is wrong with the report's shape, or null. Only what the comparison reads is required. */
function problem(doc: Record<string, unknown>): string | null {
  const tool = doc.tool;
  if (!isObj(tool) || !isStr(tool.version)) return 'tool.version is missing';
  if (!isStr(doc.startedAt)) return 'startedAt is missing';
  for (const k of ['hosts', 'results', 'probes', 'diagnoses'])
    if (!Array.isArray(doc[k])) return `"${k}" is not a list`;
  const each = (k: string, test: (x: Record<string, unknown>) => string | null): string | null => {
    const list = doc[k] as unknown[];
    for (let i = 0; i < list.length; i++) {
      const x = list[i];
      const why = isObj(x) ? test(x) : 'is not an object';
      if (why) return `${k}[${i}] ${why}`;
    }
    return null;
  };
  return (
    each('hosts', (h) =>
      !isStr(h.name) ? 'has no name' : typeof h.inspected !== 'boolean' ? 'has no "inspected" flag' : null,
    ) ??
    each('results', (r) =>
      !isStr(r.check)
        ? 'has no check id'
        : !isStr(r.host)
          ? 'has no host'
          : !STATUSES.includes(r.status as string)
            ? `has status ${JSON.stringify(r.status)}, not one of ${STATUSES.join(', ')}`
            : r.evidence !== undefined && !isObj(r.evidence)
              ? 'has evidence that is not an object'
              : null,
    ) ??
    each('probes', (p) =>
      !isStr(p.host) || !isStr(p.server) || !isStr(p.name) || !isStr(p.type)
        ? 'lacks host, server, name or type'
        : !ROLES.includes(p.role as string)
          ? `has role ${JSON.stringify(p.role)}`
          : !TRANSPORTS.includes(p.transport as string)
            ? `has transport ${JSON.stringify(p.transport)}`
            : !isNum(p.sent) || !isNum(p.answered)
              ? 'lacks the numbers sent and answered'
              : p.ok !== undefined && !isNum(p.ok)
                ? 'has an "ok" that is not a number'
                : !isObj(p.rcodes)
                  ? 'has no rcodes'
                  : !isObj(p.latencyMs) || !(p.latencyMs.p50 === null || isNum(p.latencyMs.p50))
                    ? 'has no latencyMs.p50'
                    : null,
    ) ??
    each('diagnoses', (d) =>
      !isStr(d.id)
        ? 'has no id'
        : !Array.isArray(d.hosts) || !d.hosts.every(isStr)
          ? 'has no list of hosts'
          : !SEVERITIES.includes(d.severity as string)
            ? `has severity ${JSON.stringify(d.severity)}`
            : null,
    )
  );
}

/** Parse a report's text. `label` names the file in errors ("--baseline old.json", "new.json"). */
export function parseReport(text: string, label: string): Report {
  const name = shown(label);
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ReportFileError(`${name}: not a JSON report (${firstLine(err)})`);
  }
  if (!isObj(doc))
    throw new ReportFileError(
      `${name}: not a kubespray-validate report (the JSON is ${Array.isArray(doc) ? 'a list' : `a ${doc === null ? 'null' : typeof doc}`}, not an object)`,
    );
  if (doc.schemaVersion === undefined)
    throw new ReportFileError(`${name}: not a kubespray-validate report (no schemaVersion)`);
  if (doc.schemaVersion !== 1)
    throw new ReportFileError(
      `${name}: schemaVersion ${JSON.stringify(doc.schemaVersion).slice(0, 40)} is not supported (this version reads schemaVersion 1)`,
    );
  const why = problem(doc);
  if (why) throw new ReportFileError(`${name}: not a schemaVersion 1 report: ${why}`);
  return doc as unknown as Report;
}

/** Read and parse a report file; every failure is one ReportFileError line naming the file. */
export function readReport(file: string, label = file): Report {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? 'no such file'
        : e.code === 'EISDIR'
          ? 'is a directory'
          : e.code === 'EACCES'
            ? 'permission denied'
            : firstLine(e.message ?? String(err));
    throw new ReportFileError(`${shown(label)}: cannot read the report: ${why}`);
  }
  return parseReport(text, label);
}
