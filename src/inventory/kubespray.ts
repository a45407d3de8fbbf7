// The Kubespray cluster model: what a Kubespray play would compute from the inventory and the
// role defaults, for the variables the validator needs.
import { InventoryError } from '../errors.js';
import type { ClusterModel, Inventory, Vars } from '../types.js';
import { groupHosts } from './load.js';
import { isSecretKey } from './listing.js';
import { isDomainName, isImageRef, isIP, isIPv4, isPort, isSafePath, nthAddress, parseCidr } from './validate.js';

// Kubespray's role defaults, from kubernetes-sigs/kubespray at 46dbdd39 (v2.31.0-96):
// roles/kubespray_defaults/defaults/main/main.yml,
// roles/network_plugin/calico_defaults/defaults/main.yml, roles/network_plugin/flannel/defaults/main.yml
// and roles/network_plugin/cilium/defaults/main.yml. Only the ones the model reads.
// Jinja defaults (skydns_server, dns_domain) are computed natively in clusterModel().
export const KUBESPRAY_DEFAULTS: Vars = {
  bin_dir: '/usr/local/bin',
  kube_config_dir: '/etc/kubernetes',
  cluster_name: 'cluster.local',
  dns_domain: '{{ cluster_name }}',
  dns_mode: 'coredns',
  upstream_dns_servers: [],
  enable_nodelocaldns: true,
  nodelocaldns_ip: '169.254.25.10',
  nodelocaldns_health_port: 9254,
  kube_network_plugin: 'calico',
  kube_proxy_mode: 'ipvs',
  kube_service_addresses: '10.233.0.0/18',
  kube_service_addresses_ipv6: 'fd85:ee78:d8a6:8607::1000/116',
  kube_pods_subnet: '10.233.64.0/18',
  kube_pods_subnet_ipv6: 'fd85:ee78:d8a6:8607::1:0000/112',
  ipv4_stack: true,
  ipv6_stack: '{{ enable_dual_stack_networks | default(false) }}',
  calico_network_backend: 'vxlan',
  calico_ipip_mode: 'Never',
  calico_vxlan_mode: 'Always',
  calico_vxlan_mode_ipv6: 'Always',
  calico_vxlan_port: 4789,
  calico_vxlan_vni: 4096,
  calico_feature_detect_override: '',
  // Kubespray's calico-node template: FELIX_DEFAULTENDPOINTTOHOSTACTION, `| default('RETURN')`
  calico_endpoint_to_host_action: 'RETURN',
  flannel_backend_type: 'vxlan',
  flannel_vxlan_vni: 1,
  flannel_vxlan_port: 8472,
  cilium_tunnel_mode: 'vxlan',
  // roles/kubespray_defaults/defaults/main/download.yml: the kubelet's sandbox (pause) image; its tag
  // (pod_infra_version) comes from a per-Kubernetes-version table: DEFAULT_POD_TAG stands in for it
  kube_image_repo: 'registry.k8s.io',
  pod_infra_image_repo: '{{ kube_image_repo }}/pause',
  pod_infra_image_tag: '{{ pod_infra_version }}',
};

/** pod_infra_supported_versions for Kubernetes 1.31–1.33 */
const DEFAULT_POD_TAG = '3.10';

const GROUP_NAMES = {
  controlPlane: ['kube_control_plane', 'kube-master'],
  nodes: ['kube_node', 'kube-node'],
  etcd: ['etcd'],
  calicoRr: ['calico_rr', 'calico-rr'],
  k8sCluster: ['k8s_cluster', 'k8s-cluster'],
};

function union(inv: Inventory, names: string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    for (const h of [...groupHosts(inv.groups, n), ...(inv.runtimeGroups[n] ?? [])]) if (!out.includes(h)) out.push(h);
  }
  return out;
}

