// The `comparison` object of the JSON report (present with --baseline, and printed by
// `diff`): the types live with the report's in src/types.ts; the defaults here.
import type { Thresholds } from '../types.js';

export type { ChangeKind, Change, Comparison, ComparisonPath as ProbePath, Thresholds } from '../types.js';

export const DEFAULT_THRESHOLDS: Thresholds = { latencyFactor: 3, latencyIncreaseMs: 5 };
