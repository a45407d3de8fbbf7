// --limit: Ansible host patterns (inventory/manager.py): `a,b` or `a:b` unions, `&g`
// intersections, `!g` exclusions (applied in that order, whatever the order written), groups,
// host names, shell globs (`node*`), `~regex`, and subscripts `group[0]`, `group[1:3]`.
import { UsageError } from '../errors.js';
import type { Inventory } from '../types.js';
import { groupHosts } from './load.js';

function glob(p: string): RegExp {
  return new RegExp(
    '^' +
      p
        .replace(/[.+^${}()|\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
  );
}

function allHosts(inv: Inventory): string[] {
  return Object.keys(inv.hostvars);
}

function hostsOfGroup(inv: Inventory, name: string): string[] {
  return [...new Set([...groupHosts(inv.groups, name), ...(inv.runtimeGroups[name] ?? [])])];
}

function matchOne(inv: Inventory, term: string): string[] {
  const sub = /^(.*)\[(-?\d+)(?::(-?\d*))?\]$/.exec(term);
  if (sub && !/[*?]/.test(sub[1]!)) {
    const base = matchOne(inv, sub[1]!);
    const start = Number(sub[2]);
    if (sub[3] === undefined) {
      const h = base.at(start);
      return h ? [h] : [];
    }
    const end = sub[3] === '' ? base.length : Number(sub[3]) + 1;
    return base.slice(start < 0 ? base.length + start : start, end < 0 ? base.length + end : end);
  }
  if (term === 'all' || term === '*') return allHosts(inv);
  if (term.startsWith('~')) {
    let re: RegExp;
    try {
      re = new RegExp(term.slice(1));
    } catch {
      throw new UsageError(`--limit: invalid regular expression "${term}"`);
    }
    return allHosts(inv)
      .filter((h) => re.test(h))
      .concat(
        Object.keys(inv.groups)
          .filter((g) => re.test(g))
          .flatMap((g) => hostsOfGroup(inv, g)),
      );
  }
  if (/[*?]/.test(term)) {
    const re = glob(term);
    return [
      ...Object.keys(inv.groups)
        .filter((g) => re.test(g))
        .flatMap((g) => hostsOfGroup(inv, g)),
      ...allHosts(inv).filter((h) => re.test(h)),
    ];
  }
  if (term in inv.groups || term in inv.runtimeGroups) return hostsOfGroup(inv, term);
  if (term in inv.hostvars) return [term];
  return [];
}

export function selectHosts(inv: Inventory, pattern: string | undefined, base?: string[]): string[] {
  const scope = base ?? allHosts(inv);
  if (pattern === undefined || pattern.trim() === '') return [...scope];
  // Ansible splits on ',' and on ':' (':' only when the pattern has no ',').
  const terms = (pattern.includes(',') ? pattern.split(',') : pattern.split(':')).map((t) => t.trim()).filter(Boolean);
  const unions = terms.filter((t) => !t.startsWith('!') && !t.startsWith('&'));
  const inters = terms.filter((t) => t.startsWith('&')).map((t) => t.slice(1));
  const excls = terms.filter((t) => t.startsWith('!')).map((t) => t.slice(1));
  let selected = new Set<string>(unions.length ? unions.flatMap((t) => matchOne(inv, t)) : allHosts(inv));
  for (const t of inters) {
    const keep = new Set(matchOne(inv, t));
    selected = new Set([...selected].filter((h) => keep.has(h)));
  }
  for (const t of excls) for (const h of matchOne(inv, t)) selected.delete(h);
  const out = scope.filter((h) => selected.has(h));
  if (!out.length) throw new UsageError(`--limit "${pattern}" matches no Kubernetes node of the inventory`);
  return out;
}
