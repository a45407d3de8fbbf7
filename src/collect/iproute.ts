// `ip -d -j link show` + `ip -j addr show` -> LinkFacts. Pure; never throws.
import type { LinkFacts, NodeFacts, Parsed } from '../types.js';
import type { Reader } from './reader.js';
import { firstLine } from '../errors.js';
import { failureText } from './sections.js';

interface RawLink {
  ifname?: unknown;
  flags?: unknown;
  mtu?: unknown;
  operstate?: unknown;
  link?: unknown;
  linkinfo?: { info_kind?: unknown; info_data?: Record<string, unknown> };
  addr_info?: { family?: unknown; local?: unknown; prefixlen?: unknown }[];
}

function parseJsonArray(text: string, what: string): RawLink[] | { parseError: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    if (/Object "?-j"? is unknown|Option "-j" is unknown|unknown option/i.test(text))
      return { parseError: `${what}: this iproute2 has no JSON output (-j); iproute2 4.13 or newer is needed` };
    return { parseError: `${what}: output is not JSON` };
  }
  if (!Array.isArray(v)) return { parseError: `${what}: expected a JSON array` };
  return v.filter((x) => x && typeof x === 'object') as RawLink[];
}

/** `defaultDev` is the device of the default route (the parent of a vxlan with no `dev`). */
export function parseLinks(linkJson: string, addrJson: string, defaultDev: string | null): Parsed<LinkFacts[]> {
  const links = parseJsonArray(linkJson, 'ip -d -j link');
  if ('parseError' in links) return links;
  const addrs = parseJsonArray(addrJson, 'ip -j addr');
  const addrBy = new Map<string, string[]>();
  if (!('parseError' in addrs)) {
    for (const a of addrs) {
      if (typeof a.ifname !== 'string') continue;
      addrBy.set(
        a.ifname,
        (a.addr_info ?? [])
          .filter((i) => typeof i.local === 'string')
          .map((i) => `${String(i.local)}/${String(i.prefixlen ?? '')}`),
      );
    }
  }
  const out: LinkFacts[] = [];
  for (const l of links) {
    if (typeof l.ifname !== 'string' || typeof l.mtu !== 'number') continue;
    const flags = Array.isArray(l.flags) ? l.flags.map(String) : [];
    const kind = typeof l.linkinfo?.info_kind === 'string' ? l.linkinfo.info_kind : null;
    const data = l.linkinfo?.info_data ?? {};
    let parent: string | null = typeof data.link === 'string' ? data.link : typeof l.link === 'string' ? l.link : null;
    if (!parent && (kind === 'vxlan' || kind === 'ipip')) parent = defaultDev;
    const f: LinkFacts = {
      name: l.ifname,
      kind,
      up: flags.includes('UP'),
      operstate: typeof l.operstate === 'string' ? l.operstate : 'UNKNOWN',
      mtu: l.mtu,
      parent,
      addresses: addrBy.get(l.ifname) ?? [],
    };
    if (kind === 'vxlan') {
      f.vxlan = {
        id: typeof data.id === 'number' ? data.id : null,
        port: typeof data.port === 'number' ? data.port : null,
        local: typeof data.local === 'string' ? data.local : null,
      };
    }
    out.push(f);
  }
  if (links.length && !out.length) return { parseError: 'ip -d -j link: no interface entries with ifname and mtu' };
  return out;
}

/** `ip -j route show default` -> the first default route's device. */
export function parseDefaultDev(json: string): string | null {
  try {
    const v = JSON.parse(json) as { dev?: unknown }[];
    const d = Array.isArray(v) ? v.find((r) => typeof r?.dev === 'string') : undefined;
    return (d?.dev as string | undefined) ?? null;
  } catch {
    return null;
  }
}

/** Links with details and addresses in one `ip` call. The default route's device is read by the
 *  gather prelude (collect/gather.ts, section `route`, shell variable $dev). */
export const linksReader: Reader<'links'> = {
  key: 'links',
  sections: ['link'],
  script: () => 'echo @@link; ksv_run ip -d -j addr show',
  parse(sections): NodeFacts['links'] {
    const link = sections.find((s) => s.name === 'link');
    if (!link) return { parseError: 'ip link: no output' };
    if (link.code !== 0) return { parseError: `ip -d -j addr show failed: ${firstLine(failureText(link))}` };
    const addr = sections.find((s) => s.name === 'addr');
    return parseLinks(
      link.body,
      addr?.body ?? link.body,
      parseDefaultDev(sections.find((s) => s.name === 'route')?.body ?? ''),
    );
  },
};
