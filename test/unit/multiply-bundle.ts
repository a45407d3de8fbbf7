// Larger clusters from a recorded one: a capture bundle of N nodes made from a 3-node recording by
// copying its nodes' round trips, each copy renamed (node4 … nodeN) and renumbered within
// 198.18.0.0/15 — its own node address (198.18.0.0/16), its own pod and vxlan.calico addresses
// (4 per node in 198.19.0.0/16, as Calico's blocks in the lab) — so the replay sees N distinct nodes
// that answered as the template did. The CoreDNS endpoints and the control plane stay as recorded.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, RecordedNode } from '../../src/record/bundle.js';

const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const NODE_BASE = (198 << 24) | (18 << 16); // 198.18.0.0
const POD_BASE = (198 << 24) | (19 << 16); // 198.19.0.0

/** node k (1-based): 198.18.0.10 … 198.18.0.209, 198.18.1.10 …, as the lab numbers node1..3 */
export const nodeAddress = (k: number) => ip(NODE_BASE + Math.floor((k - 1) / 200) * 256 + 10 + ((k - 1) % 200));
/** node k's pod (the first address of its block of 4) and its vxlan.calico address (the second) */
export const podAddress = (k: number) => ip(POD_BASE + 4 * (k - 1) + 1);
export const tunnelAddress = (k: number) => ip(POD_BASE + 4 * (k - 1) + 2);

function exact(s: string): RegExp {
  return new RegExp(s.replace(/\./g, '\\.') + '(?![0-9])', 'g');
}

function copyNode(node: RecordedNode, from: { address: string }, k: number): RecordedNode {
  const execs = node.execs
    .filter((e) => e.label === 'roundtrip')
    .map((e) => {
      if (!e.result.ok) return { ...e };
      let out = e.result.stdout;
      const tunnel = /"local":"(198\.19\.[0-9.]+)","prefixlen":32,"scope":"global","label":"vxlan\.calico"/.exec(out);
      if (tunnel) out = out.replace(exact(tunnel[1]!), tunnelAddress(k));
      out = out.replace(exact(from.address), nodeAddress(k));
      // the pod probed from: its address in the pod lines only (the same address in iptables rules
      // is the CoreDNS endpoint, a cluster-wide server), and a network namespace name of its own
      const hex = (k * 2654435761) >>> 0;
      out = out
        .replace(
          /^(ns cni-[0-9a-f-]+?)[0-9a-f]{8}( \d+ )\S+/gm,
          (_m, ns: string, pid: string) => `${ns}${hex.toString(16).padStart(8, '0')}${pid}${podAddress(k)}`,
        )
        .replace(/^@@podsnmp \S+/gm, `@@podsnmp ${podAddress(k)}`);
      return { ...e, result: { ...e.result, stdout: out } };
    });
  // a connection refused names the address it was refused at
  const connect = node.connect
    ? node.connect.ok
      ? { ...node.connect }
      : { ...node.connect, message: node.connect.message.replace(exact(from.address), nodeAddress(k)) }
    : null;
  return { connect, execs };
}

/**
 * A bundle of `n` nodes: node1..node3 as recorded, nodeK (K > 3) a copy of the recorded node
 * `template(K)`. The pod subnet widens to 198.19.0.0/16 (in the model and in the recorded
 * commands, so the replay runs the same readers).
 */
export function multiplyBundle(src: Bundle, n: number, template: (k: number) => string): Bundle {
  const b = JSON.parse(JSON.stringify(src).replaceAll('198.19.0.0/24', '198.19.0.0/16')) as Bundle;
  const byName = new Map(b.targets.map((t, i) => [t.name, i]));
  const targets = [...b.targets];
  const nodes: Bundle['nodes'] = { ...b.nodes };
  const seeds = b.random.slice(0, b.targets.length);
  for (let k = b.targets.length + 1; k <= n; k++) {
    const from = template(k);
    const i = byName.get(from);
    if (i === undefined) throw new Error(`no node ${from} in the bundle`);
    const name = `node${k}`;
    targets.push({ ...b.targets[i]!, name, address: nodeAddress(k) });
    nodes[name] = copyNode(b.nodes[from]!, b.targets[i]!, k);
    // every node's seed is drawn in inventory order: the copy draws its template's
    seeds.push(b.random[i]!);
  }
  return {
    ...b,
    targets,
    nodes,
    random: [...seeds, ...b.random.slice(b.targets.length)],
    cluster: { ...b.cluster, nodes: targets.map((t) => t.name) },
  };
}

/** Write a multiplied bundle as `--record DIR` would (the report it printed is not part of it). */
export function writeMultiplied(from: string, dir: string, n: number, template: (k: number) => string): string {
  const src = JSON.parse(readFileSync(join(from, 'bundle.json'), 'utf8')) as Bundle;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(multiplyBundle(src, n, template)));
  return dir;
}
