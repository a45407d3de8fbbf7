// Progress display. On a terminal: listr2's default renderer (live task tree). Anywhere else
// (Ansible, CI, pipes): listr2's simple renderer, one plain line per event, no spinners. With
// `--progress none`: listr2's silent renderer. Every mode schedules the same way — listr2 runs the
// items, `--forks` at a time — so how many nodes are in flight never depends on the display.
// Everything goes to stderr so stdout carries only the report (-o json|junit stays parseable).
import { Listr, ListrLogger, ProcessOutput } from 'listr2';

export type ProgressMode = 'tty' | 'plain' | 'none';

const RENDERER = { tty: 'default', plain: 'simple', none: 'silent' } as const;

export class Progress {
  private readonly output: ProcessOutput;

  constructor(
    readonly mode: ProgressMode,
    private readonly forks: number,
    /** where the display goes (stderr; tests pass a sink) */
    stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.output = new ProcessOutput(stream, stream);
  }

  /**
   * One phase: `fn` runs for each item, `forks` at a time. A rejection marks that item's task as
   * failed in the display; the phase itself never throws (failures are values in the caller's state).
   * `fn` may return a short note shown next to the item.
   */
  async phase<T>(
    title: string,
    items: T[],
    label: (item: T) => string,
    fn: (item: T) => Promise<string | void | undefined>,
  ): Promise<void> {
    if (!items.length) return;
    const plain = { logger: new ListrLogger({ processOutput: this.output, useIcons: false }) };
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
              { concurrent: Math.max(1, this.forks), exitOnError: false },
            ),
        },
      ],
      {
        renderer: RENDERER[this.mode],
        // the default renderer needs stdout on a terminal too (`-o json | jq` from one): then plain
        // lines, still on stderr
        fallbackRenderer: 'simple',
        fallbackRendererOptions: plain,
        exitOnError: false,
        registerSignalListeners: false,
        rendererOptions:
          this.mode === 'tty'
            ? { collapseSubtasks: items.length > 25, logger: new ListrLogger({ processOutput: this.output }) }
            : this.mode === 'plain'
              ? plain
              : {},
      } as never,
    );
    await list.run().catch(() => undefined);
  }
}
