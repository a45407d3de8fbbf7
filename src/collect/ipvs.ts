// The IPVS virtual server table, from the kernel's /proc/net/ip_vs (no ipvsadm needed; hex
// addresses and ports, as net/netfilter/ipvs/ip_vs_ctl.c prints them) or from `ipvsadm -Ln`
// (dotted addresses; `-L` without -n prints service names such as :domain). Both become the same
// model: virtual services (protocol, address, port, scheduler, persistence) and their real servers
// (address, port, forwarding method, weight, ActiveConn, InActConn). kube-proxy in IPVS mode keeps
// the CoreDNS service here — UDP and TCP <skydns_server>:53 — with one real server per CoreDNS
// endpoint; a server at weight 0 is one kube-proxy is draining (graceful termination). Pure; never
// throws.
import type { Parsed } from '../types.js';

export interface IpvsRealServer {
  address: string;
  port: number;
  /** Masq (NAT), Local, Tunnel, Route (direct routing) */
  forward: string;
  weight: number;
  activeConn: number;
  inactConn: number;
  /** 1-based line in the output */
  line: number;
}

export interface IpvsService {
  /** TCP, UDP, SCTP, or FWM for a firewall-mark service */
  protocol: string;
  /** null for FWM services */
  address: string | null;
  port: number | null;
  /** the mark of an FWM service */
  fwmark: number | null;
  scheduler: string;
  /** words after the scheduler other than persistence: "ops", flags */
  flags: string[];
  persistent: { timeoutSec: number; netmask: string | null } | null;
  realServers: IpvsRealServer[];
  line: number;
}

export interface IpvsTable {
  /** "1.2.1" from the header, null when the header is missing */
  version: string | null;
  /** the connection hash table size from the header */
  size: number | null;
  services: IpvsService[];
  /** where it was read from */
  source: 'proc' | 'ipvsadm';
}

