// The files of a node's resolver chain, read in the round trip with shell builtins (no process):
// the kubelet config ({{ kube_config_dir }}/kubelet-config.yaml), the file its `resolvConf` names
// (what CoreDNS and NodeLocalDNS forward `.` to), /etc/resolv.conf, dhclient's configuration (its
// `supersede`/`prepend domain-name-servers` lines decide what the next lease writes) and
// systemd-resolved's uplink file. Read-only. A file that is not there is a fact, not an error.
import type { NodeFacts, ParseError } from '../types.js';
import type { Reader, ReaderContext } from './reader.js';
import type { Section } from './sections.js';
import { shQuote } from '../transport/quote.js';
import { parseKubeletConfig } from './kubelet-config.js';
import { parseResolvConf } from './resolvconf.js';
import { parseDhclientConf } from './dhclient.js';
import { DHCLIENT_CONF_PATH, type ResolverFiles } from './resolver-chain.js';
import { RESOLVED_UPLINK_PATH } from './resolved.js';

/** One file as read: its text, or why there is none. */
/** A NodeLocalDNS or CoreDNS pod as Kubespray's kubectl lists it (kubectl/dns-pods.ts). */
export interface DnsPod {
  name: string;
  /** node-local-dns or kube-dns */
  app: string;
  node: string | null;
  restarts: number | null;
  /** the container's waiting reason (CrashLoopBackOff, …), null when it runs */
  waiting: string | null;
  /** the last plugin/loop line of `kubectl logs --previous`, when there is one */
  loopLine: string | null;
  /** why the previous log could not be read, when it was asked for */
  logError?: string;
}

export type ReadFile = { text: string; truncated?: boolean } | { missing: true } | { unreadable: true };

/** A name probed under one of the node's search domains: does it answer for any name? */
export interface WildcardProbe {
  domain: string;
  name: string;
  /** the server asked (NodeLocalDNS or the CoreDNS service) and from which node */
  server: string;
  askedFrom: string;
  /** NOERROR with records (a wildcard), NXDOMAIN/NODATA (none), or no usable answer */
  outcome: 'answers' | 'no-such-name' | 'no-answer';
  /** the rcode, or why there was no answer */
  detail: string;
}

/** The upstream servers probed from the node itself (only when external names fail everywhere). */
export interface UpstreamProbe {
  server: string;
  /** where the server came from: upstream_dns_servers, or the file the kubelet hands the DNS pods */
  source: string;
  transport: 'udp' | 'tcp';
  name: string;
  sent: number;
  ok: number;
  answered: number;
  rcodes: Record<string, number>;
  errors: Record<string, number>;
}

export interface ResolverFacts {
  /** {{ kube_config_dir }}/kubelet-config.yaml */
  kubeletConfigPath: string;
  /** every file read, by path */
  files: Record<string, ReadFile>;
  /** set after the round trip (run/resolver-probes.ts), when it ran */
  wildcard?: WildcardProbe[];
  upstream?: UpstreamProbe[];
  /** the DNS pods on this node and the CoreDNS pods, from kubectl (where a node's file loops) */
  pods?: DnsPod[];
  /** why kubectl could not tell */
  podsError?: string;
}

declare module '../types.js' {
  interface NodeFacts {
    /** absent in a bundle recorded before it was read */
    resolver?: ResolverFacts | ParseError;
  }
}

export const ETC_RESOLV_CONF = '/etc/resolv.conf';
/** lines kept of one file: a resolv.conf is a few lines, a kubelet config some dozens */
const MAX_LINES = 400;

export const kubeletConfigPath = (ctx: ReaderContext) => `${ctx.cluster.kubeConfigDir}/kubelet-config.yaml`;

