// One node's whole ruleset in the model (iptables-legacy, iptables-nft and the native nft tables),
// which host firewall manages it (firewalld, ufw, a native nft table), and, for a verdict, the
// firewall and the firewalld zone that gave it. Pure.
import type { NodeFacts } from '../types.js';
import { isParseError } from '../types.js';
import type { Rule, Ruleset, Table } from './model.js';
import { combine } from './model.js';
import { iptablesModel } from './iptables.js';
import type { Decision } from './evaluate.js';
import type { ParseError } from '../types.js';

/** The native nftables ruleset as the node's reader found it (collect/nftables.ts). */
export interface NftFacts {
  /** null when nft is not installed */
  ruleset: Ruleset | null;
  /** how it was read */
  format: 'json' | 'text' | null;
  /** why it was not read */
  skipped: string | null;
}

declare module '../types.js' {
  interface NodeFacts {
    nftables?: NftFacts | ParseError;
  }
}

export interface NodeRuleset {
  ruleset: Ruleset;
  /** what was read: "iptables-nft", "iptables-legacy", "nftables" */
  read: string[];
  /** what could not be read, with why */
  unread: string[];
}

const cache = new WeakMap<NodeFacts, NodeRuleset>();

export function nodeRuleset(f: NodeFacts): NodeRuleset {
  const hit = cache.get(f);
  if (hit) return hit;
  const read: string[] = [];
  const unread: string[] = [];
  const parts: Ruleset[] = [];
  if (isParseError(f.iptables)) unread.push(`iptables: ${f.iptables.parseError}`);
  else {
    parts.push(iptablesModel(f.iptables.rules, f.iptables.chains));
    read.push(...f.iptables.backends.map((b) => `iptables-${b}`));
  }
  const nft = f.nftables;
  if (nft === undefined) unread.push('native nftables tables: not read');
  else if (isParseError(nft)) unread.push(`nftables: ${nft.parseError}`);
  else if (nft.ruleset) {
    parts.push(nft.ruleset);
    read.push('nftables');
  } else unread.push(nft.skipped ?? 'nftables: not read');
  const out = { ruleset: combine(...parts), read, unread };
  cache.set(f, out);
  return out;
}

/** A host firewall found in the ruleset. */
export interface HostFirewall {
  /** firewalld, ufw, or nftables (a native table of its own) */
  manager: 'firewalld' | 'ufw' | 'nftables';
  /** where: "inet firewalld" (nft backend), "iptables-nft filter" (firewalld's or ufw's iptables
   *  backend), "inet filter" (a native table) */
  where: string;
}

/** The tables that are not a host firewall: kube-proxy's and Calico's own nftables tables. */
const NOT_A_FIREWALL = /^(kube-proxy|calico|cilium|flannel|k8s|kubernetes)/i;

export function hostFirewalls(rs: Ruleset): HostFirewall[] {
  const out: HostFirewall[] = [];
  for (const t of rs.tables) {
    if (t.source.kind === 'nft') {
      if (t.name === 'firewalld') out.push({ manager: 'firewalld', where: `${t.family} ${t.name}` });
      else if (!NOT_A_FIREWALL.test(t.name) && filters(t))
        out.push({ manager: 'nftables', where: `${t.family} ${t.name}` });
      continue;
    }
    const names = [...t.chains.keys()];
    const where = `iptables-${t.source.backend} ${t.name}`;
    if (t.name === 'filter' && names.some((n) => /^ufw6?-/.test(n))) out.push({ manager: 'ufw', where });
    else if (t.name === 'filter' && names.some((n) => n === 'INPUT_ZONES' || /^IN_\w+$/.test(n)))
      out.push({ manager: 'firewalld', where });
  }
  return out;
}

/** A native table with a filter base chain on input or forward that can drop. */
function filters(t: Table): boolean {
  return [...t.chains.values()].some(
    (c) =>
      c.base?.type === 'filter' &&
      (c.base.hook === 'input' || c.base.hook === 'forward' || c.base.hook === 'prerouting') &&
      (c.base.policy === 'drop' ||
        [...t.chains.values()].some((x) =>
          x.rules.some((r) => r.verdict.kind === 'drop' || r.verdict.kind === 'reject'),
        )),
  );
}

