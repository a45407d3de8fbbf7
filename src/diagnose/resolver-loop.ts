// resolver-loop: the file a node's kubelet hands the host-network DNS pods (`resolvConf` in the
// kubelet config; node-cache and CoreDNS forward `.` to it unless upstream_dns_servers is set) names
// NodeLocalDNS, the CoreDNS service or a loopback stub: their `loop` plugin stops them at start
// (CrashLoopBackOff). Named on the nodes whose file loops, with the file, the line and the loop's
// path; where kubectl read them, the node-cache/CoreDNS pods' status and their last `plugin/loop`
// log line. It accounts for NodeLocalDNS not answering on those nodes (nodelocaldns-down stands
// aside there) and, where the CoreDNS pods are stopped by the loop, for CoreDNS answering nowhere.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';
import { resolverFacts } from '../collect/resolver.js';
import { externalZoneLoops, LOOP_FIX, loopText, resolverVerdict } from '../checks/resolver-config.js';
import type { LoopEntry } from '../collect/resolver-chain.js';
import type { ClusterModel } from '../types.js';
import type { DnsPod } from '../kubectl/dns-pods.js';
import { DEFAULT_RESOLVER } from '../inventory/resolver.js';

/** The loop's path, from what the DNS pods do with the address. */
export function loopPath(l: LoopEntry, c: ClusterModel): string {
  if (l.role === 'nodelocaldns')
    return `node-cache on ${l.address} forwards \`.\` to ${l.address}: to itself; CoreDNS pods started on the node forward to it too`;
  if (l.role === 'coredns-service')
    return `CoreDNS forwards \`.\` to the CoreDNS service ${l.address}: to itself (and node-cache's \`.\` goes CoreDNS -> CoreDNS)`;
  return `CoreDNS pods forward \`.\` to ${l.address} in their own network namespace, where CoreDNS itself listens on :53; node-cache (host network) reaches the node's own ${l.address}, which answers only while a stub runs there and does not forward back to ${c.nodelocaldnsEnabled ? c.nodelocaldnsIp : c.corednsIp}`;
}

/** The nodes whose file (or the inventory's forward targets) loops, with the loop entries. */
export function resolverLoops(
  v: View,
): { host: string; loops: LoopEntry[]; latent: LoopEntry[]; file: string | null }[] {
  const c = v.input.cluster;
  const zones = externalZoneLoops(c);
  const out: { host: string; loops: LoopEntry[]; latent: LoopEntry[]; file: string | null }[] = [];
  for (const h of v.inspected()) {
    const f = resolverFacts(v.input.facts[h]);
    if (!f) continue;
    const verdict = resolverVerdict(c, f);
    const loops = [...verdict.loops, ...zones];
    if (loops.length) out.push({ host: h, loops, latent: verdict.latentLoops, file: verdict.file });
  }
  return out;
}

const podText = (p: DnsPod) =>
  `pod ${p.name}${p.node ? ` on ${p.node}` : ''}: ${p.waiting ?? 'running'}${p.restarts !== null ? `, ${p.restarts} restart(s)` : ''}${p.loopLine ? `; its previous container's last loop line: ${p.loopLine}` : p.logError ? `; previous log: ${p.logError}` : ''}`;

/** CoreDNS pods the loop stopped: kubectl shows them waiting (CrashLoopBackOff) with a loop line. */
export function corednsLoopPods(v: View): DnsPod[] {
  const seen = new Map<string, DnsPod>();
  for (const h of v.inspected())
    for (const p of resolverFacts(v.input.facts[h])?.pods ?? [])
      if (p.app === 'kube-dns' && p.loopLine) seen.set(p.name, p);
  return [...seen.values()];
}

