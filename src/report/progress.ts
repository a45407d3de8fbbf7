// Progress display. On a terminal: listr2's default renderer (live task tree). Anywhere else
// (Ansible, CI, pipes): listr2's simple renderer, one plain line per event, no spinners.
// Everything goes to stderr so stdout carries only the report (-o json|junit stays parseable).
// Mode 'none' runs the same phases without listr2 at all.
import { Listr, ListrLogger, ProcessOutput } from 'listr2';

export type ProgressMode = 'tty' | 'plain' | 'none';

/** Runs `fn` over `items` with at most `limit` at once; never rejects. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}

export class Progress {
  private readonly output = new ProcessOutput(process.stderr, process.stderr);

  constructor(
    readonly mode: ProgressMode,
    private readonly forks: number,
  ) {}

  /**
   * One phase: `fn` runs for each item, `forks` at a time. A rejection marks that item's task as
   * failed in the display; the phase itself never throws (failures are values in the caller's state).
   * `fn` may return a short note shown next to the item.
   */
  async phase<T>(title: string, items: T[], label: (item: T) => string, fn: (item: T) => Promise<string | void | undefined>): Promise<void> {
    if (!items.length) return;
    if (this.mode === 'none') return pool(items, this.forks, fn);
    const tty = this.mode === 'tty';
    const list = new Listr(
      [
        {
          title,
          task: (_ctx, task) =>
            task.newListr(
              items.map((item) => ({
                title: label(item),
                task: async (_c: unknown, t: { title: string }) => {
                  const note = await fn(item);
                  if (note) t.title = `${label(item)} — ${note}`;
                },
              })),
              { concurrent: this.forks, exitOnError: false },
            ),
        },
      ],
      {
        renderer: tty ? 'default' : 'simple',
        fallbackRenderer: 'simple',
        exitOnError: false,
        registerSignalListeners: false,
        rendererOptions: tty
          ? { collapseSubtasks: items.length > 25, logger: new ListrLogger({ processOutput: this.output }) }
          : { logger: new ListrLogger({ processOutput: this.output, useIcons: false }) },
      } as never,
    );
    await list.run().catch(() => undefined);
  }
}
