// resolver.config: where the cluster's DNS pods send the names they do not serve. CoreDNS and
// NodeLocalDNS run with dnsPolicy Default: unless upstream_dns_servers is set they forward `.` to the
// nameservers of the file the kubelet hands them (`resolvConf` in the kubelet config). That file must
// name no address of NodeLocalDNS, the CoreDNS service or a loopback stub (their `loop` plugin stops
// them at start), at most 3 nameservers (the kubelet keeps 3) and a search list within Kubernetes'
// limits; a host search domain that answers any name (a wildcard) turns pods' lookups of external
// names into its address.
import { defineCheck } from './module.js';
import type { ClusterModel, Remediation, Status } from '../types.js';
import { isParseError } from '../types.js';
import { resolverFacts, resolverFiles, resolverReader, type ResolverFacts } from '../collect/resolver.js';
import {
  analyseResolverChain,
  type LoopEntry,
  type ResolverInventory,
  type ResolverVerdict,
} from '../collect/resolver-chain.js';
import { MAX_DNS_SEARCH_LIST_CHARS, MAX_DNS_SEARCH_PATHS } from '../collect/resolvconf.js';
import { DEFAULT_RESOLVER, serverAddress } from '../inventory/resolver.js';

/** The inventory's side of the verdict. */
export function resolverInventory(c: ClusterModel): ResolverInventory {
  const r = c.resolver ?? DEFAULT_RESOLVER;
  return {
    upstreamDnsServers: r.upstreamDnsServers,
    resolvconfMode: r.resolvconfMode,
    dnsMode: r.dnsMode,
    nodelocaldnsIp: c.nodelocaldnsEnabled ? c.nodelocaldnsIp : null,
    corednsIps: [c.corednsIp],
    searchdomains: r.searchdomains,
    dnsDomain: c.dnsDomain,
  };
}

/** The verdict on a node's files (null when they were not read). */
export function resolverVerdict(c: ClusterModel, f: ResolverFacts): ResolverVerdict {
  return analyseResolverChain(resolverInventory(c), resolverFiles(f));
}

const ROLE_TEXT: Record<LoopEntry['role'], string> = {
  nodelocaldns: 'NodeLocalDNS itself',
  'coredns-service': 'the CoreDNS service',
  loopback: 'a loopback stub (in the DNS pods, their own listener)',
};

export function loopText(l: LoopEntry): string {
  return l.line === null
    ? `${l.source} names ${l.address}, ${ROLE_TEXT[l.role]}`
    : `${l.source}:${l.line} \`${l.text.trim()}\` names ${l.address}, ${ROLE_TEXT[l.role]}`;
}

/** node-cache's extra zones (nodelocaldns_external_zones) that forward back into the cluster's DNS. */
export function externalZoneLoops(c: ClusterModel): LoopEntry[] {
  const inv = resolverInventory(c);
  const out: LoopEntry[] = [];
  for (const z of (c.resolver ?? DEFAULT_RESOLVER).externalZones) {
    for (const n of z.nameservers) {
      const a = serverAddress(n);
      const role = a ? roleOf(a, inv) : null;
      if (role)
        out.push({
          address: a!,
          role,
          source: `nodelocaldns_external_zones (${z.zones.join(' ')})`,
          line: null,
          text: n,
        });
    }
  }
  return out;
}

function roleOf(a: string, inv: ResolverInventory): LoopEntry['role'] | null {
  if (inv.nodelocaldnsIp === a) return 'nodelocaldns';
  if (inv.corednsIps.includes(a)) return 'coredns-service';
  if (a.startsWith('127.') || a === '::1') return 'loopback';
  return null;
}

export const LOOP_FIX =
  'set upstream_dns_servers: [<your DNS servers>] in group_vars/all/all.yml and re-run cluster.yml (CoreDNS and NodeLocalDNS then forward there, not to the file); or make the file name only real upstream servers';

