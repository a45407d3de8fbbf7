// The lab: a Kubespray-like cluster network built from Linux network namespaces, shared by the
// e2e tests, the benchmark and the demo. Everything lives in namespaces it creates and in
// 198.18.0.0/15 (plus link-local addresses inside namespaces); nothing touches the host's network.
//
// Each node namespace: eth0 (veth, offload off so checksums are real), a real OpenSSH sshd, ip_forward,
// the overlay as the network plugin builds it — Calico: vxlan.calico (VNI 4096, port 4789, MTU 1450),
// pods behind cali… veths with proxy ARP for 169.254.1.1; flannel: flannel.1 (VNI 1, port 8472),
// pods on the cni0 bridge behind veth… — with the neighbour + fdb + onlink-route scheme both use,
// an interface named nodelocaldns (a bridge: this kernel has no dummy) holding 169.254.25.10 with
// unbound forwarding the cluster zones to the CoreDNS service over TCP (node-cache's force_tcp) and
// `.` to what the node's kubelet hands it, node-cache's 12 iptables rules, kube-proxy-like random
// DNAT for the service, Calico's natOutgoing, a hardened INPUT chain, and the node's own /etc
// (resolver.ts: Kubespray's kubelet config, its resolv.conf). CoreDNS pods (unbound serving local
// data, forwarding `.` to the upstream resolver on the underlay) run in cni-<uuid> namespaces.
// `kubectl` is a stand-in printing the coredns Endpoints and EndpointSlices and the DNS pods (the
// only simulated piece).
//
// The parts: topology.ts (addresses, namespaces, overlay, pods), services.ts (what runs there),
// resolver.ts (each node's /etc, the upstream resolver, node-cache's loop check),
// inventory.ts (the Kubespray inventory), faults.ts (one record per fault), state.ts (teardown).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestFn } from 'ava';
import { labUnavailable, nsSh, sh } from './sys.js';
import { STATE_DIR, destroySaved, listSaved, pickIndex, savedPath, type Saved } from './state.js';
import {
  NLD_IP,
  OVERLAYS,
  addressPlan,
  buildBastion,
  buildNode,
  buildPod,
  buildUnderlay,
  planEndpoints,
  planNodes,
  routeOverlay,
  type Desc,
  type LabEndpoint,
  type LabNode,
  type PluginName,
} from './topology.js';
import {
  DOMAIN,
  EXTERNAL,
  createUsers,
  iptablesRestore,
  rotateHostKey,
  startCoredns,
  startNodeCache,
  startSshd,
  waitReady,
  writeKubectl,
  writeSshdConf,
  type LabUsers,
} from './services.js';
import { writeInventory } from './inventory.js';
import { buildUpstream, startUpstream, writeNodeEtc } from './resolver.js';
import { FAULTS, faultOps, faultTargets, offloadDefault, type Fault } from './faults.js';

export { FAULTS, FAULT_DEFS, faultOps, faultTargets, type Fault, type FaultDef } from './faults.js';
export { destroySaved, listSaved } from './state.js';
export { labUnavailable } from './sys.js';
export type { Desc, LabEndpoint, LabNode, PluginName } from './topology.js';

export interface LabOptions {
  prefix?: string;
  nodes?: number;
  /** node indexes (0-based) that run a CoreDNS pod */
  corednsNodes?: number[];
  bastion?: boolean;
  /** create two non-root users on the host (sshd in the namespaces authenticates against the
   *  host's accounts): one with passwordless sudo, one whose sudo asks for a password */
  users?: boolean;
  /** the network plugin whose overlay the lab builds (default calico) */
  plugin?: PluginName;
}

export interface Lab {
  prefix: string;
  index: number;
  dir: string;
  nodes: LabNode[];
  bastion: { name: string; ns: string; address: string; inner: string } | null;
  inventoryDir: string;
  keyFile: string;
  authorizedKeysDir: string;
  serviceCidr: string;
  corednsIp: string;
  clusterDomain: string;
  nodelocaldnsIp: string;
  externalName: string;
  endpoints: LabEndpoint[];
  plugin: PluginName;
  /** the overlay's VXLAN device on every node (vxlan.calico, flannel.1) */
  overlayDevice: string;
  /** with `users: true`: the sudo users (removed at teardown) */
  users: LabUsers | null;
  /** give a node a new SSH host key and restart its sshd (a rebuilt node, or an attacker) */
  rotateHostKey(node: string): Promise<void>;
  /** run a shell command inside a node's namespace (as root); returns stdout */
  exec(node: string, cmd: string): Promise<string>;
  fault(name: Fault, opts?: { nodes?: string[] }): Promise<void>;
  /** lift one fault (or all) on the given nodes (or all) */
  clear(name?: Fault, opts?: { nodes?: string[] }): Promise<void>;
  down(): Promise<void>;
}

