// `node --import tsx bench/netfilter.ts [--rules 10000] [--reps 20]`: parse and evaluate time of
// the netfilter model on a generated ruleset (test/fixtures/netfilter/large.ts), nft text and
// iptables-save. Prints medians of CPU time in milliseconds. No network, no root. For the code as
// it ships (no tsx), bundle it first: npx esbuild bench/netfilter.ts --bundle --platform=node
// --format=esm --outfile=/tmp/nfbench.mjs && node /tmp/nfbench.mjs
import { cpus, loadavg } from 'node:os';
import { parseNftText } from '../src/netfilter/nft-text.js';
import { fromIptables } from '../src/netfilter/iptables.js';
import { evaluate } from '../src/netfilter/evaluate.js';
import { scanIptablesSave } from '../src/collect/iptables.js';
import { isParseError } from '../src/types.js';
import { largeRuleset, podDns } from '../test/fixtures/netfilter/large.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const RULES = arg('rules', 10_000);
const REPS = arg('reps', 20);

const pk = podDns;

function iptablesSave(n: number): string {
  const lines = ['*filter', ':INPUT ACCEPT [0:0]'];
  for (let i = 0; i < n - 1; i++) lines.push(`-A INPUT -i veth${i}+ -p tcp -m tcp --dport ${1000 + i} -j ACCEPT`);
  lines.push('-A INPUT -i cali+ -p udp -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable', 'COMMIT');
  return lines.join('\n') + '\n';
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(label: string, text: string, parse: (s: string) => Parameters<typeof evaluate>[0]) {
  const parseMs: number[] = [];
  const evalMs: number[] = [];
  for (let i = 0; i < REPS; i++) {
    // CPU time of this process (the machine may be shared: wall time would count other work)
    const c0 = process.cpuUsage();
    const rs = parse(text);
    const c1 = process.cpuUsage(c0);
    const c2 = process.cpuUsage();
    const r = evaluate(rs, pk);
    const c3 = process.cpuUsage(c2);
    if (r.verdict !== 'drop') throw new Error(`${label}: expected drop, got ${r.verdict}`);
    parseMs.push((c1.user + c1.system) / 1000);
    evalMs.push((c3.user + c3.system) / 1000);
  }
  const p = median(parseMs);
  const e = median(evalMs);
  console.log(`| ${label} | ${RULES} | ${p.toFixed(1)} | ${e.toFixed(2)} | ${(p + e).toFixed(1)} |`);
}

console.log(
  `node ${process.version}, CPU time, median of ${REPS} runs, load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs`,
);
console.log('| source | rules | parse ms (CPU) | evaluate ms (CPU) | total ms |');
console.log('| --- | --- | --- | --- | --- |');
time('nft list ruleset (text)', largeRuleset(RULES), (s) => {
  const r = parseNftText(s);
  if (isParseError(r)) throw new Error(r.parseError);
  return r;
});
time('iptables-save', iptablesSave(RULES), (s) => {
  const r = scanIptablesSave(s, 'nft');
  if (isParseError(r)) throw new Error(r.parseError);
  return fromIptables(r.rules, r.chains);
});
