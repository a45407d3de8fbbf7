// Types shared across the pipeline. The report types are the public JSON report (schemaVersion 1,
// docs/reports.md); everything else is the internal data flow:
// inventory -> targets -> transport -> collect -> checks + probes -> diagnose -> report.

// ---------------------------------------------------------------- report (public, schemaVersion 1)

export type Status = 'pass' | 'warn' | 'fail' | 'error' | 'skip';

export interface ClusterSummary {
  dnsDomain: string;
  nodelocaldnsIp: string | null; // null when enable_nodelocaldns is false
  corednsIp: string;
  networkPlugin: string;
  calicoBackend: string | null; // null when the plugin is not calico
  kubeProxyMode: string;
}

export interface HostReport {
  name: string;
  address: string;
  inspected: boolean;
  error: string | null;
}

export interface CheckResult {
  check: string; // stable check id, e.g. "nodelocaldns.iptables" (src/checks/registry.ts)
  host: string;
  status: Status;
  summary: string;
  evidence: Record<string, unknown>;
  // extension: what to do about a warn/fail (JUnit uses its text as the failure message)
  remediation?: Remediation;
}

/** A remediation as data (kube-bench style): prose for people; argv and hosts when it is one
 *  command that can be run as is; `safe` when --fix may run it by itself (reversible, local to a
 *  node, nothing else touched). */
export interface Remediation {
  text: string;
  argv?: string[];
  hosts?: string[];
  safe: boolean;
}

export type ProbeRole = 'nodelocaldns' | 'coredns-service' | 'coredns-endpoint';
export type Transport = 'udp' | 'tcp';

export interface ProbeResult {
  host: string;
  server: string;
  role: ProbeRole;
  transport: Transport;
  name: string;
  type: string; // 'A' | 'PTR' | ...
  sent: number;
  answered: number; // replies that parsed, matched id+question (any rcode)
  rcodes: Record<string, number>; // e.g. {NOERROR: 5}
  latencyMs: { p50: number | null; max: number | null };
  // additions a consumer may ignore: why unanswered probes failed
  errors?: Record<string, number>; // e.g. {timeout: 2, refused: 1, 'bad-id': 1}
  endpointHost?: string | null; // node hosting the endpoint, when known
  ok?: number; // answers that were NOERROR with records of the asked type
  internal?: boolean; // a cluster name (must resolve) vs an external one (warns only)
  // where the query started — the node's own network namespace, or a pod's on that node
  from?: 'host' | 'pod';
  netns?: string | null; // from a pod: its network namespace's name (cni-…), null when unnamed
  podIp?: string; // from a pod: its address
}

export type Severity = 'fail' | 'warn';

export interface Diagnosis {
  id: string; // stable id, see src/diagnose/ and the README's diagnoses table
  severity: Severity;
  hosts: string[];
  summary: string;
  evidence: string[];
  /** the remediations' text, one line each (schemaVersion 1) */
  fix: string[];
  // extension: the same remediations as data; --fix runs the safe ones that carry argv and hosts
  remediations: Remediation[];
}

export interface ReportSummary {
  pass: number;
  warn: number;
  fail: number;
  error: number;
  skip: number;
  exitCode: number;
}

export interface Report {
  schemaVersion: 1;
  tool: { name: 'kubespray-validate'; version: string };
  startedAt: string;
  durationMs: number;
  cluster: ClusterSummary;
  hosts: HostReport[];
  results: CheckResult[];
  probes: ProbeResult[];
  diagnoses: Diagnosis[];
  summary: ReportSummary;
  // extension, present only with --fix: what was applied, and the first pass's report.
  // The top level is then the SECOND pass (after the fixes), so gates read the final state.
  fix?: FixOutcome;
  // extension: present when SIGINT/SIGTERM cut the run short; unfinished hosts are marked so
  interrupted?: string;
  // present only with --baseline: what changed since an earlier report (src/compare/)
  comparison?: Comparison;
}