/** The firewall a verdict came from. */
export function firewallOf(d: Decision): HostFirewall['manager'] | null {
  if (d.source === 'nftables')
    return d.table === 'firewalld' ? 'firewalld' : NOT_A_FIREWALL.test(d.table) ? null : 'nftables';
  const chains = [d.chain, ...d.path.map((s) => s.chain)];
  if (chains.some((c) => /^ufw6?-/.test(c))) return 'ufw';
  if (chains.some((c) => c === 'INPUT_ZONES' || c === 'FORWARD_IN_ZONES' || /^(IN|FWDI|FWD)_\w+/.test(c)))
    return 'firewalld';
  return null;
}

/** The firewalld zone a verdict went through, and why the packet fell in it: the zone dispatch's
 *  goto (`iifname "eth0" goto filter_IN_public`; `-i eth0 -g IN_public` with the iptables backend),
 *  or the default zone when no zone names the interface or source. */
export function zoneOf(d: Decision, iface: string | null): { zone: string; why: string } | null {
  for (const s of d.path) {
    const v = s.rule.verdict;
    if (v.kind !== 'goto' && v.kind !== 'jump') continue;
    const m = /^(?:filter_(?:IN|FWD|FWDI|FWDO)_|IN_|FWDI_|FWDO_)([A-Za-z0-9_-]+?)$/.exec(v.target);
    if (!m || /_(pre|log|deny|allow|post)$/.test(v.target) || /^(?:filter_)?(IN|FWD)_policy_/.test(v.target)) continue;
    if (!/ZONES/.test(s.chain)) continue;
    return { zone: m[1]!, why: whyZone(s.rule, m[1]!, iface) };
  }
  return null;
}

function whyZone(r: Rule, zone: string, iface: string | null): string {
  const byIf = r.matches.find((m) => m.kind === 'iif');
  const bySrc = r.matches.find((m) => m.kind === 'saddr');
  if (byIf && 'names' in byIf) return `${iface ?? 'the interface'} is in zone ${zone} ("${r.text}")`;
  if (bySrc && 'addrs' in bySrc) return `its source address is in zone ${zone} ("${r.text}")`;
  return `no zone names ${iface ?? 'the interface'} or the source: firewalld's default zone ${zone} ("${r.text}")`;
}

/** A firewalld zone as its own rules say: the interfaces and sources it takes (or that it is the
 *  default zone), what ends it (reject, drop or accept: its target) and what its allow chain lets in. */
export interface ZoneView {
  zone: string;
  interfaces: string[];
  sources: string[];
  default: boolean;
  /** the zone chain's last verdict: reject (target default), drop (DROP), accept (ACCEPT, trusted) */
  target: string | null;
  /** its allow chain's rules (services and ports), as printed */
  allows: string[];
}

/** firewalld's zones from its ruleset (nft backend `filter_INPUT_ZONES`, iptables backend
 *  `INPUT_ZONES`), with no firewall-cmd needed. */
export function firewalldZones(rs: Ruleset): ZoneView[] {
  const out = new Map<string, ZoneView>();
  for (const t of rs.tables) {
    const nft = t.source.kind === 'nft' && t.name === 'firewalld';
    if (!nft && !(t.source.kind === 'iptables' && t.name === 'filter')) continue;
    const prefix = nft ? 'filter_IN_' : 'IN_';
    const dispatch = [
      t.chains.get(nft ? 'filter_INPUT_ZONES' : 'INPUT_ZONES'),
      t.chains.get(nft ? 'filter_INPUT_ZONES_SOURCE' : 'INPUT_ZONES_SOURCE'),
    ];
    for (const c of dispatch) {
      for (const r of c?.rules ?? []) {
        const v = r.verdict;
        if ((v.kind !== 'goto' && v.kind !== 'jump') || !v.target.startsWith(prefix)) continue;
        const zone = v.target.slice(prefix.length);
        const z = out.get(zone) ?? { zone, interfaces: [], sources: [], default: false, target: null, allows: [] };
        const iif = r.matches.find((m) => m.kind === 'iif');
        const src = r.matches.find((m) => m.kind === 'saddr');
        if (iif && 'names' in iif) z.interfaces.push(...iif.names);
        else if (src && 'addrs' in src)
          z.sources.push(...src.addrs.map((a) => (typeof a === 'object' ? JSON.stringify(a) : String(a))));
        else if (!r.matches.length) z.default = true;
        const own = t.chains.get(v.target);
        const last = own?.rules[own.rules.length - 1]?.verdict;
        z.target = last && last.kind !== 'jump' && last.kind !== 'goto' ? last.kind : 'continue';
        z.allows = (t.chains.get(`${v.target}_allow`)?.rules ?? []).map((x) => x.text);
        out.set(zone, z);
      }
    }
  }
  return [...out.values()];
}
