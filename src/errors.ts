/** A problem with what the user gave us (arguments, inventory, configuration).
 *  It becomes exit code 2 and exactly one line on stderr, never a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Inventory problems name the file (and line) or variable at fault. */
export class InventoryError extends UsageError {
  override name = 'InventoryError';
}

/** Raised by the transport; the kind decides the host's `error` text and exit code 3. */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly kind: import('./types.js').TransportErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** The first line of an error (or any message): what one-line output shows. */
export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? '';
}
