// Host lists that stay short at 300 nodes and that `--limit` (and ansible-playbook --limit) accept
// back: a plain list (`node1, node3`), everything (`all`), everything but a few
// (`all:!node2:!node3`), or a regular expression over numbered names (`~^node([4-9]|1[0-9]|20)$`).
// Ansible's patterns have no `node[1:20]` name ranges (`x[1:20]` is a subscript of a group `x`),
// so ranges become a `~` pattern, which both read the same way.

/** The longest pattern worth printing; beyond it a list is cut and the JSON report lists the rest. */
const MAX_PATTERN = 90;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Alternatives of a regular expression matching exactly the decimal numbers lo..hi (no leading zeros). */
export function numberRange(lo: number, hi: number): string[] {
  const out: string[] = [];
  let start = lo;
  if (start === 0 && hi >= 0) {
    out.push('0');
    start = 1;
  }
  while (start <= hi) {
    let k = 0;
    while (start % 10 ** (k + 1) === 0 && start + 10 ** (k + 1) - 1 <= hi) k++;
    const step = 10 ** k;
    let count = 1;
    while (
      start + (count + 1) * step - 1 <= hi &&
      Math.floor((start + count * step) / (step * 10)) === Math.floor(start / (step * 10))
    )
      count++;
    const head = String(Math.floor(start / step));
    const d = Number(head.slice(-1));
    const digit = count === 1 ? String(d) : `[${d}-${d + count - 1}]`;
    out.push(head.slice(0, -1) + digit + (k === 0 ? '' : k === 1 ? '[0-9]' : `[0-9]{${k}}`));
    start += count * step;
  }
  return out;
}

/** `~^prefix(…)$` for names that share a prefix and end in a number, else null. */
function numberedPattern(hosts: string[]): string | null {
  const parsed = hosts.map((h) => /^(.*?)(0|[1-9][0-9]*)$/.exec(h));
  if (parsed.some((m) => !m)) return null;
  const prefix = parsed[0]![1]!;
  if (!prefix || parsed.some((m) => m![1] !== prefix)) return null;
  const nums = [...new Set(parsed.map((m) => Number(m![2])))].sort((a, b) => a - b);
  const alts: string[] = [];
  for (let i = 0; i < nums.length;) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    alts.push(...numberRange(nums[i]!, nums[j]!));
    i = j + 1;
  }
  const body = alts.length === 1 ? alts[0]! : `(${alts.join('|')})`;
  return `~^${escapeRe(prefix)}${body}$`;
}

export interface HostSet {
  /** a --limit pattern selecting exactly these hosts among `universe` (null: too long to print) */
  pattern: string | null;
  /** what a person reads: the pattern, with the count where the pattern does not spell the names */
  text: string;
}

/**
 * `hosts` (a subset of `universe`, the nodes of the run, in report order) as the shortest of: the
 * names, `all`, `all:!a:!b`, a `~` regular expression over numbered names.
 */
export function hostSet(hosts: string[], universe: string[]): HostSet {
  const inU = new Set(universe);
  const set = [...new Set(hosts)];
  const within = set.every((h) => inU.has(h));
  const order = new Map(universe.map((h, i) => [h, i]));
  set.sort((a, b) => (order.get(a) ?? Infinity) - (order.get(b) ?? Infinity));
  if (set.length === 0) return { pattern: null, text: 'no node' };
  const names = set.join(', ');
  if (set.length <= 3 && names.length <= MAX_PATTERN) return { pattern: names, text: names };
  const of = within ? ` of ${universe.length}` : '';
  const candidates: { pattern: string; text: string }[] = [{ pattern: names, text: names }];
  if (within && set.length === universe.length && universe.length > 1)
    candidates.push({ pattern: 'all', text: `all ${universe.length} nodes` });
  if (within && set.length < universe.length) {
    const rest = universe.filter((h) => !set.includes(h));
    const p = ['all', ...rest.map((h) => `!${h}`)].join(':');
    candidates.push({ pattern: p, text: `${p} (${set.length}${of} nodes)` });
  }
  const re = numberedPattern(set);
  // the expression must not also match another node of the run
  if (re) {
    const rx = new RegExp(re.slice(1));
    if (universe.every((h) => rx.test(h) === set.includes(h)))
      candidates.push({ pattern: re, text: `${re} (${set.length}${of} nodes)` });
  }
  const best = candidates
    .filter((c) => c.pattern.length <= MAX_PATTERN)
    .sort((a, b) => a.pattern.length - b.pattern.length)[0];
  if (best) return best;
  const shown: string[] = [];
  for (const h of set) {
    if ([...shown, h].join(', ').length > MAX_PATTERN - 10) break;
    shown.push(h);
  }
  return {
    pattern: null,
    text: `${shown.join(', ')}, … (${set.length}${of} nodes; the JSON report lists them)`,
  };
}

