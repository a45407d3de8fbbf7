// The DNS wire format of the probes: the queries sent (one line per probe for the node's program,
// `<path> <probe> <server> <port> <udp|tcp> <query hex>`) and the decoding of what came back (the
// program's `R <path> <probe> <ms> <reply hex>` / `E <path> <probe> <error>` lines) into one
// ProbeResult per path. The node only moves bytes; every query is built and every answer judged here.
import dnsPacket from 'dns-packet';
import type { ProbeResult } from '../types.js';
import type { ProbePath } from './paths.js';
import { isIP, isPort } from '../inventory/validate.js';

interface Sent {
  path: number;
  probe: number;
  id: number;
}

function pct(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[i]! * 100) / 100;
}

/** Outcome of one reply: ok (NOERROR with answers), a named rcode, or a reason it does not count. */
export function judgeReply(
  bytes: Buffer,
  id: number,
  name: string,
  type: string,
): { answered: boolean; rcode?: string; good?: boolean; error?: string } {
  let msg: dnsPacket.Packet;
  try {
    msg = dnsPacket.decode(bytes);
  } catch {
    return { answered: false, error: 'garbage' };
  }
  if (msg.id !== id) return { answered: false, error: 'bad-id' };
  if (msg.type !== 'response') return { answered: false, error: 'not-a-response' };
  const q = msg.questions?.[0];
  if (!q || q.name.toLowerCase().replace(/\.$/, '') !== name.toLowerCase() || q.type !== type)
    return { answered: false, error: 'bad-question' };
  const flags = msg.flags ?? 0;
  if (flags & 0x0200) return { answered: false, error: 'truncated' };
  const rcode = (msg as { rcode?: string }).rcode ?? 'NOERROR';
  const answers = (msg.answers ?? []).filter((a) => a.type === type || a.type === 'CNAME');
  return { answered: true, rcode, good: rcode === 'NOERROR' && answers.length > 0 };
}

/** One set of probes: the paths, the ids sent, the lines the program reads, and their decoding. */
export function probeEncoder(count: number, idSeed: number | undefined) {
  const paths: ProbePath[] = [];
  const sent: Sent[] = [];
  let nextId = (idSeed ?? Math.random() * 0xffff) & 0xffff;
  const encode = (list: ProbePath[]): string[] => {
    const lines: string[] = [];
    for (const p of list) {
      if (!isIP(p.server) || !isPort(p.port)) throw new Error(`refusing to probe ${p.server}:${p.port}`);
      const i = paths.push(p) - 1;
      for (let k = 0; k < count; k++) {
        const id = (nextId = (nextId + 1) & 0xffff);
        const q = dnsPacket.encode({
          type: 'query',
          id,
          flags: dnsPacket.RECURSION_DESIRED,
          questions: [{ type: p.type, name: p.name, class: 'IN' }],
        });
        sent.push({ path: i, probe: k, id });
        lines.push(`${i} ${k} ${p.server} ${p.port} ${p.transport} ${q.toString('hex')}`);
      }
    }
    return lines;
  };
  const decode = (host: string, stdout: string, from: 'host' | 'pod' = 'host'): ProbeResult[] => {
    const bySlot = new Map(sent.map((x) => [`${x.path}:${x.probe}`, x]));
    const results: ProbeResult[] = paths.map((p) => ({
      host,
      server: p.server,
      role: p.role,
      transport: p.transport,
      name: p.name,
      type: p.type,
      sent: count,
      answered: 0,
      rcodes: {},
      latencyMs: { p50: null, max: null },
      errors: {},
      endpointHost: p.endpointHost,
      ok: 0,
      internal: p.internal,
      from,
    }));
    const lat: number[][] = paths.map(() => []);
    const seen = new Set<string>();
    for (const line of stdout.split('\n')) {
      const f = line.trim().split(/\s+/);
      if ((f[0] !== 'R' && f[0] !== 'E') || f.length < 4) continue;
      const pi = Number(f[1]);
      const k = Number(f[2]);
      const s = bySlot.get(`${pi}:${k}`);
      const r = results[pi];
      if (!s || !r || seen.has(`${pi}:${k}`)) continue;
      seen.add(`${pi}:${k}`);
      const bump = (e: string) => (r.errors![e] = (r.errors![e] ?? 0) + 1);
      if (f[0] === 'E') {
        bump(/^[a-z0-9-]{1,20}$/.test(f[3]!) ? f[3]! : 'error');
        continue;
      }
      const ms = Number(f[3]);
      const hex = f[4] ?? '';
      if (!/^([0-9a-f]{2})*$/.test(hex) || !hex) {
        bump('garbage');
        continue;
      }
      const j = judgeReply(Buffer.from(hex, 'hex'), s.id, paths[pi]!.name, paths[pi]!.type);
      if (!j.answered) {
        bump(j.error ?? 'garbage');
        continue;
      }
      r.answered++;
      r.rcodes[j.rcode!] = (r.rcodes[j.rcode!] ?? 0) + 1;
      if (j.good) r.ok = (r.ok ?? 0) + 1;
      else if (j.rcode === 'NOERROR') bump('empty-answer');
      if (Number.isFinite(ms)) lat[pi]!.push(ms);
    }
    results.forEach((r, i) => {
      const missing = r.sent - r.answered - Object.values(r.errors!).reduce((a, b) => a + b, 0);
      if (missing > 0) r.errors!['no-result'] = missing;
      const l = lat[i]!.sort((a, b) => a - b);
      r.latencyMs = { p50: pct(l, 50), max: l.length ? Math.round(l[l.length - 1]! * 100) / 100 : null };
    });
    return results;
  };
  return { encode, decode };
}
