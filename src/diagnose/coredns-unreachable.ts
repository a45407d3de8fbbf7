// coredns-unreachable: the CoreDNS service answers on no transport from any node, and no
// endpoint answers either.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';
import { corednsLoopPods } from './resolver-loop.js';
import { isParseError } from '../types.js';
import { procKeys } from '../checks/kube-proxy-ipvs.js';

export function corednsUnreachable(v: View): Draft[] {
  const c = v.input.cluster;
  const hosts = v.inspected();
  const svc = v.probes(undefined, 'coredns-service');
  if (!hosts.length || !v.allDead(svc)) return [];
  const eps = v.probes(undefined, 'coredns-endpoint');
  if (eps.length && !v.allDead(eps)) return []; // some pod answers: a kube-proxy matter, below
  const errs: Record<string, number> = {};
  for (const p of svc) for (const [k, n] of Object.entries(p.errors ?? {})) errs[k] = (errs[k] ?? 0) + n;
  const rc: Record<string, number> = {};
  for (const p of svc) for (const [k, n] of Object.entries(p.rcodes)) rc[k] = (rc[k] ?? 0) + n;
  const evidence = [
    `the CoreDNS service ${c.corednsIp}: ${v.ratio(svc)} probes answered from ${hosts.length} node(s) over UDP and TCP${
      Object.keys(errs).length
        ? ` (${Object.entries(errs)
            .map(([k, n]) => `${n} ${k}`)
            .join(', ')})`
        : ''
    }${Object.keys(rc).length ? `; rcodes ${JSON.stringify(rc)}` : ''}`,
  ];
  if (eps.length)
    evidence.push(
      `every CoreDNS endpoint failed too: ${[...new Set(eps.map((p) => p.server))].join(', ')} (${v.ratio(eps)})`,
    );
  else if (v.input.endpoints && !v.input.endpoints.length)
    evidence.push('the coredns Endpoints object lists no ready addresses');
  else if (v.input.endpointError) evidence.push(`endpoints could not be listed: ${v.input.endpointError}`);
  return [
    {
      severity: 'fail',
      hosts,
      summary: `CoreDNS (${c.corednsIp}) answers on no transport from any node`,
      evidence,
      fix: [
        'kubectl -n kube-system get deploy,pods,endpoints -l k8s-app=kube-dns -o wide',
        'kubectl -n kube-system logs deploy/coredns --tail=50; kubectl -n kube-system rollout restart deployment coredns',
      ],
    },
  ];
}

/** Where kube-proxy keeps the service path in each mode, and how to look at it. */
export function kubeProxyLook(mode: string, vip: string): string {
  if (mode === 'ipvs')
    return `grep -A3 -F '${procKeys(vip, 53).service}' /proc/net/ip_vs (or ipvsadm -Ln -u ${vip}:53 -t ${vip}:53); ip addr show kube-ipvs0 (must hold ${vip}); kubectl -n kube-system logs daemonset/kube-proxy | grep -i ipvs`;
  if (mode === 'nftables')
    return `nft list table ip kube-proxy | grep ${vip} (nftables mode keeps no KUBE-SERVICES iptables chains); kubectl -n kube-system logs daemonset/kube-proxy`;
  return `iptables-save -t nat | grep -e KUBE-SERVICES -e KUBE-SVC | grep ${vip}`;
}

/** The service IP fails everywhere while pods answer directly: kube-proxy's service path. */
export function corednsServiceUnrouted(v: View): Draft[] {
  const c = v.input.cluster;
  const hosts = v.inspected();
  const svc = v.probes(undefined, 'coredns-service');
  const eps = v.probes(undefined, 'coredns-endpoint');
  if (!hosts.length || !v.allDead(svc) || !eps.length || v.allDead(eps)) return [];
  const evidence = [`service ${c.corednsIp}: ${v.ratio(svc)}`, `endpoints directly: ${v.ratio(eps)}`];
  if (c.kubeProxyMode === 'ipvs') {
    // what IPVS showed, where it was read (ipvs-stale-backend names a table that explains the failure)
    const off = hosts.filter((h) => {
      const x = v.input.facts[h]?.ipvs;
      return x && !isParseError(x) && !x.loaded;
    });
    if (off.length)
      evidence.push(
        `IPVS is not in the kernel on ${off.join(', ')} (no /proc/net/ip_vs): kube-proxy cannot run in IPVS mode there (it fails to add services, kubernetes/kubernetes#92033)`,
      );
    const clean = hosts.filter((h) => v.check(h, 'kube-proxy.ipvs')?.status === 'pass');
    if (clean.length)
      evidence.push(
        `IPVS on ${clean.join(', ')} lists ${c.corednsIp}:53 with the CoreDNS endpoints and kube-ipvs0 holds it: the loss is past IPVS (the path to the pods, masquerade)`,
      );
  } else if (c.kubeProxyMode === 'nftables')
    evidence.push('kube-proxy runs in nftables mode: its service rules are in the nft table ip kube-proxy');
  return [
    {
      severity: 'fail',
      hosts,
      summary: `CoreDNS pods answer but the service IP ${c.corednsIp} does not, from any node`,
      evidence,
      fix: [
        `check kube-proxy (${c.kubeProxyMode} mode) on the nodes: kubectl -n kube-system get pods -l k8s-app=kube-proxy -o wide; ${kubeProxyLook(c.kubeProxyMode, c.corednsIp)}`,
      ],
    },
  ];
}

export default defineDiagnosis({
  id: 'coredns-unreachable',
  explainsChecks: ['dns.*'],
  explains: ['tcp-blocked', 'udp-blocked'],
  // CoreDNS pods stopped by their loop plugin: resolver-loop names the cause (and their log line)
  after: ['resolver-loop'],
  run: (v, ctx) => (ctx.hosts('resolver-loop').length && corednsLoopPods(v).length ? [] : corednsUnreachable(v)),
});