export default defineCheck({
  ids: ['resolver.config'],
  title:
    "the file the kubelet hands the DNS pods names no NodeLocalDNS, CoreDNS or loopback address, at most 3 nameservers, a search list within Kubernetes' limits, no wildcard search domain",
  rank: 70,
  scope: 'node',
  readers: [resolverReader],
  evaluate({ host, cluster, facts, unread }, emit) {
    const id = 'resolver.config';
    if (unread?.has('resolver'))
      return [emit(id, host, 'skip', 'the resolver files were not read by the version that recorded this run')];
    const raw = facts?.resolver;
    if (!raw) return [emit(id, host, 'skip', 'the resolver files were not read')];
    if (isParseError(raw)) return [emit(id, host, 'error', raw.parseError)];
    const f = resolverFacts(facts)!;
    const v = resolverVerdict(cluster, f);
    const found: { status: Status; text: string }[] = [];
    const add = (status: Status, text: string) => found.push({ status, text });
    if (v.kubeletConfigError) add('warn', `${f.kubeletConfigPath}: ${v.kubeletConfigError}`);
    for (const l of v.loops) add('fail', loopText(l));
    for (const l of externalZoneLoops(cluster)) add('fail', loopText(l));
    if (v.forwardsTo === 'resolv-conf') {
      if (v.fileMissing)
        add(
          'fail',
          `${v.file} (the kubelet's resolvConf) is not on the node: the kubelet cannot give pods a DNS configuration`,
        );
      else if (v.noNameservers)
        add('fail', `${v.file} names no nameserver: CoreDNS and NodeLocalDNS have nowhere to forward external names`);
    }
    if (v.tooManyNameservers)
      add(
        'warn',
        `${v.file} has ${v.servers.length + v.omitted.length} nameservers; the kubelet keeps 3 and drops ${v.omitted.map((o) => o.address).join(', ')}`,
      );
    if (v.search.overDomains || v.search.overChars)
      add(
        'warn',
        `${v.file}'s search list (${v.search.domains} domains, ${v.search.chars} characters) exceeds Kubernetes' limits (${MAX_DNS_SEARCH_PATHS} domains, ${MAX_DNS_SEARCH_LIST_CHARS} characters): the kubelet truncates it`,
      );
    for (const l of v.latentLoops)
      add(
        'warn',
        `${l.source}:${l.line} \`${l.text}\` hands ${l.address} (${ROLE_TEXT[l.role]}) to the next DHCP lease: after a reboot or renewal ${v.file ?? 'the resolv.conf'} can name it`,
      );
    for (const w of f.wildcard ?? [])
      if (w.outcome === 'answers' && v.search.list.includes(w.domain))
        add(
          'warn',
          `search domain ${w.domain} answers any name (${w.name} -> ${w.detail}, asked through ${w.server} from ${w.askedFrom}): pods' lookups of external names with fewer than 5 dots resolve under it`,
        );
    const cl = [cluster.dnsDomain, `svc.${cluster.dnsDomain}`];
    const notAsked = v.search.list.filter(
      (d) => !cl.some((x) => d === x || d.endsWith(`.${x}`)) && !(f.wildcard ?? []).some((w) => w.domain === d),
    );
    const evidence: Record<string, unknown> = {
      kubeletConfig: f.kubeletConfigPath,
      kubeletConfigFound: !v.kubeletConfigMissing,
      resolvConf: v.file,
      forwardsTo: v.forwardsTo === 'upstream_dns_servers' ? 'upstream_dns_servers' : v.file,
      servers: v.servers,
      search: v.search.list,
      ...(v.loops.length ? { loops: v.loops } : {}),
      ...(v.latentLoops.length ? { latentLoops: v.latentLoops } : {}),
      ...(f.wildcard?.length ? { wildcard: f.wildcard } : {}),
      // a search domain of the file that is not in the inventory's searchdomains is not asked
      ...(notAsked.length ? { searchNotProbed: notAsked } : {}),
      findings: found.map((x) => x.text),
    };
    const worst: Status = found.some((x) => x.status === 'fail')
      ? 'fail'
      : found.some((x) => x.status === 'warn')
        ? 'warn'
        : 'pass';
    if (worst === 'pass')
      return [
        emit(
          id,
          host,
          'pass',
          v.forwardsTo === 'upstream_dns_servers'
            ? `the DNS pods forward to upstream_dns_servers (${v.servers.join(', ')})`
            : `${v.file} names ${v.servers.join(', ') || 'no nameserver'}: no loop`,
          evidence,
        ),
      ];
    const remediation: Remediation = {
      text: found.some((x) => x.status === 'fail')
        ? LOOP_FIX
        : "keep at most 3 nameservers and a short search list in the file; remove a wildcard domain from the hosts' search list (resolvconf_mode/searchdomains)",
      safe: false,
    };
    const lead = found.find((x) => x.status === worst)!.text;
    return [
      emit(id, host, worst, found.length > 1 ? `${lead} (and ${found.length - 1} more)` : lead, evidence, remediation),
    ];
  },
});
