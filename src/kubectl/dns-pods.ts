// The DNS pods' state, the way Kubespray's own kubectl reads it on a control-plane node: node-cache
// (k8s-app=node-local-dns) and CoreDNS (k8s-app=kube-dns) pods with their node, restarts and waiting
// reason, then the last `plugin/loop` line of the previous container's log of the pods on the nodes
// asked about. One command; read-only. Parsing is pure.
import type { ClusterModel, ExecResult } from '../types.js';
import { shJoin, shQuote } from '../transport/quote.js';
import { splitSections } from '../collect/sections.js';
import { lastLoopLine } from '../collect/coredns-loop.js';
import { kubectlArgv } from './endpoints.js';
import { isSafeName } from '../inventory/validate.js';
import type { DnsPod } from '../collect/resolver.js';

export type { DnsPod };

const COLUMNS = [
  'NAME:.metadata.name',
  'APP:.metadata.labels.k8s-app',
  'NODE:.spec.nodeName',
  'RESTARTS:.status.containerStatuses[0].restartCount',
  'WAITING:.status.containerStatuses[0].state.waiting.reason',
].join(',');

const LOG_PODS_MAX = 6;

/** List the DNS pods; then, for the pods on `nodes` (at most a few), the previous container's log
 *  (its tail). Pod names come from kubectl's own output: checked to be names before use. */
export function dnsPodsCommand(c: ClusterModel, nodes: string[]): string {
  const k = [...kubectlArgv(c), '-n', 'kube-system'];
  const list = shJoin([
    ...k,
    'get',
    'pods',
    '-l',
    'k8s-app in (node-local-dns,kube-dns)',
    '--no-headers',
    '-o',
    `custom-columns=${COLUMNS}`,
    '--request-timeout=20s',
  ]);
  const logs = shJoin([...k, 'logs', '--previous', '--tail=200', '--request-timeout=20s']);
  return [
    // the nodes asked about, one quoted word list (never expanded)
    `w=${shQuote(` ${nodes.join(' ')} `)}`,
    `p=$(${list} 2>&1); rc=$?`,
    'echo @@dnspods; printf \'%s\\n\' "$p"; echo "@@rc $rc"',
    `[ "$rc" = 0 ] || exit 0`,
    'n=0',
    // each pod on a wanted node, up to a few: its previous log (names as kubectl printed them)
    `printf '%s\\n' "$p" | while read -r name app node rest; do`,
    '  case "$w" in *" $node "*) ;; *) continue ;; esac',
    `  case "$name" in *[!a-z0-9.-]*|'') continue ;; esac`,
    `  n=$((n + 1)); [ "$n" -le ${LOG_PODS_MAX} ] || break`,
    `  echo "@@dnslog $name"; ${logs} "$name" 2>&1; echo "@@rc $?"`,
    'done',
  ].join('\n');
}

export function parseDnsPods(r: ExecResult): { pods: DnsPod[] } | { error: string } {
  const sections = splitSections(r.stdout);
  const list = sections.find((s) => s.name === 'dnspods');
  if (!list) return { error: (r.stderr || r.stdout).trim().split('\n')[0]?.slice(0, 200) || 'kubectl printed nothing' };
  if (list.code !== 0)
    return { error: list.body.trim().split('\n').slice(-1)[0]?.slice(0, 200) || `exit ${list.code}` };
  const pods: DnsPod[] = [];
  for (const line of list.body.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !isSafeName(f[0]!)) continue;
    const none = (x: string) => (x === '<none>' ? null : x);
    const restarts = /^\d+$/.test(f[3]!) ? Number(f[3]) : null;
    pods.push({ name: f[0]!, app: f[1]!, node: none(f[2]!), restarts, waiting: none(f[4]!), loopLine: null });
  }
  for (const s of sections.filter((x) => x.name === 'dnslog')) {
    const pod = pods.find((p) => p.name === s.arg);
    if (!pod) continue;
    if (s.code !== 0) pod.logError = s.body.trim().split('\n').slice(-1)[0]?.slice(0, 200) ?? `exit ${s.code}`;
    else pod.loopLine = lastLoopLine(s.body)?.text ?? null;
  }
  return { pods };
}
