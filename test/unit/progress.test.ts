// Every progress mode schedules through listr2 the same way: at most --forks items in flight, every
// item run (a failing one included), the display only on the given stream, nothing on stdout.
import test from 'ava';
import { Writable } from 'node:stream';
import { Progress, type ProgressMode } from '../../src/report/progress.js';

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => text };
}

/** Runs one phase over `n` items; each item yields to the event loop a different number of times
 *  so that items finish out of order, and item 4 fails. */
async function run(mode: ProgressMode, forks: number, n: number, stdoutIsTTY: boolean) {
  const out = sink();
  const ran: number[] = [];
  const events: string[] = [];
  let running = 0;
  let max = 0;
  let stdout = '';
  const write = process.stdout.write;
  const tty = process.stdout.isTTY;
  process.stdout.isTTY = stdoutIsTTY;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await new Progress(mode, forks, out.stream).phase(
      'Inspect',
      Array.from({ length: n }, (_, i) => i),
      (i) => `item ${i}`,
      async (i) => {
        running++;
        max = Math.max(max, running);
        ran.push(i);
        events.push(`start ${i}`);
        for (let k = 0; k <= (i * 7) % 5; k++) await new Promise((r) => setImmediate(r));
        running--;
        events.push(`end ${i}`);
        if (i === 4) throw new Error('item 4 fails');
        return i === 2 ? 'a note' : undefined;
      },
    );
  } finally {
    process.stdout.write = write;
    process.stdout.isTTY = tty;
  }
  return { ran: [...ran].sort((a, b) => a - b), events, max, display: out.text(), stdout };
}

const cases: [ProgressMode, boolean][] = [
  ['tty', true], // listr2's default renderer
  ['tty', false], // a terminal on stderr, stdout piped (`-o json | jq`): the simple renderer
  ['plain', false],
  ['none', false],
];

for (const [mode, stdoutIsTTY] of cases) {
  test.serial(
    `--progress ${mode}${mode === 'tty' ? ` (stdout ${stdoutIsTTY ? 'a terminal' : 'piped'})` : ''}: at most --forks at once, all run`,
    async (t) => {
      for (const [forks, n] of [
        [1, 6],
        [3, 10],
        [4, 12],
        [50, 8],
      ] as const) {
        const r = await run(mode, forks, n, stdoutIsTTY);
        t.deepEqual(
          r.ran,
          Array.from({ length: n }, (_, i) => i),
          `forks ${forks}: every item ran`,
        );
        t.is(r.max, Math.min(forks, n), `forks ${forks}: in flight at most (and at best) min(forks, items)`);
        t.is(r.stdout, '', 'nothing on stdout');
        if (mode === 'none') t.is(r.display, '', 'silent');
        else t.true(r.display.includes('item 2 — a note'), r.display);
        if (mode === 'plain' || (mode === 'tty' && !stdoutIsTTY)) {
          t.true(r.display.includes('[STARTED] item 0'), r.display);
          t.false(r.display.includes('\u001b['), 'no escape codes in plain lines');
        }
      }
    },
  );
}

test.serial('the schedule itself (which item starts when) is the same in every mode', async (t) => {
  const schedules = [];
  for (const [mode, stdoutIsTTY] of cases) schedules.push((await run(mode, 3, 10, stdoutIsTTY)).events);
  for (const s of schedules.slice(1)) t.deepEqual(s, schedules[0]);
});
