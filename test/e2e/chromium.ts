// Headless Chromium (Debian's /usr/bin/chromium) driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4), with Node's built-ins only: load a
// page, evaluate an expression in it, take a screenshot, and collect what the page said on its
// console, the exceptions it threw, the browser's log errors and every request it made.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = () => existsSync(CHROMIUM);

export interface Rendered<T> {
  /** the screenshot, PNG */
  png: Buffer;
  /** what the expression evaluated to in the loaded page */
  value: T;
  /** console messages of any level, as "type: text" */
  console: string[];
  /** uncaught exceptions */
  exceptions: string[];
  /** the browser's own log entries of level warning or error (failed loads, CSP, …) */
  log: string[];
  /** every URL the page requested beyond the page itself */
  requests: string[];
}

interface Message {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

/** Load `file` in a fresh headless Chromium of `width` x `height`, evaluate `expression`, screenshot. */
export async function renderInChromium<T>(
  file: string,
  expression: string,
  size = { width: 1400, height: 1000 },
  timeoutMs = 60_000,
): Promise<Rendered<T>> {
  const profile = mkdtempSync(join(tmpdir(), 'ksv-chromium-'));
  const child = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-extensions',
      '--remote-debugging-pipe',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    // its own process group: the browser's helper processes are ended with it
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true },
  );
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const waiters: { method: string; resolve: () => void }[] = [];
  const out: Omit<Rendered<T>, 'png' | 'value'> = { console: [], exceptions: [], log: [], requests: [] };
  let pageUrl = '';
  let buffered = Buffer.alloc(0);
  const onEvent = (m: Message) => {
    const p = m.params ?? {};
    if (m.method === 'Runtime.consoleAPICalled') {
      const args = (p.args as { value?: unknown; description?: string }[]) ?? [];
      out.console.push(`${String(p.type)}: ${args.map((a) => String(a.value ?? a.description ?? '')).join(' ')}`);
    } else if (m.method === 'Runtime.exceptionThrown') {
      const d = p.exceptionDetails as { text?: string; exception?: { description?: string } };
      out.exceptions.push(`${d.text ?? ''} ${d.exception?.description ?? ''}`.trim());
    } else if (m.method === 'Log.entryAdded') {
      const e = p.entry as { level: string; text: string; url?: string };
      if (e.level === 'error' || e.level === 'warning') out.log.push(`${e.level}: ${e.text} ${e.url ?? ''}`.trim());
    } else if (m.method === 'Network.requestWillBeSent') {
      const url = (p.request as { url: string }).url;
      if (url !== pageUrl) out.requests.push(url);
    }
    for (const w of waiters.splice(0))
      if (w.method === m.method) w.resolve();
      else waiters.push(w);
  };
  fromBrowser.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (let nul = buffered.indexOf(0); nul >= 0; nul = buffered.indexOf(0)) {
      const m = JSON.parse(buffered.subarray(0, nul).toString('utf8')) as Message;
      buffered = buffered.subarray(nul + 1);
      if (m.id !== undefined) {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.error) p?.reject(new Error(m.error.message));
        else p?.resolve(m.result ?? {});
      } else onEvent(m);
    }
  });
  let nextId = 0;
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  const event = (method: string) => new Promise<void>((resolve) => waiters.push({ method, resolve }));
  // an exit before the result is in is a failure; once `Browser.close` is sent it is the answer (the
  // browser may end before its reply to that command reaches the pipe)
  let closing = false;
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => {
      if (!closing) reject(new Error(`chromium exited ${code}: ${stderr.slice(-2000)}`));
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`chromium: no answer in ${timeoutMs} ms`)), timeoutMs);
  });
  const run = async (): Promise<Rendered<T>> => {
    const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    for (const domain of ['Page', 'Runtime', 'Log', 'Network']) await send(`${domain}.enable`, {}, sessionId);
    await send(
      'Emulation.setDeviceMetricsOverride',
      { width: size.width, height: size.height, deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    pageUrl = pathToFileURL(file).href;
    const loaded = event('Page.loadEventFired');
    await send('Page.navigate', { url: pageUrl }, sessionId);
    await loaded;
    const r = (await send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as {
      result: { value: T };
      exceptionDetails?: { text: string };
    };
    if (r.exceptionDetails) throw new Error(`evaluating in the page: ${r.exceptionDetails.text}`);
    const shot = (await send('Page.captureScreenshot', { format: 'png' }, sessionId)) as { data: string };
    closing = true;
    await Promise.race([send('Browser.close').catch(() => undefined), exit]);
    return { ...out, png: Buffer.from(shot.data, 'base64'), value: r.result.value };
  };
  try {
    return await Promise.race([run(), exited, timeout]);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    // the helper processes (renderer, zygote, crash handler) may outlive the browser and still write to
    // the profile: end the whole group, then remove it
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is already gone
    }
    rmSync(profile, { recursive: true, force: true, maxRetries: 30, retryDelay: 100 });
  }
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.subarray(1, 4).toString('latin1') !== 'PNG') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
