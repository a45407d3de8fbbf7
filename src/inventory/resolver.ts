// The inventory's DNS settings the resolver chain depends on: where CoreDNS and NodeLocalDNS forward
// names they do not serve (upstream_dns_servers, else the kubelet's resolvConf file), how Kubespray
// manages the nodes' resolv.conf (resolvconf_mode, searchdomains), and node-cache's extra zones
// (nodelocaldns_external_zones). Every address and domain is validated here: they become DNS probes.
import { InventoryError } from '../errors.js';
import type { ResolverSettings } from '../types.js';
import { isDomainName, isIP } from './validate.js';
import { Unresolvable, type VarResolver } from './jinja.js';

function get(r: VarResolver, name: string): unknown {
  try {
    return r.get(name);
  } catch (e) {
    if (e instanceof Unresolvable) return undefined;
    throw e;
  }
}

/** A list variable: a YAML list, a comma-separated string, or unset (empty). */
function list(r: VarResolver, name: string): string[] {
  const v = get(r, name);
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v)) return v.filter((x) => x !== null && x !== undefined && x !== '').map((x) => String(x).trim());
  if (typeof v === 'string')
    return v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  throw new InventoryError(`${name} must be a list, got ${JSON.stringify(v).slice(0, 60)}`);
}

function word(r: VarResolver, name: string, fallback: string): string {
  const v = get(r, name);
  if (v === undefined || v === null) return fallback;
  const s = String(v).trim();
  if (!/^[a-z0-9_-]*$/i.test(s)) throw new InventoryError(`${name} "${s.slice(0, 40)}" is not a mode name`);
  return s;
}

/** "1.1.1.1", "1.1.1.1:53" or "[fd00::1]:53" -> the address, or null. */
export function serverAddress(s: string): string | null {
  const v6 = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(s);
  if (v6) return isIP(v6[1]!) ? v6[1]! : null;
  if (isIP(s)) return s;
  const m = /^([0-9.]+):\d{1,5}$/.exec(s);
  return m && isIP(m[1]!) ? m[1]! : null;
}

export function resolverSettings(r: VarResolver): ResolverSettings {
  const upstreamDnsServers = list(r, 'upstream_dns_servers');
  for (const s of upstreamDnsServers)
    if (!isIP(s)) throw new InventoryError(`upstream_dns_servers: "${s.slice(0, 60)}" is not an IP address`);
  const searchdomains = list(r, 'searchdomains').map((d) => d.replace(/\.$/, ''));
  for (const d of searchdomains)
    if (!isDomainName(d)) throw new InventoryError(`searchdomains: "${d.slice(0, 60)}" is not a domain name`);
  const zonesVar = get(r, 'nodelocaldns_external_zones');
  const externalZones: ResolverSettings['externalZones'] = [];
  if (zonesVar !== undefined && zonesVar !== null && zonesVar !== '') {
    if (!Array.isArray(zonesVar)) throw new InventoryError('nodelocaldns_external_zones must be a list');
    for (const b of zonesVar) {
      const o = (b && typeof b === 'object' ? b : {}) as { zones?: unknown; nameservers?: unknown };
      const zones = Array.isArray(o.zones) ? o.zones.map((z) => String(z)) : [];
      const nameservers = Array.isArray(o.nameservers) ? o.nameservers.map((z) => String(z)) : [];
      for (const n of nameservers)
        if (!serverAddress(n))
          throw new InventoryError(`nodelocaldns_external_zones: nameserver "${n.slice(0, 60)}" is not an address`);
      externalZones.push({ zones, nameservers });
    }
  }
  return {
    upstreamDnsServers,
    resolvconfMode: word(r, 'resolvconf_mode', 'host_resolvconf'),
    dnsMode: word(r, 'dns_mode', 'coredns'),
    searchdomains,
    externalZones,
  };
}

/** Kubespray's defaults, for a model recorded before these settings were read. */
export const DEFAULT_RESOLVER: ResolverSettings = {
  upstreamDnsServers: [],
  resolvconfMode: 'host_resolvconf',
  dnsMode: 'coredns',
  searchdomains: [],
  externalZones: [],
};
