// The in-memory inventory while sources are being read: groups and hosts in insertion order, as
// Ansible's InventoryData keeps them (the order shows in `ansible-inventory --list`).
import type { Vars } from '../types.js';

export interface RawGroup {
  name: string;
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Vars; // inventory-file group vars
  priority: number; // ansible_group_priority
}

export class RawInventory {
  readonly groups = new Map<string, RawGroup>();
  /** inventory-file host vars */
  readonly hosts = new Map<string, Vars>();
  /** directories whose group_vars/ and host_vars/ apply (one per source, in order) */
  readonly varDirs: string[] = [];
  /** group -> its hosts, for O(1) membership tests (big inventories) */
  private readonly members = new Map<string, Set<string>>();

  constructor() {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  addGroup(name: string): RawGroup {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, hosts: [], children: [], parents: [], vars: {}, priority: 1 };
      this.groups.set(name, g);
      // Ansible makes every new group a child of `all` when the inventory is reconciled.
    }
    return g;
  }

  addHost(name: string, group?: string): Vars {
    let v = this.hosts.get(name);
    if (!v) {
      v = {};
      this.hosts.set(name, v);
    }
    if (group) {
      const g = this.addGroup(group);
      let m = this.members.get(group);
      if (!m) this.members.set(group, (m = new Set(g.hosts)));
      if (!m.has(name)) {
        m.add(name);
        g.hosts.push(name);
      }
    }
    return v;
  }

  addChild(parent: string, child: string): void {
    const p = this.addGroup(parent);
    const c = this.addGroup(child);
    if (!p.children.includes(child)) p.children.push(child);
    if (!c.parents.includes(parent)) c.parents.push(parent);
  }

  setGroupVar(group: string, key: string, value: unknown): void {
    const g = this.addGroup(group);
    if (key === 'ansible_group_priority') g.priority = Number(value) || 1;
    g.vars[key] = value;
  }
}