export interface FixOutcome {
  applied: { host: string; diagnosis: string; command: string; ok: boolean; output: string }[];
  // (the first pass; `applied` lists every safe remediation run, with its outcome)
  before: Omit<Report, 'fix'>;
}

// ---------------------------------------------------------------- comparison (public: --baseline and diff)

export type ChangeKind = 'check' | 'diagnosis' | 'host' | 'latency' | 'probe';

/** One DNS path: who asked whom what, over which transport. */
export interface ComparisonPath {
  role: ProbeRole;
  transport: Transport;
  /** the server asked; '*' when CoreDNS endpoints changed between the runs and a node's
   *  endpoint paths are compared together */
  server: string;
  name: string;
  type: string;
  /** the queries started in a pod's network namespace on the node (absent: the node's own) */
  from?: 'pod';
}

export interface Change {
  kind: ChangeKind;
  /** the node it is about; absent for cluster-wide changes */
  host?: string;
  /** check id (`check`, and `dns.<role>.<transport>` for `probe`/`latency`), diagnosis id
   *  (`diagnosis`), `ssh.reachable` (`host`) */
  id: string;
  /** check: status (overlay.offload: "on"/"off"); diagnosis: severity, null when not named;
   *  host: "inspected"/"not inspected"; probe: share of good answers 0..1; latency: p50 in ms */
  before: string | number | null;
  after: string | number | null;
  summary: string;
  /** extension: the DNS path of a `probe` or `latency` change */
  path?: ComparisonPath;
}

export interface Thresholds {
  /** p50 must grow by this factor … */
  latencyFactor: number;
  /** … and by at least this many milliseconds to count as a latency regression */
  latencyIncreaseMs: number;
}

export interface Comparison {
  baseline: { startedAt: string; version: string };
  regressions: Change[];
  resolved: Change[];
  // extensions (a consumer may ignore them)
  /** hosts in only one of the two reports: reported, never regressions */
  hosts: { added: string[]; removed: string[] };
  /** how much was compared: hosts in both reports, checks and DNS paths found in both */
  compared: { hosts: number; checks: number; paths: number; diagnoses: number };
  /** one line each: what could not be compared and why (hosts not inspected on one side, an
   *  interrupted run, checks or DNS paths in only one report, another tool version, a baseline
   *  from another cluster), and what was compared in a way worth knowing */
  notes: string[];
  thresholds: Thresholds;
}

/** The exit codes (the README's table). */
export const EXIT = { ok: 0, failed: 1, usage: 2, uninspected: 3 } as const;

// ---------------------------------------------------------------- inventory

export type Vars = Record<string, unknown>;

/** The resolved inventory, the same content `ansible-inventory --list` prints. */
export interface Inventory {
  /** every group, including `all` and `ungrouped` */
  groups: Record<string, { hosts: string[]; children: string[]; vars: Vars }>;
  /** fully merged variables per host (Ansible precedence, -e applied) */
  hostvars: Record<string, Vars>;
  /** the inventory sources as given (files or directories) */
  sources: string[];
  /** Groups Kubespray builds at run time (group_by in its boilerplate play) when the inventory
   *  lacks them: k8s_cluster from control plane + nodes + calico_rr, underscore names from the
   *  old hyphenated ones. Not part of `ansible-inventory --list`. */
  runtimeGroups: Record<string, string[]>;
  /** hostvars as a Kubespray play sees them: like `hostvars`, with the runtime groups' group_vars
   *  (e.g. group_vars/k8s_cluster/) applied at their Ansible precedence. */
  playHostvars: Record<string, Vars>;
}