export function resolverLoop(v: View): Draft[] {
  const c = v.input.cluster;
  const found = resolverLoops(v);
  if (!found.length) return [];
  const evidence: string[] = [];
  const kubeletConfig = (h: string) => resolverFacts(v.input.facts[h])?.kubeletConfigPath ?? 'the kubelet config';
  // the external name's probes through NodeLocalDNS, by node (gathered once: every node may loop)
  const extOf = new Map<string, typeof v.input.probes>();
  for (const p of v.input.probes) {
    if (p.from === 'pod' || p.internal !== false || p.role !== 'nodelocaldns') continue;
    const list = extOf.get(p.host);
    if (list) list.push(p);
    else extOf.set(p.host, [p]);
  }
  for (const x of found) {
    for (const l of x.loops) {
      evidence.push(
        `${x.host}: ${loopText(l)}${l.line !== null ? ` (the kubelet's resolvConf in ${kubeletConfig(x.host)})` : ''}`,
      );
      evidence.push(`${x.host}: loop: ${loopPath(l, c)}`);
    }
    const nl = v.probes(x.host, 'nodelocaldns');
    if (c.nodelocaldnsEnabled && nl.length)
      evidence.push(
        `${x.host}: DNS via NodeLocalDNS ${c.nodelocaldnsIp}: ${v.ratio(nl)} cluster-name probes answered${v.allDead(nl) ? ' (node-cache is not serving)' : ''}`,
      );
    const ext = extOf.get(x.host) ?? [];
    if (c.nodelocaldnsEnabled && ext.length)
      evidence.push(
        `${x.host}: the external name ${ext[0]!.name} through NodeLocalDNS: ${v.okCount(ext)}/${v.sentCount(ext)} good answers (\`.\` goes where the file says)`,
      );
    const f = resolverFacts(v.input.facts[x.host]);
    for (const p of (f?.pods ?? []).filter((p) => p.node === x.host && p.app === 'node-local-dns'))
      evidence.push(`${x.host}: ${podText(p)}`);
  }
  for (const p of corednsLoopPods(v)) evidence.push(`CoreDNS ${podText(p)}`);
  const podsError = found.map((x) => resolverFacts(v.input.facts[x.host])?.podsError).find(Boolean);
  if (podsError) evidence.push(`the DNS pods' state could not be read with kubectl: ${podsError}`);
  const hosts = found.map((x) => x.host);
  const fromFile = found.flatMap((x) => x.loops).some((l) => l.line !== null);
  // a dhclient line that writes the loop back at the next lease, on a looping node
  const dhclient = found.flatMap((x) => x.latent.map((l) => `${x.host}: ${l.source}:${l.line} \`${l.text}\``));
  for (const d of dhclient) evidence.push(`${d} writes that address back at the next DHCP lease`);
  const mode = (c.resolver ?? DEFAULT_RESOLVER).resolvconfMode;
  return [
    {
      severity: 'fail',
      hosts,
      summary: `the file the kubelet hands the DNS pods sends \`.\` back into the cluster's DNS on ${hosts.join(', ')} (${[
        ...new Set(found.flatMap((x) => x.loops.map((l) => `${l.address}`))),
      ].join(', ')}): their loop plugin stops them at start`,
      evidence,
      fix: [
        LOOP_FIX,
        ...(dhclient.length
          ? [
              "remove NodeLocalDNS and 127.0.0.53 from dhclient's `supersede domain-name-servers` line in /etc/dhcp/dhclient.conf (Kubespray's block), so the next lease does not write them back",
            ]
          : fromFile
            ? [
                'find what writes that line into the file (dhclient, NetworkManager, resolvconf, netplan) and stop it naming those addresses',
              ]
            : []),
        ...(fromFile
          ? [
              `resolvconf_mode (${mode}): with host_resolvconf Kubespray writes the cluster DNS into the hosts' resolv.conf; where the kubelet reads that same file, point kube_resolv_conf elsewhere or set upstream_dns_servers`,
            ]
          : []),
        'then restart the DNS pods: kubectl -n kube-system rollout restart daemonset nodelocaldns; kubectl -n kube-system rollout restart deployment coredns',
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'resolver-loop',
  explainsChecks: ['resolver.config', 'dns.nodelocaldns.*', 'dns.pod.nodelocaldns.*'],
  run: (v) => resolverLoop(v),
});