export const hostText = (hosts: string[], universe: string[]) => hostSet(hosts, universe).text;

/** Any of the words (longest first), as a whole word: not inside a longer name or address. */
const alternation = (words: string[]) =>
  [...words]
    .sort((a, b) => b.length - a.length)
    .map(escapeRe)
    .join('|');
const BEFORE = '(?<![\\w.-])';
const AFTER = '(?![\\w-]|\\.\\d)';

const NAME = '\u0000';
const ADDR = '\u0005';
const KEPT = '\u0001';

/**
 * The same finding on many hosts as one line: lines that differ only in one host (its name, and
 * its address where `addresses` gives it) are merged into one naming the host list (an address
 * then reads `<address>`); lists of host names inside a line are shortened the same way; a line
 * said twice is said once.
 */
export function mergeByHost(lines: string[], universe: string[], addresses: Record<string, string> = {}): string[] {
  const byWord = new Map<string, { host: string; addr: boolean }>();
  for (const h of universe) byWord.set(h, { host: h, addr: false });
  for (const [h, a] of Object.entries(addresses))
    if (a && a !== h && !byWord.has(a)) byWord.set(a, { host: h, addr: true });
  if (!universe.length) return [...new Set(lines)];
  const any = new RegExp(`${BEFORE}(?:${alternation([...byWord.keys()])})${AFTER}`, 'g');
  const one = `(?:${alternation(universe)})`;
  const names = new RegExp(`${BEFORE}${one}${AFTER}`, 'g');
  // 1. runs of names ("node3, node1, node4 and node5") become one list, kept out of step 2
  const lists: string[] = [];
  const runRe = new RegExp(`${BEFORE}${one}(?:(?:, | and |, and )${one})+${AFTER}`, 'g');
  const shortened = lines.map((l) =>
    l.replace(runRe, (run) => {
      lists.push(hostText(run.match(names) ?? [], universe));
      return `${KEPT}${lists.length - 1}${KEPT}`;
    }),
  );
  // 2. lines alike but for one host: the host that varies most among them is the one listed
  const parsed = shortened.map((l) => {
    const tokens: { raw: string; host: string; addr: boolean }[] = [];
    const template = l.replace(any, (raw) => {
      const w = byWord.get(raw)!;
      tokens.push({ raw, ...w });
      return w.addr ? ADDR : NAME;
    });
    return { template, tokens };
  });
  const vary = new Map<string, number>();
  for (const template of new Set(parsed.map((p) => p.template))) {
    const group = parsed.filter((p) => p.template === template);
    let best = 0;
    let most = 0;
    for (let s = 0; s < group[0]!.tokens.length; s++) {
      const n = new Set(group.map((g) => g.tokens[s]!.host)).size;
      if (n > most) [best, most] = [s, n];
    }
    vary.set(template, best);
  }
  const groups = new Map<
    string,
    { template: string; tokens: { raw: string; mine: boolean; addr: boolean }[]; hosts: string[] }
  >();
  for (const p of parsed) {
    const v = p.tokens[vary.get(p.template)!]?.host;
    const tokens = p.tokens.map((t) => ({ raw: t.raw, mine: v !== undefined && t.host === v, addr: t.addr }));
    const key = `${p.template}\u0003${tokens.map((t) => (t.mine ? '*' : t.raw)).join('\u0002')}`;
    const g = groups.get(key);
    if (g) {
      if (v !== undefined && !g.hosts.includes(v)) g.hosts.push(v);
    } else groups.set(key, { template: p.template, tokens, hosts: v === undefined ? [] : [v] });
  }
  // each merged line where its first member was
  const result = [...groups.values()].map(({ template, tokens, hosts }) => {
    let i = 0;
    return template.replace(/[\u0000\u0005]/g, () => {
      const t = tokens[i++]!;
      if (!t.mine || hosts.length === 1) return t.raw;
      return t.addr ? '<address>' : hostText(hosts, universe);
    });
  });
  return result.map((l) => l.replace(/\u0001(\d+)\u0001/g, (_m, i: string) => lists[Number(i)]!));
}
