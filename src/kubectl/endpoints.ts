// CoreDNS endpoint discovery, the way Kubespray itself talks to the cluster
// ({{ bin_dir }}/kubectl --kubeconfig {{ kube_config_dir }}/admin.conf): discovery.k8s.io/v1
// EndpointSlices of the coredns service first (v1 Endpoints is deprecated since Kubernetes 1.33
// and may be gone), v1 Endpoints when the slices give no address. One command; warnings kubectl
// prints on stderr are not errors.
import type { ClusterModel, Endpoint, ExecResult, Parsed } from '../types.js';
import { shJoin } from '../transport/quote.js';
import { isIP } from '../inventory/validate.js';
import { splitSections } from '../collect/sections.js';
import { firstLine } from '../errors.js';

/** Kubespray's own kubectl and its admin kubeconfig on a control-plane node. */
export const kubectlArgv = (c: ClusterModel): string[] => [
  `${c.binDir}/kubectl`,
  '--kubeconfig',
  `${c.kubeConfigDir}/admin.conf`,
];

export function endpointsCommand(c: ClusterModel): string {
  const k = [...kubectlArgv(c), '-n', 'kube-system'];
  const slices = shJoin([
    ...k,
    'get',
    'endpointslices',
    '-l',
    'kubernetes.io/service-name=coredns',
    '-o',
    'json',
    '--request-timeout=20s',
  ]);
  const eps = shJoin([...k, 'get', 'endpoints', 'coredns', '-o', 'json', '--request-timeout=20s']);
  return [
    `s=$(${slices}); rc=$?`,
    'echo @@slices; printf \'%s\\n\' "$s"; echo "@@rc $rc"',
    // no address in any slice (an API without slices, or none mirrored): ask v1 Endpoints
    `case "$s" in *'"addresses"'*) ;; *) echo @@endpoints; ${eps}; echo "@@rc $?";; esac`,
  ].join('\n');
}

interface RawAddr {
  ip?: unknown;
  nodeName?: unknown;
  targetRef?: { name?: unknown };
}
interface RawSubset {
  addresses?: RawAddr[];
  notReadyAddresses?: RawAddr[];
  ports?: { name?: unknown; port?: unknown; protocol?: unknown }[];
}

function json(text: string, what: string): { v: Record<string, unknown> } | { parseError: string } {
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return { parseError: `${what}: not a JSON object` };
    return { v: v as Record<string, unknown> };
  } catch {
    return { parseError: `${what}: output is not JSON ("${text.trim().slice(0, 60)}")` };
  }
}

function dnsPort(ports: unknown): number {
  const list = Array.isArray(ports) ? (ports as { name?: unknown; port?: unknown; protocol?: unknown }[]) : [];
  const p =
    list.find((x) => x.protocol === 'TCP' && x.name === 'dns-tcp') ??
    list.find((x) => x.protocol === 'TCP') ??
    list.find((x) => x.name === 'dns') ??
    list[0];
  return typeof p?.port === 'number' ? p.port : 53;
}

/** `kubectl get endpoints coredns -o json` -> endpoints (ready and not-ready addresses). */
export function parseEndpoints(text: string): Parsed<Endpoint[]> {
  const j = json(text, 'kubectl get endpoints');
  if ('parseError' in j) return j;
  const v = j.v;
  if (v.kind !== undefined && v.kind !== 'Endpoints')
    return { parseError: 'kubectl get endpoints: not an Endpoints object' };
  const subsets = Array.isArray(v.subsets) ? (v.subsets as RawSubset[]) : [];
  const out: Endpoint[] = [];
  for (const s of subsets) {
    const port = dnsPort(s.ports);
    const add = (list: RawAddr[] | undefined, ready: boolean) => {
      for (const a of Array.isArray(list) ? list : []) {
        if (typeof a.ip !== 'string' || !isIP(a.ip)) continue;
        if (out.some((e) => e.ip === a.ip)) continue;
        out.push({
          ip: a.ip,
          port,
          nodeName: typeof a.nodeName === 'string' ? a.nodeName : null,
          podName: typeof a.targetRef?.name === 'string' ? a.targetRef.name : null,
          ready,
        });
      }
    };
    add(s.addresses, true);
    add(s.notReadyAddresses, false);
  }
  return out;
}