export function kubesprayGroups(inv: Inventory): {
  controlPlane: string[];
  nodes: string[];
  etcd: string[];
  calicoRr: string[];
  k8sCluster: string[];
  bastion: string | null;
} {
  const controlPlane = union(inv, GROUP_NAMES.controlPlane);
  const nodes = union(inv, GROUP_NAMES.nodes);
  const calicoRr = union(inv, GROUP_NAMES.calicoRr);
  let k8sCluster = union(inv, GROUP_NAMES.k8sCluster);
  if (!k8sCluster.length) k8sCluster = [...new Set([...controlPlane, ...nodes, ...calicoRr])];
  const bastionGroup = groupHosts(inv.groups, 'bastion');
  const bastion = bastionGroup.includes('bastion') ? 'bastion' : (bastionGroup[0] ?? null);
  return { controlPlane, nodes, etcd: union(inv, GROUP_NAMES.etcd), calicoRr, k8sCluster, bastion };
}

/** Kubespray defaults below the host's vars as a Kubespray play sees them. */
export function effectiveHostVars(inv: Inventory, host: string): Vars {
  const v = inv.playHostvars[host] ?? inv.hostvars[host];
  if (!v) throw new InventoryError(`host "${host}" is not in the inventory`);
  return { ...KUBESPRAY_DEFAULTS, ...v };
}

// ------------------------------------------------------------------ a very small Jinja

/** Jinja the resolver cannot evaluate: `variable` holds the text, `expr` is the part at fault
 *  (as written, `{{ … }}` included); `undefinedName` is set when the cause is an undefined
 *  variable (Ansible: "'x' is undefined") rather than Jinja outside the subset. */
export class Unresolvable extends Error {
  constructor(
    readonly variable: string,
    readonly expr: string,
    readonly undefinedName: string | null = null,
  ) {
    super(expr);
  }
}

const LITERAL = /^(?:'([^']*)'|"([^"]*)"|(-?\d+(?:\.\d+)?)|(true|false|True|False)|(none|None))$/;
const IDENT = /^[A-Za-z_]\w*$/;
const FILTERS = new Set(['default', 'd', 'bool', 'int', 'string', 'lower', 'upper', 'trim']);

function literal(s: string): { ok: true; value: unknown } | { ok: false } {
  const m = LITERAL.exec(s.trim());
  if (!m) return { ok: false };
  if (m[1] !== undefined) return { ok: true, value: m[1] };
  if (m[2] !== undefined) return { ok: true, value: m[2] };
  if (m[3] !== undefined) return { ok: true, value: Number(m[3]) };
  if (m[4] !== undefined) return { ok: true, value: /^t/i.test(m[4]) };
  return { ok: true, value: null };
}

/** Split at `sep` outside quotes and parentheses. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const c of s) {
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === sep && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur.trim());
  return out;
}

/** Python's truth value, which `default(x, true)` tests. */
function pyFalsy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 0;
  if (v && typeof v === 'object') return Object.keys(v).length === 0;
  return !v;
}

/** The expression as one short line, for messages. */
export function showExpr(expr: string): string {
  const one = expr.replace(/\s+/g, ' ').trim();
  return one.length > 120 ? `${one.slice(0, 117)}...` : one;
}

/** Resolves what Kubespray inventories put in variables: `{{ var }}` (also inside text), literals,
 *  `lookup('env', 'NAME')`, the filters `default(x[, true])`/`d`, `bool`, `int`, `string`,
 *  `lower`, `upper`, `trim`. Undefined variables and anything else throw Unresolvable. */