/** IPv6 text in its canonical compressed form (the kernel's %pI6 prints every group). */
export function canonicalIp(a: string): string {
  const s = a.replace(/^\[|\]$/g, '');
  if (!s.includes(':')) return s;
  try {
    return new URL(`http://[${s}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return s.toLowerCase();
  }
}

function hexIpv4(h: string): string | null {
  if (!/^[0-9A-Fa-f]{8}$/.test(h)) return null;
  const n = parseInt(h, 16);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** "0AE90003:0035" or "[fd00:…:000a]:0035" (hex port) -> address and port. */
function procEndpoint(s: string): { address: string; port: number } | null {
  const v6 = /^\[([0-9a-fA-F:]+)\]:([0-9A-Fa-f]{4})$/.exec(s);
  if (v6) return { address: canonicalIp(v6[1]!), port: parseInt(v6[2]!, 16) };
  const v4 = /^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})$/.exec(s);
  if (!v4) return null;
  return { address: hexIpv4(v4[1]!)!, port: parseInt(v4[2]!, 16) };
}

/** Ports ipvsadm -L (without -n) prints by name. */
const SERVICE_PORTS: Record<string, number> = { domain: 53, http: 80, https: 443, 'dns-tcp': 53 };

/** "10.233.0.3:53", "[fd00::a]:53", "10.233.0.3:domain" -> address and port. */
function dottedEndpoint(s: string): { address: string; port: number } | null {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\S+)$/.exec(s) ?? /^([0-9.]+):(\S+)$/.exec(s);
  if (!m) return null;
  const port = /^\d+$/.test(m[2]!) ? Number(m[2]) : SERVICE_PORTS[m[2]!];
  if (port === undefined || port > 65535) return null;
  return { address: canonicalIp(m[1]!), port };
}

const HEADER = /^IP Virtual Server version (\S+) \(size=(\d+)\)/;

function parseTable(text: string, source: 'proc' | 'ipvsadm'): Parsed<IpvsTable> {
  const out: IpvsTable = { version: null, size: null, services: [], source };
  const endpoint = source === 'proc' ? procEndpoint : dottedEndpoint;
  const lines = text.split('\n');
  let sawHeader = false;
  const what = source === 'proc' ? '/proc/net/ip_vs' : 'ipvsadm -Ln';
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    const t = raw.trim();
    if (!t) continue;
    const h = HEADER.exec(t);
    if (h) {
      out.version = h[1]!;
      out.size = Number(h[2]);
      sawHeader = true;
      continue;
    }
    if (/^Prot LocalAddress:Port/.test(t) || /^-> RemoteAddress:Port/.test(t)) {
      sawHeader = true;
      continue;
    }
    const f = t.split(/\s+/);
    if (f[0] === '->') {
      const svc = out.services[out.services.length - 1];
      const ep = endpoint(f[1] ?? '');
      const nums = f.slice(3, 6).map((x) => (/^-?\d+$/.test(x) ? Number(x) : NaN));
      if (!svc || !ep || f.length < 6 || nums.some((n) => Number.isNaN(n)))
        return { parseError: `${what}: line ${i + 1} is not a real server line: "${t.slice(0, 100)}"` };
      svc.realServers.push({
        ...ep,
        forward: f[2]!,
        weight: nums[0]!,
        activeConn: nums[1]!,
        inactConn: nums[2]!,
        line: i + 1,
      });
      continue;
    }
    const proto = f[0]!;
    if (!/^(TCP|UDP|SCTP|FWM)$/.test(proto))
      return { parseError: `${what}: line ${i + 1} is not a service line: "${t.slice(0, 100)}"` };
    let address: string | null = null;
    let port: number | null = null;
    let fwmark: number | null = null;
    if (proto === 'FWM') {
      const m = f[1] ?? '';
      fwmark = source === 'proc' && /^[0-9A-Fa-f]{8}$/.test(m) ? parseInt(m, 16) : /^\d+$/.test(m) ? Number(m) : null;
      if (fwmark === null) return { parseError: `${what}: line ${i + 1}: bad firewall mark "${m.slice(0, 40)}"` };
    } else {
      const ep = endpoint(f[1] ?? '');
      if (!ep) return { parseError: `${what}: line ${i + 1}: bad service address "${(f[1] ?? '').slice(0, 60)}"` };
      address = ep.address;
      port = ep.port;
    }
    const scheduler = f[2];
    if (!scheduler) return { parseError: `${what}: line ${i + 1}: no scheduler` };
    const rest = f.slice(3);
    let persistent: IpvsService['persistent'] = null;
    const flags: string[] = [];
    for (let k = 0; k < rest.length; k++) {
      if (rest[k] === 'persistent' && /^\d+$/.test(rest[k + 1] ?? '')) {
        const mask = rest[k + 2];
        const procMask = source === 'proc' && mask && /^[0-9A-Fa-f]{8}$/.test(mask) ? hexIpv4(mask) : null;
        persistent = { timeoutSec: Number(rest[k + 1]), netmask: procMask };
        k += procMask ? 2 : 1;
      } else if (rest[k] === 'mask' && rest[k + 1] && persistent) {
        persistent.netmask = rest[k + 1]!;
        k++;
      } else flags.push(rest[k]!);
    }
    out.services.push({
      protocol: proto,
      address,
      port,
      fwmark,
      scheduler,
      flags,
      persistent,
      realServers: [],
      line: i + 1,
    });
  }
  if (!sawHeader && !out.services.length) return { parseError: `${what}: no IPVS table in the output` };
  return out;
}

/** /proc/net/ip_vs. */
export function parseProcIpVs(text: string): Parsed<IpvsTable> {
  return parseTable(text, 'proc');
}

/** `ipvsadm -Ln` (or -L). */
export function parseIpvsadmList(text: string): Parsed<IpvsTable> {
  return parseTable(text, 'ipvsadm');
}

/** The virtual service for an address, protocol and port, or null. */
export function findService(t: IpvsTable, protocol: string, address: string, port: number): IpvsService | null {
  const a = canonicalIp(address);
  return t.services.find((s) => s.protocol === protocol && s.address === a && s.port === port) ?? null;
}