/** Kubespray's view of the cluster, derived from the inventory and Kubespray's defaults. */
export interface ClusterModel {
  dnsDomain: string; // dns_domain (cluster_name)
  serviceCidr: string; // first range of kube_service_addresses
  corednsIp: string; // skydns_server: 3rd address of serviceCidr
  nodelocaldnsEnabled: boolean; // enable_nodelocaldns
  nodelocaldnsIp: string; // nodelocaldns_ip
  networkPlugin: string; // kube_network_plugin
  calicoBackend: 'vxlan' | 'bird' | 'none' | null; // calico_network_backend
  calicoVxlanMode: string | null; // calico_vxlan_mode (Always|CrossSubnet|Never)
  calicoIpipMode: string | null; // calico_ipip_mode
  calicoVxlanPort: number;
  calicoFeatureDetectOverride: string; // calico_feature_detect_override
  // The overlay's variables (src/inventory/overlay.ts). Optional: a bundle recorded before they
  // existed replays with Kubespray's defaults.
  ipv4Stack?: boolean; // ipv4_stack
  ipv6Stack?: boolean; // ipv6_stack (enable_dual_stack_networks before v2.27)
  calicoVxlanModeIpv6?: string | null; // calico_vxlan_mode_ipv6
  calicoVxlanVni?: number; // calico_vxlan_vni
  flannelBackendType?: string | null; // flannel_backend_type
  flannelVxlanVni?: number | null; // flannel_vxlan_vni
  flannelVxlanPort?: number | null; // flannel_vxlan_port
  ciliumTunnelMode?: string | null; // cilium_tunnel_mode
  podsSubnets?: string[]; // kube_pods_subnet (+ kube_pods_subnet_ipv6), where the pods' addresses are
  podInfraImage?: string | null; // pod_infra_image_repo:pod_infra_image_tag (the kubelet's pause image), when the inventory sets them
  calicoEndpointToHostAction?: string | null; // calico_endpoint_to_host_action (Felix's DefaultEndpointToHostAction)
  kubeProxyMode: string; // kube_proxy_mode
  // the DNS settings the resolver chain depends on (src/inventory/resolver.ts). Optional: a bundle
  // recorded before they existed replays with Kubespray's defaults.
  resolver?: ResolverSettings;
  binDir: string; // bin_dir
  kubeConfigDir: string; // kube_config_dir
  controlPlane: string[]; // kube_control_plane (or kube-master) host names
  nodes: string[]; // k8s_cluster hosts (what we inspect by default)
}

/** The inventory's DNS settings, Kubespray variable names in the comments. */
export interface ResolverSettings {
  upstreamDnsServers: string[]; // upstream_dns_servers
  resolvconfMode: string; // resolvconf_mode: host_resolvconf | docker_dns | none
  dnsMode: string; // dns_mode: coredns | coredns_dual | manual | none
  searchdomains: string[]; // searchdomains
  /** nodelocaldns_external_zones: zones node-cache forwards to their own nameservers */
  externalZones: { zones: string[]; nameservers: string[] }[];
}

/** One node to inspect, with everything the transport needs. */
export interface Target {
  name: string;
  address: string; // ansible_host or the name
  port: number; // ansible_port, default 22
  user: string; // ansible_user, else -u, else current user
  privateKeyFile: string | null;
  password: string | null; // ansible_password / ansible_ssh_pass (secret)
  become: boolean; // true when user is not root or ansible_become is set
  becomeMethod: string; // sudo
  becomeUser: string; // root
  becomePassword: string | null; // secret
  jump: Omit<Target, 'jump' | 'become' | 'becomeMethod' | 'becomeUser' | 'becomePassword'> | null;
  groups: string[];
}

// ---------------------------------------------------------------- transport

export type TransportErrorKind = 'unreachable' | 'auth' | 'host-key' | 'sudo' | 'timeout' | 'disconnected';

export interface ExecResult {
  code: number | null; // null when killed by a signal or timed out
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** run as root through the target's become method (default true) */
  privileged?: boolean;
  /** end the command's stdin at once (default: kept open until the command is done, see guard()) */
  closeStdin?: boolean;
  /** written to the command's stdin when it resolves (the stream stays open after it) */
  input?: Promise<string>;
  /** timeoutMs counts from when this settles (the command waits for it), bounded by maxMs */
  timeoutFrom?: Promise<unknown>;
  maxMs?: number;
  /** what the command is for (roundtrip, endpoints, fix): a recording keys its replay on it */
  label?: string;
}