export class VarResolver {
  private readonly stack: string[] = [];
  constructor(
    private readonly vars: Vars,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  has(name: string): boolean {
    return name in this.vars;
  }

  get(name: string): unknown {
    if (this.stack.includes(name))
      throw new InventoryError(`variable ${name} refers to itself (${[...this.stack, name].join(' -> ')})`);
    if (!(name in this.vars)) return undefined;
    this.stack.push(name);
    try {
      return this.render(this.vars[name], name);
    } finally {
      this.stack.pop();
    }
  }

  private render(v: unknown, name: string): unknown {
    if (typeof v !== 'string' || (!v.includes('{{') && !v.includes('{%'))) return v;
    if (v.includes('{%')) throw new Unresolvable(name, v);
    const whole = /^\s*\{\{(.*?)\}\}\s*$/s.exec(v);
    if (whole && !whole[1]!.includes('}}')) return this.expr(whole[1]!, name);
    return v.replace(/\{\{(.*?)\}\}/gs, (_m, e: string) => {
      const r = this.expr(e, name);
      return r === null || r === undefined ? '' : typeof r === 'object' ? JSON.stringify(r) : String(r);
    });
  }

  /** A filter's argument or the head of an expression: a literal, a variable or an env lookup. */
  private operand(s: string, name: string, whole: string): unknown {
    const lit = literal(s);
    if (lit.ok) return lit.value;
    if (IDENT.test(s)) {
      if (!(s in this.vars)) throw new Unresolvable(name, whole, s);
      return this.get(s);
    }
    const lookup = /^lookup\s*\((.*)\)$/s.exec(s);
    if (lookup) {
      const [plugin, ...terms] = splitTop(lookup[1]!, ',');
      const p = literal(plugin ?? '');
      if (p.ok && p.value === 'env' && terms.length && terms.every((x) => literal(x).ok || IDENT.test(x))) {
        // ansible.builtin.env: an unset variable is '' (its `default`), several terms are joined with ','
        return terms.map((x) => this.env[String(this.operand(x, name, whole))] ?? '').join(',');
      }
    }
    throw new Unresolvable(name, whole);
  }

  private expr(e: string, name: string): unknown {
    const whole = `{{${e}}}`;
    const [head, ...filters] = splitTop(e, '|');
    const parsed = filters.map((f) => {
      const m = /^([A-Za-z_]\w*)\s*(?:\((.*)\))?$/s.exec(f);
      if (!m || !FILTERS.has(m[1]!) || (m[2] !== undefined && !/^(default|d)$/.test(m[1]!)))
        throw new Unresolvable(name, whole);
      return { name: m[1]!, args: m[2] === undefined || !m[2].trim() ? [] : splitTop(m[2], ',') };
    });
    if (!head) throw new Unresolvable(name, whole);
    // An undefined variable, here or in what it refers to, is undefined to default() as in Ansible.
    const st: { value: unknown; undef: Unresolvable | null } = { value: undefined, undef: null };
    const attempt = (s: string) => {
      try {
        st.value = this.operand(s, name, whole);
        st.undef = null;
      } catch (x) {
        if (!(x instanceof Unresolvable) || x.undefinedName === null) throw x;
        st.undef = x;
      }
    };
    attempt(head);
    for (const f of parsed) {
      if (f.name === 'default' || f.name === 'd') {
        const boolean =
          f.args[1] !== undefined && literal(f.args[1]).ok && (literal(f.args[1]) as { value: unknown }).value === true;
        if (st.undef || (boolean && pyFalsy(st.value))) attempt(f.args[0] ?? "''");
        continue;
      }
      if (st.undef) throw st.undef;
      const v = st.value;
      if (f.name === 'bool')
        st.value = typeof v === 'string' ? /^(true|yes|on|1|y|t)$/i.test(v.trim()) : v === 1 || v === true;
      else if (f.name === 'int') st.value = Number.parseInt(String(v), 10) || 0;
      else if (f.name === 'string') st.value = v === undefined || v === null ? '' : String(v);
      else if (f.name === 'lower') st.value = String(v).toLowerCase();
      else if (f.name === 'upper') st.value = String(v).toUpperCase();
      else if (f.name === 'trim') st.value = String(v).trim();
    }
    if (st.undef) throw st.undef;
    return st.value;
  }
}

/** One line saying why `top` cannot be evaluated; a secret's expression is not shown. */
export function explainUnresolvable(e: Unresolvable, top: string): string {
  const where = e.variable !== top ? ` (in ${e.variable})` : '';
  const secret = isSecretKey(top) || isSecretKey(e.variable);
  if (e.undefinedName !== null)
    return `${top}: ${e.undefinedName} is undefined${secret ? '' : ` in "${showExpr(e.expr)}"`}${where}`;
  if (secret) return `${top}: its value is Jinja this tool does not evaluate${where} (not shown: a secret)`;
  return `${top}: "${showExpr(e.expr)}"${where} is Jinja this tool does not evaluate (it evaluates variables, default(), bool, int, string, lower, upper, trim and lookup('env', …))`;
}

function need(r: VarResolver, name: string): unknown {
  try {
    return r.get(name);
  } catch (e) {
    if (e instanceof Unresolvable)
      throw new InventoryError(`cannot evaluate ${explainUnresolvable(e, name)}; pass the value with -e ${name}=VALUE`);
    throw e;
  }
}

function str(r: VarResolver, name: string): string {
  const v = need(r, name);
  if (v === undefined || v === null) throw new InventoryError(`${name} is not set; pass it with -e ${name}=VALUE`);
  if (typeof v === 'object')
    throw new InventoryError(`${name} must be a string, not ${Array.isArray(v) ? 'a list' : 'a mapping'}`);
  return String(v);
}

function bool(r: VarResolver, name: string): boolean {
  const v = need(r, name);
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return /^(true|yes|on|1|y)$/i.test(v.trim());
  return Boolean(v);
}

function port(r: VarResolver, name: string): number {
  const v = need(r, name);
  if (!isPort(v)) throw new InventoryError(`${name} must be a port number 1-65535, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** kube_pods_subnet (and the IPv6 one when ipv6_stack): where the pods' addresses are. Read leniently
 *  — only the pod-namespace counters use them, and a value this tool cannot evaluate leaves them
 *  unread (the evidence then says so) instead of stopping the run. */
function podsSubnets(r: VarResolver, ipv4: boolean, ipv6: boolean): string[] {
  const out: string[] = [];
  for (const [on, n] of [
    [ipv4, 'kube_pods_subnet'],
    [ipv6, 'kube_pods_subnet_ipv6'],
  ] as const) {
    if (!on) continue;
    let v: unknown;
    try {
      v = r.get(n);
    } catch (e) {
      if (e instanceof Unresolvable || e instanceof InventoryError) continue;
      throw e;
    }
    for (const part of typeof v === 'string' ? v.split(',') : []) {
      const c = parseCidr(part.trim());
      if (c) out.push(`${c.address}/${c.prefix}`);
    }
  }
  return out;
}

/** The pause image (pod_infra_image_repo:pod_infra_image_tag) where the inventory sets it in a form
 *  this resolves (Kubespray's own default picks the tag from a per-Kubernetes-version table). */
function podInfraImage(r: VarResolver): string | null {
  try {
    const repo = r.get('pod_infra_image_repo');
    let tag: unknown = DEFAULT_POD_TAG;
    try {
      tag = r.get('pod_infra_image_tag');
    } catch (e) {
      if (!(e instanceof Unresolvable || e instanceof InventoryError)) throw e;
    }
    if (typeof repo !== 'string' || (typeof tag !== 'string' && typeof tag !== 'number')) return null;
    const image = `${repo}:${String(tag)}`;
    return isImageRef(image) ? image : null;
  } catch (e) {
    if (e instanceof Unresolvable || e instanceof InventoryError) return null;
    throw e;
  }
}

export function clusterModel(inv: Inventory, hosts?: string[]): ClusterModel {
  const g = kubesprayGroups(inv);
  const ref = g.controlPlane[0] ?? hosts?.[0] ?? g.k8sCluster[0];
  if (!ref) throw new InventoryError('the inventory has no kube_control_plane, kube_node or k8s_cluster hosts');
  const r = new VarResolver(effectiveHostVars(inv, ref));

  const dnsDomain = str(r, 'dns_domain').replace(/\.$/, '');
  if (!isDomainName(dnsDomain))
    throw new InventoryError(`dns_domain/cluster_name "${dnsDomain}" is not a valid domain name`);

  const ipv4 = bool(r, 'ipv4_stack');
  const svcVar = ipv4 ? 'kube_service_addresses' : 'kube_service_addresses_ipv6';
  const serviceCidr = str(r, svcVar).split(',')[0]!.trim();
  const cidr = parseCidr(serviceCidr);
  if (!cidr) throw new InventoryError(`${svcVar} "${serviceCidr}" is not a valid CIDR`);
  let corednsIp: string;
  // Kubespray's own skydns_server is an ipaddr() expression: left as Jinja, it is computed below
  let sky: unknown;
  try {
    sky = r.get('skydns_server');
  } catch (e) {
    if (!(e instanceof Unresolvable)) throw e;
  }
  if (typeof sky === 'string' && sky) {
    if (!isIP(sky)) throw new InventoryError(`skydns_server "${sky}" is not an IP address`);
    corednsIp = sky;
  } else {
    const third = nthAddress(cidr, 3);
    if (!third)
      throw new InventoryError(
        `${svcVar} ${serviceCidr}: cannot compute the CoreDNS address (IPv6-only service ranges need -e skydns_server=ADDRESS)`,
      );
    corednsIp = third;
  }

  const nodelocaldnsEnabled = bool(r, 'enable_nodelocaldns');
  const nodelocaldnsIp = str(r, 'nodelocaldns_ip');
  if (!isIPv4(nodelocaldnsIp)) throw new InventoryError(`nodelocaldns_ip "${nodelocaldnsIp}" is not an IPv4 address`);

  const networkPlugin = str(r, 'kube_network_plugin');
  if (!/^[a-z0-9-]+$/.test(networkPlugin))
    throw new InventoryError(`kube_network_plugin "${networkPlugin}" is not a plugin name`);
  const calico = networkPlugin === 'calico';
  const backend = calico ? str(r, 'calico_network_backend') : null;
  if (backend !== null && !['vxlan', 'bird', 'none'].includes(backend))
    throw new InventoryError(`calico_network_backend must be vxlan, bird or none, got "${backend}"`);

  const binDir = str(r, 'bin_dir');
  if (!isSafePath(binDir))
    throw new InventoryError(
      `bin_dir "${binDir.slice(0, 80)}" must be an absolute path without spaces or shell characters`,
    );
  const kubeConfigDir = str(r, 'kube_config_dir');
  if (!isSafePath(kubeConfigDir))
    throw new InventoryError(
      `kube_config_dir "${kubeConfigDir.slice(0, 80)}" must be an absolute path without spaces or shell characters`,
    );

  const mode = (n: string) => {
    const v = str(r, n);
    if (!['Always', 'CrossSubnet', 'Never'].includes(v))
      throw new InventoryError(`${n} must be Always, CrossSubnet or Never, got "${v}"`);
    return v;
  };
  const kubeProxyMode = str(r, 'kube_proxy_mode');
  if (!/^[a-z]+$/.test(kubeProxyMode))
    throw new InventoryError(`kube_proxy_mode "${kubeProxyMode}" is not a mode name`);
  const fdo = str(r, 'calico_feature_detect_override');
  const ipv6Stack = bool(r, 'ipv6_stack');
  const flannel = networkPlugin === 'flannel';
  const cilium = networkPlugin === 'cilium';
  const int = (n: string, min: number, max: number) => {
    const v = need(r, n);
    const x = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max)
      throw new InventoryError(`${n} must be a whole number ${min}-${max}, got ${JSON.stringify(v)}`);
    return x;
  };
  const word = (n: string) => {
    const v = str(r, n).trim();
    if (!/^[a-z0-9-]*$/i.test(v)) throw new InventoryError(`${n} "${v.slice(0, 40)}" is not a mode name`);
    return v;
  };

  return {
    dnsDomain,
    serviceCidr,
    corednsIp,
    nodelocaldnsEnabled,
    nodelocaldnsIp,
    networkPlugin,
    calicoBackend: backend as ClusterModel['calicoBackend'],
    calicoVxlanMode: calico ? mode('calico_vxlan_mode') : null,
    calicoIpipMode: calico ? mode('calico_ipip_mode') : null,
    calicoVxlanPort: port(r, 'calico_vxlan_port'),
    calicoFeatureDetectOverride: fdo,
    ipv4Stack: ipv4,
    ipv6Stack,
    calicoVxlanModeIpv6: calico && ipv6Stack ? mode('calico_vxlan_mode_ipv6') : null,
    calicoVxlanVni: calico ? int('calico_vxlan_vni', 0, 16777215) : undefined,
    flannelBackendType: flannel ? word('flannel_backend_type') : null,
    flannelVxlanVni: flannel ? int('flannel_vxlan_vni', 0, 16777215) : null,
    flannelVxlanPort: flannel ? port(r, 'flannel_vxlan_port') : null,
    ciliumTunnelMode: cilium ? word('cilium_tunnel_mode') : null,
    podsSubnets: podsSubnets(r, ipv4, ipv6Stack),
    podInfraImage: podInfraImage(r),
    calicoEndpointToHostAction: calico ? word('calico_endpoint_to_host_action').toUpperCase() : null,
    kubeProxyMode,
    binDir,
    kubeConfigDir,
    controlPlane: g.controlPlane,
    nodes: g.k8sCluster.filter((h) => h !== g.bastion),
  };
}