// ksv_rf prints one file as a section: @@rfile <path>, its lines (at most MAX_LINES; a line starting
// with @@ is indented so it cannot end the section), @@rc 0; @@rc 1 when it is not there, 2 when it
// cannot be read. The kubelet config's resolvConf is cut out with builtins; the parser decides
// what it is, the shell only which extra file to print.
const SH = String.raw`ksv_rf() {
  echo "@@rfile $1"
  if [ ! -e "$1" ]; then echo '@@rc 1'; return; fi
  if [ ! -f "$1" ] || [ ! -r "$1" ]; then echo '@@rc 2'; return; fi
  ksv_n=0
  while IFS= read -r ksv_l || [ -n "$ksv_l" ]; do
    ksv_n=$((ksv_n + 1)); if [ "$ksv_n" -gt MAXL ]; then echo '@@truncated'; break; fi
    case $ksv_l in @@*) ksv_l=" $ksv_l" ;; esac
    printf '%s\n' "$ksv_l"
  done <"$1"
  echo '@@rc 0'
}
ksv_rc=
if [ -f "$ksv_kc" ] && [ -r "$ksv_kc" ]; then
  while IFS= read -r ksv_l || [ -n "$ksv_l" ]; do
    case $ksv_l in resolvConf*:*) ksv_rc=%{ksv_l#*:} ;; esac
  done <"$ksv_kc"
fi
ksv_rc=%{ksv_rc%%#*}
ksv_rc=%{ksv_rc#"%{ksv_rc%%[! 	]*}"}
ksv_rc=%{ksv_rc%"%{ksv_rc##*[! 	]}"}
ksv_rc=%{ksv_rc#\"}; ksv_rc=%{ksv_rc%\"}; ksv_rc=%{ksv_rc#\'}; ksv_rc=%{ksv_rc%\'}
for ksv_f in "$ksv_kc" FIXED; do ksv_rf "$ksv_f"; done
case "$ksv_rc" in /*) case " FIXED " in *" $ksv_rc "*) ;; *) ksv_rf "$ksv_rc" ;; esac ;; esac`
  .replace(/MAXL/g, String(MAX_LINES))
  .replace(/%\{/g, '${');

export const FIXED_FILES = [ETC_RESOLV_CONF, DHCLIENT_CONF_PATH, RESOLVED_UPLINK_PATH];

export function parseResolverSections(sections: Section[], ctx: ReaderContext): ResolverFacts | ParseError {
  const files: Record<string, ReadFile> = {};
  let seen = false;
  for (const s of sections) {
    if (s.name !== 'rfile') continue;
    seen = true;
    const path = s.arg;
    if (s.code === 1) files[path] = { missing: true };
    else if (s.code !== 0) files[path] = { unreadable: true };
    else {
      const lines = s.body.split('\n');
      const cut = lines.indexOf('@@truncated');
      // a line the reader indented (it began with @@) is given back as written
      const text = (cut >= 0 ? lines.slice(0, cut) : lines)
        .map((l) => (l.startsWith(' @@') ? l.slice(1) : l))
        .join('\n');
      files[path] = cut >= 0 ? { text, truncated: true } : { text };
    }
  }
  if (!seen) return { parseError: 'resolver files: no output' };
  return { kubeletConfigPath: kubeletConfigPath(ctx), files };
}

export const resolverReader: Reader<'resolver'> = {
  key: 'resolver',
  script: (ctx) =>
    `ksv_kc=${shQuote(kubeletConfigPath(ctx))}\n` + SH.replace(/FIXED/g, FIXED_FILES.map((f) => shQuote(f)).join(' ')),
  parse: (sections, ctx) => parseResolverSections(sections, ctx),
};

/** The text of a file that was read, or null (missing, unreadable, not read). */
export function fileText(f: ResolverFacts, path: string): string | null {
  const x = f.files[path];
  return x && 'text' in x ? x.text : null;
}

/** The files parsed as the resolver-chain verdict takes them. A file not read at all (no section)
 *  is left out, so the verdict does not mistake it for a missing one. */
export function resolverFiles(f: ResolverFacts): ResolverFiles {
  const kc = f.files[f.kubeletConfigPath];
  const resolvConfs: ResolverFiles['resolvConfs'] = {};
  for (const [path, x] of Object.entries(f.files)) {
    if (path === f.kubeletConfigPath || path === DHCLIENT_CONF_PATH) continue;
    if ('text' in x) resolvConfs[path] = parseResolvConf(x.text);
    else if ('missing' in x) resolvConfs[path] = null;
  }
  const dh = f.files[DHCLIENT_CONF_PATH];
  return {
    kubeletConfig:
      !kc || 'missing' in kc
        ? null
        : 'text' in kc
          ? parseKubeletConfig(kc.text)
          : { parseError: `${f.kubeletConfigPath}: not readable` },
    resolvConfs,
    dhclient: dh && 'text' in dh ? parseDhclientConf(dh.text) : null,
  };
}

/** NodeFacts' resolver field, when it was read. */
export function resolverFacts(facts: NodeFacts | null | undefined): ResolverFacts | null {
  const r = facts?.resolver;
  return r && !('parseError' in r) ? r : null;
}
