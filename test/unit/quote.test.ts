import test from 'ava';
import { execFileSync } from 'node:child_process';
import { shQuote, shJoin } from '../../src/transport/quote.js';

const hostile = [
  'plain',
  'with space',
  "it's",
  '$(touch /tmp/pwned)',
  '`id`',
  'a;b',
  'x\ny',
  "'\"'",
  '',
  '--opt=$HOME',
];

test('shQuote round-trips hostile strings through a real shell', (t) => {
  for (const v of hostile) {
    const out = execFileSync('sh', ['-c', `printf %s ${shQuote(v)}`], { encoding: 'utf8' });
    t.is(out, v);
  }
});

test('shJoin keeps argv boundaries', (t) => {
  const out = execFileSync('sh', ['-c', `printf '<%s>' ${shJoin(['a b', "c'd", '$x'])}`], { encoding: 'utf8' });
  t.is(out, "<a b><c'd><$x>");
});

test('shQuote refuses NUL', (t) => {
  t.throws(() => shQuote('a\0b'));
});