/** One live connection to one node. Every collector and probe uses only this. */
export interface NodeSession {
  readonly target: Target;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): void;
}

// ---------------------------------------------------------------- collect

/** A parser never throws: it returns a value or a ParseError. */
export interface ParseError {
  parseError: string;
}
export type Parsed<T> = T | ParseError;
export function isParseError(v: unknown): v is ParseError {
  return typeof v === 'object' && v !== null && 'parseError' in v;
}

// ---------------------------------------------------------------- facts (collect -> checks, diagnose)

/** Kernel counters, flat "Proto.Name" keys as in /proc/net/snmp and /proc/net/netstat,
 *  e.g. "Tcp.InCsumErrors", "Tcp.RetransSegs", "Udp.InCsumErrors", "TcpExt.TCPTimeouts". */
export type Counters = Record<string, number>;

export interface LinkFacts {
  name: string;
  kind: string | null; // linkinfo.info_kind: vxlan, ipip, veth, bridge, ...; null for plain NICs
  up: boolean; // admin up (flags contain UP)
  operstate: string;
  mtu: number;
  parent: string | null; // the lower device: vxlan "link"/dev, or the NIC holding the default route
  addresses: string[]; // "198.18.0.10/24"
  vxlan?: { id: number | null; port: number | null; local: string | null };
}

export interface OffloadFacts {
  /** feature name -> {on, fixed}, e.g. "tx-checksumming", "rx-checksumming", "tx-checksum-ip-generic" */
  features: Record<string, { on: boolean; fixed: boolean }>;
}

export interface IptablesRule {
  backend: 'legacy' | 'nft';
  table: string; // raw, filter, nat, mangle
  chain: string;
  index: number; // position within the chain, 0-based, as printed by iptables-save
  line: string; // the normalized rule line, "-A PREROUTING -d ..."
  proto: string | null;
  src: string | null;
  dst: string | null;
  sport: string | null;
  dport: string | null;
  target: string | null; // -j
  comment: string | null;
}

/** A chain line of iptables-save (`:INPUT ACCEPT [0:0]`, `:KUBE-FIREWALL - [0:0]`): policy null for a
 *  user chain. */
export interface IptablesChainLine {
  backend: 'legacy' | 'nft';
  table: string;
  chain: string;
  policy: 'ACCEPT' | 'DROP' | null;
}

/** Everything read from one node, already parsed (one field per reader, see checks/module.ts; a
 *  check module that reads something new adds its field here by module augmentation). A source
 *  that could not be read or parsed carries its error instead; checks turn that into `error`. */
export interface NodeFacts {
  host: string;
  kernel: string | null;
  links: LinkFacts[] | ParseError;
  iptables: { backends: ('legacy' | 'nft')[]; rules: IptablesRule[]; chains?: IptablesChainLine[] } | ParseError;
  /** ethtool -k per interface name (overlay interface and its parent) */
  offload: Record<string, OffloadFacts | ParseError>;
  counters: Counters | ParseError;
}

/** A CoreDNS endpoint as listed by `kubectl get endpoints coredns -o json`. */
export interface Endpoint {
  ip: string;
  port: number; // the dns (udp) / dns-tcp port, normally 53
  nodeName: string | null;
  podName: string | null;
  ready: boolean;
}

/** What the diagnosis rules see. Pure data. */
export interface DiagnoseInput {
  cluster: ClusterModel;
  hosts: HostReport[];
  results: CheckResult[];
  probes: ProbeResult[];
  facts: Record<string, NodeFacts>; // by host name, inspected hosts only
  /** counters after minus before the probe window, by host */
  counterDeltas: Record<string, Counters>;
  endpoints: Endpoint[] | null; // null when discovery failed
  endpointError: string | null;
}
