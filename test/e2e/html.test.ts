// The --html page in a real browser: `replay BUNDLE --html FILE` for a healthy and a faulty recorded
// run, and pages of 300-node runs (bundles multiplied from the recorded ones), loaded in headless
// Chromium: a screenshot taken, the DOM read back (the diagnosis, the matrix cells and their
// colours), nothing on the console, no exception, no request beyond the page; the size bounded.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replay } from '../../src/validate.js';
import { renderHtml } from '../../src/report/html.js';
import { compareReports, withComparison } from '../../src/compare/index.js';
import { ROOT, runCli } from './helpers.js';
import { haveChromium, pngSize, renderInChromium } from './chromium.js';
import { writeMultiplied } from '../unit/multiply-bundle.js';

const BUNDLES = join(ROOT, 'test', 'fixtures', 'bundles');
const work = mkdtempSync(join(tmpdir(), 'ksv-html-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

interface Dom {
  title: string;
  verdict: string;
  diagnoses: string[];
  scripts: number;
  external: number;
  rows: { from: string; hosts: string[]; label: string }[];
  cells: {
    hosts: string[];
    from: string;
    server: string;
    role: string;
    transport: string;
    good: number | null;
    sent: number | null;
    title: string;
    color: string;
  }[];
  columns: string[];
  changes: boolean;
}

// what the test reads back from the loaded page
const READ = `(() => {
  const rows = [...document.querySelectorAll('table.matrix tbody tr')];
  return {
    title: document.title,
    verdict: document.getElementById('verdict')?.textContent ?? '',
    diagnoses: [...document.querySelectorAll('[data-diagnosis]')].map((e) => e.getAttribute('data-diagnosis')),
    scripts: document.scripts.length,
    external: [...document.querySelectorAll('link,img,iframe,object,embed')].length,
    rows: rows.map((r) => ({ from: r.dataset.from, hosts: r.dataset.hosts.split(' '), label: r.querySelector('th').textContent })),
    cells: rows.flatMap((r) => [...r.querySelectorAll('td')].map((td) => ({
      hosts: r.dataset.hosts.split(' '), from: r.dataset.from,
      server: td.dataset.server, role: td.dataset.role, transport: td.dataset.transport,
      good: td.dataset.good === undefined ? null : Number(td.dataset.good),
      sent: td.dataset.sent === undefined ? null : Number(td.dataset.sent),
      title: td.title, color: getComputedStyle(td).backgroundColor,
    }))),
    columns: [...document.querySelectorAll('table.matrix thead tr:first-child th')].map((th) => th.textContent),
    changes: !!document.getElementById('changes'),
  };
})()`;

const rgb = (css: string) => (/rgba?\((\d+), (\d+), (\d+)/.exec(css) ?? []).slice(1).map(Number);
const green = (css: string) => {
  const [r, g, b] = rgb(css);
  return g! > r! + 40 && g! > b!;
};
const red = (css: string) => {
  const [r, g, b] = rgb(css);
  return r! > g! + 40 && r! > b!;
};

async function look(t: import('ava').ExecutionContext, file: string, name: string) {
  const page = await renderInChromium<Dom>(file, READ);
  writeFileSync(join(work, `${name}.png`), page.png);
  t.log(`${name}: page ${statSync(file).size} bytes, screenshot ${page.png.length} bytes`);
  t.deepEqual(pngSize(page.png), { width: 1400, height: 1000 }, 'a screenshot of the page');
  t.true(page.png.length > 20_000, 'the screenshot holds a drawn page');
  t.deepEqual(page.console, [], 'nothing on the console');
  t.deepEqual(page.exceptions, [], 'no exception');
  t.deepEqual(page.log, [], 'no browser error or warning');
  t.deepEqual(page.requests, [], 'nothing fetched: the page holds everything');
  t.is(page.value.scripts, 0);
  t.is(page.value.external, 0);
  return page.value;
}

test.before(() => {
  if (!haveChromium()) throw new Error('/usr/bin/chromium is missing (apt-get install chromium)');
});

test('the checks on the browser see what they are meant to: a console error, an exception, a request', async (t) => {
  // a page that does all three (the request goes to loopback's discard port, refused)
  const bad = join(work, 'bad.html');
  writeFileSync(
    bad,
    '<!DOCTYPE html><html><head><title>x</title></head><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom"); nope();</script></body></html>',
  );
  const page = await renderInChromium<string>(bad, 'document.title');
  t.is(page.value, 'x');
  t.deepEqual(page.console, ['error: boom']);
  t.true(
    page.exceptions.some((e) => /nope is not defined/.test(e)),
    page.exceptions.join('\n'),
  );
  t.deepEqual(page.requests, ['http://127.0.0.1:9/x.png']);
  t.true(
    page.log.some((l) => /^error: Failed to load resource/.test(l)),
    page.log.join('\n'),
  );
});

test('replay --html of a healthy run: every cell green, every good answer counted, no diagnosis', async (t) => {
  const file = join(work, 'healthy.html');
  const run = await runCli(['replay', join(BUNDLES, 'healthy'), '--html', file, '-o', 'json']);
  t.is(run.code, 0, run.stderr);
  const dom = await look(t, file, 'healthy');
  t.is(dom.verdict, 'PASSED');
  t.deepEqual(dom.diagnoses, []);
  t.deepEqual(dom.columns, [
    'from',
    'NodeLocalDNS169.254.25.10',
    'CoreDNS service198.18.128.3',
    'CoreDNS endpoint198.19.0.1 on node1',
    'CoreDNS endpoint198.19.0.5 on node2',
  ]);
  t.true(dom.cells.length >= 8);
  for (const c of dom.cells) {
    t.is(c.good, c.sent, c.title);
    t.true(green(c.color), `${c.color}: ${c.title}`);
  }
  // the three nodes answered alike: one row for them, one for the two pods
  t.deepEqual(
    dom.rows.map((r) => [r.from, r.hosts]),
    [
      ['host', ['node1', 'node2', 'node3']],
      ['pod', ['node1', 'node2']],
    ],
  );
});

test("replay --html of the seed's fault: the diagnosis, and node2's cross-node TCP red while UDP is green", async (t) => {
  const file = join(work, 'seed.html');
  const run = await runCli(['replay', join(BUNDLES, 'seed-node2'), '--html', file, '-o', 'json']);
  t.is(run.code, 1, run.stderr);
  const dom = await look(t, file, 'seed-node2');
  t.is(dom.verdict, 'FAILED');
  t.deepEqual(dom.diagnoses, ['checksum-offload']);
  const cell = (host: string, server: string, transport: string) =>
    dom.cells.find(
      (c) => c.from === 'host' && c.hosts.includes(host) && c.server === server && c.transport === transport,
    )!;
  // node2 to the CoreDNS pod on node1, and node1/node3 to the one on node2: TCP lost, UDP fine
  for (const [host, server] of [
    ['node2', '198.19.0.1'],
    ['node1', '198.19.0.5'],
    ['node3', '198.19.0.5'],
  ] as const) {
    const tcp = cell(host, server, 'tcp');
    const udp = cell(host, server, 'udp');
    t.is(tcp.good, 0, tcp.title);
    t.true(red(tcp.color), tcp.color);
    t.regex(
      tcp.title,
      new RegExp(`to CoreDNS endpoint ${server.replace(/\./g, '\\.')} over TCP: 0/3 good.*unanswered: 3 timeout`),
    );
    t.is(udp.good, udp.sent, udp.title);
    t.true(green(udp.color), udp.color);
  }
  // and the paths not crossing node2's overlay work on both
  t.is(cell('node1', '198.19.0.1', 'tcp').good, 3);
  t.is(cell('node2', '198.19.0.5', 'tcp').good, 3);
});

test('300 nodes: under 2 MB, identical rows grouped, rendered without an error; with a baseline, what changed', async (t) => {
  for (const [from, name] of [
    ['seed-node2', 'seed-300'],
    ['healthy', 'healthy-300'],
  ] as const) {
    const dir = writeMultiplied(join(BUNDLES, from), join(work, name), 300, () => 'node3');
    const { report } = await replay(dir, { progress: 'none' });
    t.is(report.hosts.length, 300);
    const file = join(work, `${name}.html`);
    writeFileSync(file, renderHtml(report));
    const size = statSync(file).size;
    t.true(size < 2 * 1024 * 1024, `${size} bytes`);
    const dom = await look(t, file, name);
    // every node is in exactly one row of each kind
    const covered = dom.rows.filter((r) => r.from === 'host').flatMap((r) => r.hosts);
    t.is(covered.length, 300);
    t.is(new Set(covered).size, 300);
    t.true(dom.rows.length <= 4, `${dom.rows.length} rows`);
    if (from === 'seed-node2') {
      t.deepEqual(dom.diagnoses, ['checksum-offload']);
      const many = dom.rows.find((r) => r.hosts.length === 299)!;
      t.regex(many.label, /^all:!node2 \(299 of 300 nodes\) ×299$/);
      const tcp = dom.cells.find((c) => c.hosts.length === 299 && c.server === '198.19.0.5' && c.transport === 'tcp')!;
      t.regex(tcp.title, /0\/3 good.* \(each of 299 nodes\)$/);
    }
  }
  // with --baseline: the page says what changed
  const healthy = await replay(join(BUNDLES, 'healthy'), { progress: 'none' });
  const faulty = await replay(join(BUNDLES, 'seed-node2'), { progress: 'none' });
  const file = join(work, 'changes.html');
  writeFileSync(file, renderHtml(withComparison(faulty.report, compareReports(healthy.report, faulty.report), false)));
  const dom = await look(t, file, 'changes');
  t.true(dom.changes);
  t.regex(readFileSync(file, 'utf8'), /✖ node2: checksum-offload named \(fail\)/);
});
