import { closeSync, openSync, writeSync } from 'node:fs';
import type { Report } from '../types.js';

/** The JSON report (schemaVersion 1), as one document. */
export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/** How deep the document is walked piece by piece: the report object and its arrays (results,
 *  probes, hosts, diagnoses); each element below is stringified whole. */
const WALK_DEPTH = 2;

/**
 * The same text as renderJson, handed out in pieces of about `size` characters: at thousands of
 * nodes the report is over 100 MiB of text, which as one string (twice, for `--report` and `-o json`)
 * would be the largest thing the run holds.
 */
export function* jsonChunks(report: Report, size = 1 << 16): Generator<string> {
  let buf = '';
  for (const p of pieces(report, '', 0)) {
    buf += p;
    if (buf.length >= size) {
      yield buf;
      buf = '';
    }
  }
  yield buf + '\n';
}

/** A value as JSON.stringify(value, null, 2) writes it at `indent`, in pieces. */
function* pieces(value: unknown, indent: string, depth: number): Generator<string> {
  const v = toJson(value);
  if (depth >= WALK_DEPTH || v === null || typeof v !== 'object') {
    const s = JSON.stringify(v, null, 2) as string | undefined;
    // undefined, a function or a symbol: null in an array (object members are left out before)
    yield s === undefined ? 'null' : indent ? s.replace(/\n/g, `\n${indent}`) : s;
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (!v.length) return yield '[]';
    yield '[\n';
    for (let i = 0; i < v.length; i++) {
      yield inner;
      yield* pieces(v[i], inner, depth + 1);
      yield i < v.length - 1 ? ',\n' : '\n';
    }
    return yield `${indent}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => kept(toJson(o[k])));
  if (!keys.length) return yield '{}';
  yield '{\n';
  for (let i = 0; i < keys.length; i++) {
    yield `${inner}${JSON.stringify(keys[i])}: `;
    yield* pieces(o[keys[i]!], inner, depth + 1);
    yield i < keys.length - 1 ? ',\n' : '\n';
  }
  yield `${indent}}`;
}

/** What JSON.stringify serialises in place of a value (its toJSON(), as for a Date). */
function toJson(v: unknown): unknown {
  return v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function'
    ? (v as { toJSON(): unknown }).toJSON()
    : v;
}

/** A member JSON.stringify writes (it leaves out undefined, functions and symbols). */
const kept = (v: unknown) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';

/** Writes the JSON report through `write`, piece by piece (see jsonChunks). */
export function writeJson(report: Report, write: (text: string) => void): void {
  for (const chunk of jsonChunks(report)) write(chunk);
}

/** Writes the JSON report to the file at `path`, piece by piece; throws what the file system says. */
export function writeJsonFile(report: Report, path: string): void {
  const fd = openSync(path, 'w');
  try {
    writeJson(report, (text) => writeSync(fd, text));
  } finally {
    closeSync(fd);
  }
}
