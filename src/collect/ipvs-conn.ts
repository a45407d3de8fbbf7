// The IPVS connection table: /proc/net/ip_vs_conn (hex, as net/netfilter/ipvs/ip_vs_conn.c prints
// it; kernels since 2.6.37 add the PEName/PEData columns, filled only for persistence-engine
// connections such as SIP; /proc/net/ip_vs_conn_sync has an Origin column instead) or
// `ipvsadm -Lnc` (dotted, expiry as mm:ss). Each entry is one client flow and the real server IPVS
// keeps sending it to — for UDP DNS a flow lives for the UDP timeout (300 s by default) after its
// last packet, so a client that keeps its source port keeps reaching a CoreDNS pod that is gone.
// Pure; never throws.
import type { Parsed } from '../types.js';
import { canonicalIp } from './ipvs.js';

export interface IpvsEndpoint {
  address: string;
  port: number;
}

export interface IpvsConn {
  /** TCP, UDP, SCTP, IP (a persistence template) */
  protocol: string;
  client: IpvsEndpoint;
  virtual: IpvsEndpoint;
  dest: IpvsEndpoint;
  /** ESTABLISHED, SYN_RECV, TIME_WAIT, UDP, NONE, … */
  state: string;
  expiresSec: number;
  /** persistence engine name and data (PEName/PEData columns), null when empty or absent */
  peName: string | null;
  peData: string | null;
  /** LOCAL or SYNC (ip_vs_conn_sync only) */
  origin: string | null;
  line: number;
}

export interface IpvsConnTable {
  conns: IpvsConn[];
  /** the header has the PEName/PEData columns (kernel 2.6.37+) */
  peColumns: boolean;
  source: 'proc' | 'proc-sync' | 'ipvsadm';
}

function hexIp(h: string): string | null {
  if (/^[0-9A-Fa-f]{8}$/.test(h)) {
    const n = parseInt(h, 16);
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  }
  if (h.includes(':') && /^[0-9a-fA-F:]+$/.test(h)) return canonicalIp(h);
  return null;
}

function hexPort(h: string): number | null {
  return /^[0-9A-Fa-f]{4}$/.test(h) ? parseInt(h, 16) : null;
}

/** /proc/net/ip_vs_conn or /proc/net/ip_vs_conn_sync. */
export function parseProcIpVsConn(text: string): Parsed<IpvsConnTable> {
  const lines = text.split('\n');
  const header = lines.findIndex((l) => /^Pro\s+FromIP\s+FPrt/.test(l.trim()));
  if (header < 0) return { parseError: '/proc/net/ip_vs_conn: no "Pro FromIP FPrt" header' };
  const cols = lines[header]!.trim().split(/\s+/);
  const peColumns = cols.includes('PEName');
  const sync = cols.includes('Origin');
  const out: IpvsConnTable = { conns: [], peColumns, source: sync ? 'proc-sync' : 'proc' };
  for (let i = header + 1; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (!t) continue;
    const f = t.split(/\s+/);
    const [pro, cip, cport, vip, vport, dip, dport, state] = f;
    const ips = [cip, vip, dip].map((x) => hexIp(x ?? ''));
    const ports = [cport, vport, dport].map((x) => hexPort(x ?? ''));
    const expiresAt = sync ? 9 : 8;
    const exp = f[expiresAt];
    if (!pro || !state || ips.some((x) => !x) || ports.some((x) => x === null) || !exp || !/^\d+$/.test(exp))
      return { parseError: `/proc/net/ip_vs_conn: line ${i + 1} is not a connection: "${t.slice(0, 100)}"` };
    out.conns.push({
      protocol: pro,
      client: { address: ips[0]!, port: ports[0]! },
      virtual: { address: ips[1]!, port: ports[1]! },
      dest: { address: ips[2]!, port: ports[2]! },
      state,
      expiresSec: Number(exp),
      peName: !sync ? (f[9] ?? null) : null,
      peData: !sync ? (f[10] ?? null) : null,
      origin: sync ? (f[8] ?? null) : null,
      line: i + 1,
    });
  }
  return out;
}

function dotted(s: string): IpvsEndpoint | null {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^([0-9.]+):(\d+)$/.exec(s);
  if (!m || Number(m[2]) > 65535) return null;
  return { address: canonicalIp(m[1]!), port: Number(m[2]) };
}

/** `ipvsadm -Lnc`: "pro expire state source virtual destination", expiry mm:ss. */
export function parseIpvsadmConns(text: string): Parsed<IpvsConnTable> {
  const out: IpvsConnTable = { conns: [], peColumns: false, source: 'ipvsadm' };
  const lines = text.split('\n');
  let header = false;
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (!t || /^IPVS connection entries/.test(t)) continue;
    if (/^pro\s+expire\s+state/.test(t)) {
      header = true;
      continue;
    }
    const f = t.split(/\s+/);
    const [pro, expire, state, src, vip, dst, ...pe] = f;
    const m = /^(\d+):(\d{2})$/.exec(expire ?? '');
    const eps = [src, vip, dst].map((x) => dotted(x ?? ''));
    if (!pro || !m || !state || eps.some((x) => !x))
      return { parseError: `ipvsadm -Lnc: line ${i + 1} is not a connection: "${t.slice(0, 100)}"` };
    out.conns.push({
      protocol: pro,
      client: eps[0]!,
      virtual: eps[1]!,
      dest: eps[2]!,
      state,
      expiresSec: Number(m[1]) * 60 + Number(m[2]),
      peName: pe[0] ?? null,
      peData: pe[1] ?? null,
      origin: null,
      line: i + 1,
    });
  }
  if (!header && !out.conns.length) return { parseError: 'ipvsadm -Lnc: no connection table in the output' };
  return out;
}

/** Connections to a virtual service, counted by real server address. */
export function connsByDest(t: IpvsConnTable, protocol: string, address: string, port: number): Map<string, number> {
  const a = canonicalIp(address);
  const out = new Map<string, number>();
  for (const c of t.conns) {
    if (c.protocol !== protocol || c.virtual.address !== a || c.virtual.port !== port) continue;
    out.set(c.dest.address, (out.get(c.dest.address) ?? 0) + 1);
  }
  return out;
}