/** Build a lab. Throws (after tearing down what it built) when something fails. */
export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const why = labUnavailable();
  if (why) throw new Error(why);
  const n = opts.nodes ?? 3;
  if (n < 1 || n > 200) throw new Error('lab: 1..200 nodes');
  const plugin = opts.plugin ?? 'calico';
  if (!(plugin in OVERLAYS)) throw new Error(`lab: plugin must be ${Object.keys(OVERLAYS).join(' or ')}`);
  const prefix = opts.prefix ?? `ksv${process.pid}`;
  if (!/^[a-z0-9-]{1,24}$/.test(prefix)) throw new Error('lab: prefix must be [a-z0-9-]{1,24}');
  mkdirSync(STATE_DIR, { recursive: true });
  for (const s of listSaved()) if (s.prefix === prefix) destroySaved(s);
  const k = pickIndex();
  const dir = mkdtempSync(join(tmpdir(), `ksv-lab-${prefix}-`));
  const saved: Saved = { prefix, index: k, dir, namespaces: [], links: [] };
  const save = () => writeFileSync(savedPath(prefix), JSON.stringify(saved));
  save();
  const exitHook = () => destroySaved(saved);
  process.once('exit', exitHook);
  try {
    const lab = build(opts, n, plugin, prefix, k, dir, saved, save, () => process.removeListener('exit', exitHook));
    await waitReady(lab.nodes);
    return lab;
  } catch (err) {
    destroySaved(saved);
    process.removeListener('exit', exitHook);
    throw err;
  }
}