interface RawSliceEndpoint {
  addresses?: unknown;
  conditions?: { ready?: unknown; serving?: unknown; terminating?: unknown };
  nodeName?: unknown;
  targetRef?: { name?: unknown };
}

/** `kubectl get endpointslices -l kubernetes.io/service-name=coredns -o json` -> endpoints.
 *  Conditions as the API defines them: `ready`/`serving` unset means true; an endpoint that is
 *  neither ready nor serving (a terminating pod) is left out; one serving but not ready is kept,
 *  marked not ready. FQDN slices are ignored. */
export function parseEndpointSlices(text: string): Parsed<Endpoint[]> {
  const j = json(text, 'kubectl get endpointslices');
  if ('parseError' in j) return j;
  const v = j.v;
  if (v.kind !== undefined && v.kind !== 'List' && v.kind !== 'EndpointSliceList')
    return { parseError: 'kubectl get endpointslices: not a list' };
  const items = Array.isArray(v.items) ? (v.items as Record<string, unknown>[]) : [];
  const out: Endpoint[] = [];
  for (const it of items) {
    if (!it || typeof it !== 'object') continue;
    if (it.addressType !== undefined && it.addressType !== 'IPv4' && it.addressType !== 'IPv6') continue;
    const port = dnsPort(it.ports);
    for (const e of Array.isArray(it.endpoints) ? (it.endpoints as RawSliceEndpoint[]) : []) {
      const ready = e.conditions?.ready !== false;
      const serving = e.conditions?.serving !== false;
      if (!ready && !serving) continue;
      for (const ip of Array.isArray(e.addresses) ? e.addresses : []) {
        if (typeof ip !== 'string' || !isIP(ip) || out.some((x) => x.ip === ip)) continue;
        out.push({
          ip,
          port,
          nodeName: typeof e.nodeName === 'string' ? e.nodeName : null,
          podName: typeof e.targetRef?.name === 'string' ? e.targetRef.name : null,
          ready,
        });
      }
    }
  }
  return out;
}

/** The outcome of endpointsCommand() on one node: a list, which API gave it, kubectl's warnings;
 *  or why there is none. */
export function parseEndpointLookup(
  r: ExecResult,
):
  | { endpoints: Endpoint[]; source: 'endpointslices' | 'endpoints'; warnings: string[] }
  | { error: string; warnings: string[] } {
  const lines = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const warnings = lines.filter((l) => /^warning:/i.test(l)).map((l) => l.slice(0, 200));
  const errors = lines.filter((l) => !/^warning:/i.test(l));
  const sections = splitSections(r.stdout);
  const slices = sections.find((s) => s.name === 'slices');
  const eps = sections.find((s) => s.name === 'endpoints');
  let sliceList: Endpoint[] | null = null;
  let why = '';
  if (slices && slices.code === 0) {
    const p = parseEndpointSlices(slices.body);
    if ('parseError' in p) why = p.parseError;
    else sliceList = p;
  } else if (slices)
    why = `kubectl get endpointslices exited ${slices.code}${errors[0] ? `: ${firstLine(errors[0])}` : ''}`;
  if (sliceList?.length) return { endpoints: sliceList, source: 'endpointslices', warnings };
  if (eps && eps.code === 0) {
    const p = parseEndpoints(eps.body);
    if ('parseError' in p) return { error: p.parseError, warnings };
    return { endpoints: p, source: 'endpoints', warnings };
  }
  if (eps) {
    const err = errors.filter((l) => !why.includes(l)).pop() ?? errors[errors.length - 1] ?? '';
    // slices answered with an empty list and Endpoints is gone: there are no endpoints
    if (sliceList) return { endpoints: [], source: 'endpointslices', warnings };
    return { error: `kubectl exited ${eps.code}: ${firstLine(err)}${why ? ` (${why})` : ''}`, warnings };
  }
  if (sliceList) return { endpoints: sliceList, source: 'endpointslices', warnings };
  return {
    error: why || `kubectl printed nothing (exit ${r.code})${errors[0] ? `: ${firstLine(errors[0])}` : ''}`,
    warnings,
  };
}
