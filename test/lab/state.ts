// What a lab leaves on disk so that it can always be torn down — by the process that built it, at
// its exit, or by `npm run lab -- down` after a crash — and so that `npm run lab -- fault` can attach.
// State lives in $TMPDIR/ksv-labs: <prefix>.json per lab, slot-<k>/ per reserved lab index.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsList, nsPids, procAlive, quiet } from './sys.js';
import type { Desc } from './topology.js';

export const STATE_DIR = join(tmpdir(), 'ksv-labs');

export interface Saved {
  prefix: string;
  index: number;
  dir: string;
  /** every namespace the lab created, recorded before it is created: pod namespaces are named as
   *  containerd names them (cni-<uuid>), so their names do not tell which lab they belong to */
  namespaces: string[];
  links: string[];
  users?: string[];
  sudoers?: string;
  desc?: Desc;
}

export function savedPath(prefix: string): string {
  return join(STATE_DIR, `${prefix}.json`);
}

/** Tear down whatever a lab (possibly from a crashed run) left: processes, namespaces, links, files. */
export function destroySaved(s: Saved): void {
  // the kubectl stand-in adds the pod namespaces it makes (kubectl-pods.ts) to the file
  try {
    const disk = JSON.parse(readFileSync(savedPath(s.prefix), 'utf8')) as Saved;
    if (disk.index === s.index) for (const ns of disk.namespaces) if (!s.namespaces.includes(ns)) s.namespaces.push(ns);
  } catch {
    /* none on disk */
  }
  for (const ns of s.namespaces) for (const pid of nsPids(ns)) quiet('kill', ['-9', pid]);
  // pods the kubectl stand-in made (kubectl-pods.ts): named in a node's mount namespace only
  try {
    for (const p of JSON.parse(readFileSync(join(s.dir, 'pods.json'), 'utf8')) as { lab?: { pid?: number } }[])
      if (p.lab?.pid) quiet('kill', ['-9', String(p.lab.pid)]);
  } catch {
    /* none made */
  }
  for (const l of s.links) quiet('ip', ['link', 'del', l]);
  for (const ns of s.namespaces) quiet('ip', ['netns', 'del', ns]);
  for (const u of s.users ?? []) quiet('userdel', ['-f', u]);
  if (s.sudoers) rmSync(s.sudoers, { force: true });
  rmSync(s.dir, { recursive: true, force: true });
  rmSync(savedPath(s.prefix), { force: true });
  rmSync(join(STATE_DIR, `slot-${s.index}`), { recursive: true, force: true });
}

export function listSaved(): Saved[] {
  if (!existsSync(STATE_DIR)) return [];
  const out: Saved[] = [];
  for (const f of readdirSync(STATE_DIR)) {
    if (!f.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(STATE_DIR, f), 'utf8')) as Saved);
    } catch {
      /* ignore */
    }
  }
  return out;
}

/** Reserve a lab index atomically (mkdir), so labs started at the same moment by parallel test
 *  files never collide. A slot whose owner process is gone and whose lab is gone is reused. */
export function pickIndex(): number {
  const used = new Set(listSaved().map((s) => s.index));
  const present = netnsList();
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (let k = 0; k < 64; k++) {
    const inUse =
      used.has(k) || present.some((n) => n.startsWith(`ksv${k}-`)) || new RegExp(`: ksv${k}(br|v)`).test(links);
    const slot = join(STATE_DIR, `slot-${k}`);
    if (!inUse && existsSync(slot)) {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(slot, 'pid'), 'utf8'));
      } catch {
        /* being written */
      }
      if (owner && !procAlive(owner)) rmSync(slot, { recursive: true, force: true });
    }
    if (inUse) continue;
    try {
      mkdirSync(slot);
    } catch {
      continue; // taken by someone else just now
    }
    writeFileSync(join(slot, 'pid'), String(process.pid));
    return k;
  }
  throw new Error('lab: 64 labs already exist (npm run lab -- down --all)');
}