function build(
  opts: LabOptions,
  n: number,
  plugin: PluginName,
  prefix: string,
  k: number,
  dir: string,
  saved: Saved,
  save: () => void,
  unhook: () => void,
): Lab {
  const plan = addressPlan(k);
  const { serviceCidr, corednsIp, apiIp, svcBase } = plan;
  const overlay = OVERLAYS[plugin];
  const corednsNodes = (opts.corednsNodes ?? [0, 1]).filter((i) => i < n);
  if (!corednsNodes.length) corednsNodes.push(0);
  // everything is recorded (and saved) before it is created, so teardown always finds it
  const record = (kind: 'ns' | 'link', name: string) => {
    (kind === 'ns' ? saved.namespaces : saved.links).push(name);
    save();
  };

  // keys and users
  const keyFile = join(dir, 'id_ed25519');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `ksv-lab-${prefix}`, '-f', keyFile]);
  const authorizedKeysDir = join(dir, 'authorized_keys');
  mkdirSync(authorizedKeysDir, { recursive: true });
  writeFileSync(join(authorizedKeysDir, 'root'), readFileSync(`${keyFile}.pub`));
  mkdirSync('/run/sshd', { recursive: true });
  const users = opts.users
    ? createUsers(k, dir, authorizedKeysDir, readFileSync(`${keyFile}.pub`), (kind, name) => {
        if (kind === 'user') saved.users = [...(saved.users ?? []), name];
        else saved.sudoers = name;
        save();
      })
    : null;
  const binDir = join(dir, 'bin');

  // the network
  buildUnderlay(k, !opts.bastion, (l) => record('link', l));
  // the upstream resolver for external names, on the underlay
  buildUpstream(k, record);
  startUpstream(k, dir, EXTERNAL);
  const nodes = planNodes(k, n);
  for (const node of nodes) buildNode(k, node, plugin, record);
  for (const node of nodes) routeOverlay(k, node, nodes, plugin);
  const endpoints = planEndpoints(k, nodes, corednsNodes, plugin);
  for (const ep of endpoints)
    buildPod(
      k,
      nodes.find((x) => x.name === ep.node)!,
      ep,
      plugin,
      (ns) => record('ns', ns),
    );

  // what runs there: each node's own /etc first (its kubelet config and resolv.conf, what the DNS
  // pods forward `.` to)
  for (const node of nodes) writeNodeEtc(dir, k, node, DOMAIN);
  for (const ep of endpoints) startCoredns(ep, dir, { apiIp, corednsIp, svcBase, nodes });
  for (const node of nodes) {
    sh(
      'ip',
      ['netns', 'exec', node.ns, 'iptables-restore', '-w'],
      iptablesRestore(
        corednsIp,
        endpoints.map((e) => e.ip),
        overlay.port,
        plan.podCidr,
      ),
    );
    startNodeCache(dir, node, corednsIp);
    writeSshdConf(dir, node.ns, node.address, authorizedKeysDir, users);
    startSshd(dir, node.ns);
  }
  let bastion: Lab['bastion'] = null;
  if (opts.bastion) {
    const b = buildBastion(k, record);
    writeSshdConf(dir, b.ns, b.address, authorizedKeysDir, users);
    startSshd(dir, b.ns);
    bastion = { name: 'bastion', ...b };
  }
  writeKubectl(dir, binDir, endpoints, savedPath(prefix));
  const inventoryDir = writeInventory(dir, nodes, bastion, {
    keyFile,
    binDir,
    serviceCidr,
    podCidr: plan.podCidr,
    plugin,
  });

  const byName = (name: string) => {
    const node = nodes.find((x) => x.name === name);
    if (!node) throw new Error(`lab: no node ${name}`);
    return node;
  };
  const pick = (o?: { nodes?: string[] }) => (o?.nodes ? o.nodes.map(byName) : nodes);
  const active = new Map<string, Set<Fault>>();
  const desc: Desc = { k, dir, nodes, endpoints, apiIp, corednsIp, svcBase, plugin };
  saved.desc = desc;
  save();
  const ops = faultOps(desc);

  let isDown = false;
  const lab: Lab = {
    prefix,
    index: k,
    dir,
    nodes,
    bastion,
    inventoryDir,
    keyFile,
    authorizedKeysDir,
    serviceCidr,
    corednsIp,
    clusterDomain: DOMAIN,
    nodelocaldnsIp: NLD_IP,
    externalName: EXTERNAL,
    endpoints,
    users,
    plugin,
    overlayDevice: overlay.device,
    async rotateHostKey(name) {
      rotateHostKey(dir, byName(name).ns);
    },
    async exec(name, cmd) {
      return nsSh(byName(name).ns, cmd);
    },
    async fault(f, o) {
      if (!FAULTS.includes(f)) throw new Error(`lab: no fault ${f} (faults: ${FAULTS.join(', ')})`);
      for (const node of faultTargets(f, nodes, pick(o))) {
        const set = active.get(node.name) ?? new Set<Fault>();
        if (set.has(f)) continue;
        ops.apply(f, node);
        set.add(f);
        active.set(node.name, set);
        // the fault holds before anyone looks: its mechanism read back from the kernel
        if (!(await ops.held(f, node))) throw new Error(`lab: fault ${f} did not take hold on ${node.name}`);
      }
    },
    async clear(f, o) {
      let lifted = false;
      for (const node of o?.nodes ? pick(o) : nodes) {
        const set = active.get(node.name);
        if (!set) continue;
        for (const x of [...set].reverse()) {
          if (f && x !== f) continue;
          ops.lift(x, node);
          set.delete(x);
          lifted = true;
        }
      }
      if (lifted) ops.recover();
      // the fix under test may have turned offload off: every clear restores the lab's defaults
      if (!f) for (const node of o?.nodes ? pick(o) : nodes) offloadDefault(desc, node);
      await waitReady(nodes);
    },
    async down() {
      if (isDown) return;
      isDown = true;
      destroySaved(saved);
      unhook();
    },
  };
  return lab;
}

/** ava: one lab per test file, always torn down. Without root the tests fail under CI=true and
 *  are skipped with the reason otherwise. */
export function useLab(test: TestFn, opts: LabOptions = {}): () => Lab {
  let lab: Lab | null = null;
  const why = labUnavailable();
  test.before(async (t) => {
    if (why) {
      if (process.env.CI) throw new Error(`lab tests cannot run: ${why}`);
      t.log(`lab tests skipped: ${why}`);
      return;
    }
    lab = await startLab(opts);
  });
  test.after.always(async () => {
    await lab?.down();
  });
  test.beforeEach((t) => {
    if (!lab && why) t.log(`skipped: ${why}`);
  });
  return () => {
    if (!lab) throw new Error(why ? `lab unavailable: ${why}` : 'lab not started');
    return lab;
  };
}
