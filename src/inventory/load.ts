// Load one or more inventory sources (files or directories) and resolve every host's variables
// with Ansible's precedence (VariableManager.get_vars, hash_behaviour=replace):
//   inventory-file vars of `all` < inventory-file vars of the host's other groups
//   < group_vars/all files < group_vars/<group> files
//   < inventory-file host vars < host_vars/<host> files < -e extra vars
// Groups are ordered by (depth, ansible_group_priority, name), so parents come before children.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { InventoryError } from '../errors.js';
import type { Inventory, Vars } from '../types.js';
import { parseIni } from './ini.js';
import { RawInventory, type RawGroup } from './raw.js';
import { looksLikeYamlInventory, parseYaml, parseYamlInventory } from './yaml.js';

// ansible.cfg defaults INVENTORY_IGNORE_EXTS and INVENTORY_IGNORE_PATTERNS, for directory sources.
const IGNORE_EXTS = [
  '.pyc',
  '.pyo',
  '.swp',
  '.bak',
  '~',
  '.rpm',
  '.md',
  '.txt',
  '.rst',
  '.orig',
  '.ini',
  '.cfg',
  '.retry',
];
const VAR_EXTS = ['.yml', '.yaml', '.json'];
const MAX_FILE = 16 << 20;

function readText(file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InventoryError(
      code === 'ENOENT' ? `${file}: no such inventory file or directory` : `${file}: cannot read (${code})`,
    );
  }
  if (st.size > MAX_FILE) throw new InventoryError(`${file}: too large for an inventory file (${st.size} bytes)`);
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new InventoryError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (buf.includes(0)) throw new InventoryError(`${file}: binary file, not an inventory`);
  return buf.toString('utf8').replace(/^\uFEFF/, '');
}

/** One inventory file: YAML (.yml/.yaml/.json or no extension, when it parses as a mapping) else INI. */
function loadFile(file: string, inv: RawInventory): void {
  const text = readText(file);
  const ext = extname(file).toLowerCase();
  if (['.yml', '.yaml', '.json'].includes(ext)) {
    const data = parseYaml(text, file);
    if (data === null || data === undefined) return; // an empty YAML inventory: nothing in it
    if (!looksLikeYamlInventory(data))
      throw new InventoryError(
        `${file}: not a YAML inventory (expected groups as a mapping${typeof data === 'object' && data && 'plugin' in data ? '; inventory plugins are not supported' : ''})`,
      );
    parseYamlInventory(data, file, inv);
    return;
  }
  if (ext === '') {
    // Ansible tries the yaml plugin before the ini plugin for files with no extension.
    try {
      const data = parseYaml(text, file);
      if (looksLikeYamlInventory(data)) {
        parseYamlInventory(data, file, inv);
        return;
      }
    } catch {
      /* not YAML: fall through to INI */
    }
  }
  parseIni(text, file, inv);
}

function loadSource(source: string, inv: RawInventory): void {
  const path = resolve(source);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new InventoryError(`${source}: no such inventory file or directory`);
  }
  if (st.isDirectory()) {
    inv.varDirs.push(path);
    let names: string[];
    try {
      names = readdirSync(path).sort();
    } catch (e) {
      throw new InventoryError(`${source}: cannot read directory (${(e as NodeJS.ErrnoException).code})`);
    }
    let loaded = 0;
    for (const n of names) {
      if (n.startsWith('.') || n === 'group_vars' || n === 'host_vars') continue;
      if (IGNORE_EXTS.some((e) => n.endsWith(e))) continue;
      const full = join(path, n);
      let s;
      try {
        s = statSync(full);
      } catch {
        continue;
      }
      if (s.isDirectory()) {
        loadSource(full, inv);
        loaded++;
      } else if (s.isFile()) {
        loadFile(full, inv);
        loaded++;
      }
    }
    if (!loaded) {
      const ini = names.filter((n) => n.endsWith('.ini'));
      throw new InventoryError(
        ini.length
          ? `${source}: directory holds no inventory file Ansible would read (it skips *.ini in directories): use -i ${join(source, ini[0]!)}`
          : `${source}: directory holds no inventory file`,
      );
    }
  } else {
    inv.varDirs.push(dirname(path));
    loadFile(path, inv);
  }
}

