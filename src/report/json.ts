import type { Report } from '../types.js';

/** The JSON report (schemaVersion 1), as one document. */
export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}
