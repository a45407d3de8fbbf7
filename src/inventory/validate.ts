// Validation of the values that later reach a node (addresses, names, paths). Anything that
// fails here is an inventory error (exit 2) naming the variable, before any connection is made.

export function isIPv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return !!m && m.slice(1).every((p) => Number(p) <= 255 && (p === '0' || !p.startsWith('0')));
}

export function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return false;
  const dbl = s.split('::');
  if (dbl.length > 2) return false;
  const parts = (x: string) => (x ? x.split(':') : []);
  let groups = [...parts(dbl[0]!), ...(dbl.length === 2 ? parts(dbl[1]!) : [])];
  let needed = 8;
  const last = groups[groups.length - 1];
  if (last && last.includes('.')) {
    if (!isIPv4(last)) return false;
    groups = groups.slice(0, -1);
    needed = 6;
  }
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? groups.length < needed : groups.length === needed;
}

export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

export function ipv4ToInt(s: string): number {
  return s.split('.').reduce((a, p) => a * 256 + Number(p), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

export function parseCidr(s: string): Cidr | null {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return null;
  const prefix = Number(m[2]);
  if (isIPv4(m[1]!) && prefix <= 32) return { address: m[1]!, prefix, family: 4 };
  if (isIPv6(m[1]!) && prefix <= 128) return { address: m[1]!, prefix, family: 6 };
  return null;
}

/** The n-th address of an IPv4 network (ansible.utils.ipaddr('net') | ipaddr(n)). */
export function nthAddress(c: Cidr, n: number): string | null {
  if (c.family !== 4) return null;
  const size = 2 ** (32 - c.prefix);
  if (n >= size) return null;
  const net = Math.floor(ipv4ToInt(c.address) / size) * size;
  return intToIpv4(net + n);
}

/** A DNS name as Kubespray uses for cluster_name/dns_domain: labels of letters, digits, hyphens. */
export function isDomainName(s: string): boolean {
  if (!s || s.length > 253) return false;
  return s
    .replace(/\.$/, '')
    .split('.')
    .every((l) => /^[A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

export function isPort(n: unknown): boolean {
  const v = typeof n === 'string' && /^\d+$/.test(n) ? Number(n) : n;
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/** An absolute path with no shell metacharacters, whitespace or control characters. */
export function isSafePath(s: string): boolean {
  return /^\/[A-Za-z0-9._+@/-]*$/.test(s) && !s.split('/').includes('..');
}

/** A user, host or interface name: no whitespace, quotes or shell metacharacters. */
export function isSafeName(s: string): boolean {
  return /^[A-Za-z0-9._@+-][A-Za-z0-9._@+:%-]*$/.test(s) && s.length <= 253;
}

/** A container image reference (registry/path:tag or @digest), nothing a shell or YAML could misread. */
export function isImageRef(s: string): boolean {
  return (
    s.length <= 255 &&
    /^[a-z0-9][a-z0-9._-]*(:[0-9]+)?(\/[a-z0-9._-]+)*(:[A-Za-z0-9._-]{1,128})?(@sha256:[a-f0-9]{64})?$/.test(s)
  );
}