/** Ansible's loader.find_vars_files: `<name>` (file or dir), then `<name>.yml|.yaml|.json`. */
const dirEntries = new Map<string, Set<string> | null>();
function entriesOf(dir: string): Set<string> | null {
  if (!dirEntries.has(dir)) {
    try {
      dirEntries.set(dir, new Set(readdirSync(dir)));
    } catch {
      dirEntries.set(dir, null);
    }
  }
  return dirEntries.get(dir)!;
}

function findVarsFiles(dir: string, name: string): string[] {
  // one readdir per directory instead of four stat calls per host (50,000-host inventories)
  const entries = entriesOf(dir);
  if (!entries || !['', ...VAR_EXTS].some((ext) => entries.has(name + ext))) return [];
  for (const ext of ['', ...VAR_EXTS]) {
    const p = join(dir, name + ext);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) return dirVarsFiles(p);
    return [p];
  }
  return [];
}

function dirVarsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    if (n.startsWith('.') || n.endsWith('~')) continue;
    const full = join(dir, n);
    const ext = extname(n);
    const st = statSync(full);
    if (st.isDirectory() && !ext) out.push(...dirVarsFiles(full));
    else if (st.isFile() && (!ext || VAR_EXTS.includes(ext))) out.push(full);
  }
  return out;
}

function loadVarsFile(file: string): Vars {
  const data = parseYaml(readText(file), file);
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new InventoryError(`${file}: vars file must hold a mapping of variables`);
  return data as Vars;
}

