// The kubelet's configuration file as Kubespray writes it ({{ kube_config_dir }}/kubelet-config.yaml,
// from roles/kubernetes/node/templates/kubelet-config.v1beta1.yaml.j2): a KubeletConfiguration whose
// `resolvConf` ("{{ kube_resolv_conf }}": /run/systemd/resolve/resolv.conf on Ubuntu and Fedora,
// /etc/resolv.conf elsewhere) is the file pods with dnsPolicy Default — CoreDNS, NodeLocalDNS — get
// their nameservers from, and whose `clusterDNS` (NodeLocalDNS's address, else the CoreDNS service)
// is what every other pod is told to ask. Pure; never throws.
import { load, JSON_SCHEMA } from 'js-yaml';
import type { Parsed } from '../types.js';
import { firstLine } from '../errors.js';

/** The kubelet's default when the file sets no resolvConf. */
export const KUBELET_DEFAULT_RESOLV_CONF = '/etc/resolv.conf';

export interface KubeletDnsConfig {
  /** `resolvConf` as written; null when the key is absent (the kubelet then reads /etc/resolv.conf);
   *  "" when set empty (the kubelet gives Default pods no host nameservers at all) */
  resolvConf: string | null;
  /** the file the kubelet actually reads, or null when resolvConf is "" */
  effectiveResolvConf: string | null;
  clusterDNS: string[];
  clusterDomain: string | null;
  kind: string | null;
}

export function parseKubeletConfig(text: string): Parsed<KubeletDnsConfig> {
  let v: unknown;
  try {
    // JSON schema: no YAML 1.1 surprises (a clusterDNS of 010 stays text), no custom tags
    v = load(text, { schema: JSON_SCHEMA });
  } catch (e) {
    return { parseError: `kubelet config: not YAML (${firstLine((e as Error).message)})` };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { parseError: 'kubelet config: not a YAML mapping' };
  const o = v as Record<string, unknown>;
  const kind = typeof o.kind === 'string' ? o.kind : null;
  if (kind !== null && kind !== 'KubeletConfiguration')
    return { parseError: `kubelet config: kind is ${kind.slice(0, 60)}, not KubeletConfiguration` };
  const rc = o.resolvConf;
  if (rc !== undefined && rc !== null && typeof rc !== 'string')
    return { parseError: 'kubelet config: resolvConf is not a string' };
  const resolvConf = typeof rc === 'string' ? rc : null;
  const cd = o.clusterDNS;
  let clusterDNS: string[] = [];
  if (Array.isArray(cd)) clusterDNS = cd.filter((x) => x !== null && x !== undefined).map(String);
  else if (cd !== undefined && cd !== null) return { parseError: 'kubelet config: clusterDNS is not a list' };
  return {
    resolvConf,
    effectiveResolvConf: resolvConf === null ? KUBELET_DEFAULT_RESOLV_CONF : resolvConf || null,
    clusterDNS,
    clusterDomain: typeof o.clusterDomain === 'string' ? o.clusterDomain : null,
    kind,
  };
}
