// Is a packet's field in a match's values? Addresses (IPv4 and IPv6: plain, prefix, range), ports
// (ranges), interface names (nft's `*` and iptables' `+` wildcards). null when it cannot be told.
import type { Value } from './model.js';
import { isIPv4, isIPv6 } from '../inventory/validate.js';

function v6ToBig(s: string): bigint | null {
  if (!isIPv6(s)) return null;
  let text = s;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const n = v4ToBig(tail[1]!)!;
    text = `${text.slice(0, -tail[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const a = head ? head.split(':') : [];
  const b = rest ? rest.split(':') : [];
  const groups = rest === undefined ? a : [...a, ...Array<string>(8 - a.length - b.length).fill('0'), ...b];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}

function v4ToBig(s: string): bigint | null {
  return isIPv4(s) ? s.split('.').reduce((a, p) => a * 256n + BigInt(p), 0n) : null;
}

/** An IPv4 address as a number, or null (the common case, without BigInt). */
function v4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const p = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  return p.every((x) => x <= 255) ? ((p[0]! * 256 + p[1]!) * 256 + p[2]!) * 256 + p[3]! : null;
}

/** An address as a number with its width (32 or 128 bits), or null. */
function addr(s: string): { n: bigint; bits: number } | null {
  const v4 = v4ToBig(s);
  if (v4 !== null) return { n: v4, bits: 32 };
  const v6 = v6ToBig(s);
  return v6 === null ? null : { n: v6, bits: 128 };
}

/** Is `ip` in one address value (`198.18.0.0/15`, `198.18.0.1`, `198.18.0.1-198.18.0.9`)? null when
 *  either cannot be read; false across families. */
export function addrIn(ip: string, v: Value): boolean | null {
  // IPv4 against a prefix or an address: plain numbers
  if (typeof v === 'string' && !v.includes('-')) {
    const ip4 = v4(ip);
    if (ip4 !== null) {
      const slash = v.indexOf('/');
      const net = v4(slash < 0 ? v : v.slice(0, slash));
      const len = slash < 0 ? 32 : Number(v.slice(slash + 1));
      if (net !== null && Number.isInteger(len) && len >= 0 && len <= 32) {
        const size = 2 ** (32 - len);
        return Math.floor(ip4 / size) === Math.floor(net / size);
      }
      if (!v.includes(':')) return null;
      return false;
    }
  }
  const a = addr(ip);
  if (!a) return null;
  if (typeof v === 'object' && 'prefix' in v) {
    const net = addr(v.prefix[0]);
    if (!net) return null;
    if (net.bits !== a.bits) return false;
    const shift = BigInt(a.bits - v.prefix[1]);
    return a.n >> shift === net.n >> shift;
  }
  if (typeof v === 'object' && 'range' in v) {
    const lo = addr(String(v.range[0]));
    const hi = addr(String(v.range[1]));
    if (!lo || !hi) return null;
    if (lo.bits !== a.bits) return false;
    return a.n >= lo.n && a.n <= hi.n;
  }
  const s = String(v);
  if (s.includes('/')) {
    const [net, len] = s.split('/');
    if (!/^\d+$/.test(len ?? '')) return null;
    return addrIn(ip, { prefix: [net!, Number(len)] });
  }
  if (s.includes('-') && !s.includes(':')) {
    const [lo, hi] = s.split('-');
    return addrIn(ip, { range: [lo!, hi!] });
  }
  const b = addr(s);
  if (!b) return null;
  return b.bits === a.bits && b.n === a.n;
}

/** The family of an address value (4 or 6), null when unreadable. */
export function addrFamily(v: Value): 4 | 6 | null {
  const s = typeof v === 'object' ? String('prefix' in v ? v.prefix[0] : v.range[0]) : String(v).split(/[/-]/)[0]!;
  return isIPv4(s) ? 4 : isIPv6(s) ? 6 : null;
}

/** Is the interface name in a pattern (`cali*`, iptables' `cali+`, or exact)? */
export function ifnameIn(name: string, pattern: string): boolean {
  if (pattern.endsWith('*') || pattern.endsWith('+')) return name.startsWith(pattern.slice(0, -1));
  return name === pattern;
}

/** Port ranges of an iptables port spec (`53`, `1:1024`, multiport `53,853`), null when unreadable. */
export function parsePortSpec(spec: string): [number, number][] | null {
  const out: [number, number][] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d*)(?::(\d*))?$/.exec(part);
    if (!m || (!m[1] && m[2] === undefined)) return null;
    const lo = m[1] ? Number(m[1]) : 0;
    const hi = m[2] === undefined ? lo : m[2] ? Number(m[2]) : 65535;
    out.push([lo, hi]);
  }
  return out;
}