/** group_vars/<name> or host_vars/<name> from every source directory, merged in order. */
function varsFromDirs(
  inv: RawInventory,
  kind: 'group_vars' | 'host_vars',
  name: string,
  cache: Map<string, Vars>,
): Vars {
  const key = `${kind}/${name}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let out: Vars = {};
  for (const d of inv.varDirs) for (const f of findVarsFiles(join(d, kind), name)) out = { ...out, ...loadVarsFile(f) };
  cache.set(key, out);
  return out;
}

/** Every ancestor of the host's groups, `all` excluded, ordered as Ansible's sort_groups. */
function hostGroups(
  inv: RawInventory,
  host: string,
  depth: Map<string, number>,
  direct: Map<string, RawGroup[]>,
): RawGroup[] {
  const seen = new Set<string>();
  const visit = (g: RawGroup) => {
    if (seen.has(g.name)) return;
    seen.add(g.name);
    for (const p of g.parents) visit(inv.groups.get(p)!);
  };
  for (const g of direct.get(host) ?? []) visit(g);
  seen.delete('all');
  return [...seen]
    .map((n) => inv.groups.get(n)!)
    .sort(
      (a, b) =>
        depth.get(a.name)! - depth.get(b.name)! ||
        a.priority - b.priority ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
}

/** Depth from `all` (longest path), as Group.depth. Cycles are an inventory error. */
function groupDepths(inv: RawInventory): Map<string, number> {
  const depth = new Map<string, number>();
  const onPath = new Set<string>();
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (onPath.has(name)) throw new InventoryError(`group "${name}" is its own ancestor (a cycle in :children)`);
    onPath.add(name);
    const g = inv.groups.get(name)!;
    const d = g.parents.length ? Math.max(...g.parents.map((p) => visit(p) + 1)) : name === 'all' ? 0 : 1;
    onPath.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const n of inv.groups.keys()) visit(n);
  return depth;
}

export function loadInventory(sources: string[], extraVars: Vars = {}): Inventory {
  if (!sources.length) throw new InventoryError('no inventory given: use -i PATH (file or directory)');
  dirEntries.clear();
  const inv = new RawInventory();
  for (const s of sources) loadSource(s, inv);

  // Reconcile as Ansible does: every group without a parent hangs under `all`; hosts that are in
  // no group but `all`/`ungrouped` are in `ungrouped`; hosts in a real group leave `ungrouped`.
  for (const g of inv.groups.values()) if (g.name !== 'all' && !g.parents.length) inv.addChild('all', g.name);
  const ungrouped = inv.groups.get('ungrouped')!;
  const all = inv.groups.get('all')!;
  // host -> the groups that list it directly (one pass; big inventories stay linear)
  const direct = new Map<string, RawGroup[]>();
  for (const g of inv.groups.values()) {
    if (g.name === 'all' || g.name === 'ungrouped') continue;
    for (const h of g.hosts) {
      const l = direct.get(h);
      if (l) l.push(g);
      else direct.set(h, [g]);
    }
  }
  const ung = new Set(ungrouped.hosts);
  for (const h of all.hosts) ung.add(h);
  all.hosts = [];
  for (const h of inv.hosts.keys()) {
    if (direct.has(h)) ung.delete(h);
    else ung.add(h);
  }
  ungrouped.hosts = [...ung];
  for (const h of ungrouped.hosts) direct.set(h, [...(direct.get(h) ?? []), ungrouped]);

  const depth = groupDepths(inv);
  const cache = new Map<string, Vars>();
  const resolveVars = (runtime: Record<string, string[]>): Record<string, Vars> => {
    const out: Record<string, Vars> = {};
    const runtimeSets = Object.entries(runtime).map(([n, hs]) => [n, new Set(hs)] as const);
    for (const [host, ownVars] of inv.hosts) {
      const groups = hostGroups(inv, host, depth, direct);
      // Runtime groups are created by group_by under `all` (depth 1, priority 1).
      for (const [name, members] of runtimeSets) {
        if (members.has(host) && !groups.some((g) => g.name === name))
          groups.push({ name, hosts: [], children: [], parents: ['all'], vars: {}, priority: 1 });
      }
      const d = (g: RawGroup) => depth.get(g.name) ?? 1;
      groups.sort((a, b) => d(a) - d(b) || a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      let v: Vars = { ...all.vars };
      for (const g of groups) v = { ...v, ...g.vars };
      v = { ...v, ...varsFromDirs(inv, 'group_vars', 'all', cache) };
      for (const g of groups) v = { ...v, ...varsFromDirs(inv, 'group_vars', g.name, cache) };
      out[host] = { ...v, ...ownVars, ...varsFromDirs(inv, 'host_vars', host, cache), ...extraVars };
    }
    return out;
  };
  const hostvars = resolveVars({});
  const runtimeGroups = kubesprayRuntimeGroups(inv);
  const playHostvars = Object.keys(runtimeGroups).length ? resolveVars(runtimeGroups) : hostvars;
  const groups: Inventory['groups'] = {};
  for (const g of inv.groups.values()) {
    groups[g.name] = {
      hosts: [...g.hosts],
      children: [...g.children],
      vars: { ...g.vars, ...varsFromDirs(inv, 'group_vars', g.name, cache) },
    };
  }
  return { groups, hostvars, sources: sources.map((s) => resolve(s)), runtimeGroups, playHostvars };
}

/** Every host of a group and of its descendants, in order. */
export function groupHosts(
  groups: Map<string, RawGroup> | Inventory['groups'],
  name: string,
  seen = new Set<string>(),
): string[] {
  const g = groups instanceof Map ? groups.get(name) : groups[name];
  if (!g || seen.has(name)) return [];
  seen.add(name);
  const out = [...g.hosts];
  const have = new Set(out);
  for (const c of g.children)
    for (const h of groupHosts(groups, c, seen))
      if (!have.has(h)) {
        have.add(h);
        out.push(h);
      }
  return out;
}

// Kubespray's boilerplate play maps the old group names to the new ones with group_by, then
// builds k8s_cluster from kube_node, kube_control_plane and calico_rr when it is not defined.
const RENAMED: [string, string][] = [
  ['kube-master', 'kube_control_plane'],
  ['kube-node', 'kube_node'],
  ['k8s-cluster', 'k8s_cluster'],
  ['calico-rr', 'calico_rr'],
];

function kubesprayRuntimeGroups(inv: RawInventory): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const hostsOf = (n: string) => out[n] ?? groupHosts(inv.groups, n);
  for (const [oldName, newName] of RENAMED) {
    const legacy = groupHosts(inv.groups, oldName);
    const current = groupHosts(inv.groups, newName);
    const cur = new Set(current);
    const missing = legacy.filter((h) => !cur.has(h));
    if (missing.length) out[newName] = [...current, ...missing];
  }
  if (!hostsOf('k8s_cluster').length) {
    const union: string[] = [];
    const have = new Set<string>();
    for (const n of ['kube_node', 'kube_control_plane', 'calico_rr'])
      for (const h of hostsOf(n))
        if (!have.has(h)) {
          have.add(h);
          union.push(h);
        }
    if (union.length) out.k8s_cluster = union;
  }
  return out;
}
