// checksum-offload: TX checksum offload on the overlay device corrupts what crosses it, in its TCP
// form and its UDP mirror image (projectcalico/calico#11197, coredns/coredns#6076, kubespray#12076).
// Named only with all of its evidence (checksum-suspects.ts says what that is); the fix turns the
// offload off now, and the lasting fix depends on the network plugin and on what Felix already did.
import type { ClusterModel, Remediation } from '../types.js';
import { offloadReader } from '../collect/ethtool.js';
import { kernelReader } from '../collect/kernel.js';
import { checksumOverride, felixDeemsBroken, felixView } from '../inventory/felix.js';
import { defineDiagnosis, type Draft } from './module.js';
import { offloadOn, type Suspect } from './checksum-suspects.js';
import type { View } from './view.js';

/** The lasting fix, by plugin and by what Felix should already have done there. */
function lasting(
  c: ClusterModel,
  device: string,
  hosts: string[],
  kernels: (string | null)[],
): { evidence: string[]; remediations: Remediation[] } {
  if (c.networkPlugin === 'calico') {
    const views = hosts.map((h, i) => ({ h, f: felixView(c, device, kernels[i] ?? null) }));
    const evidence = [...new Set(views.map((x) => x.f.why))].map(
      (why) =>
        `${views
          .filter((x) => x.f.why === why)
          .map((x) => x.h)
          .join(', ')}: ${why}`,
    );
    const o = checksumOverride(c);
    if (o === true) {
      return {
        evidence,
        remediations: [
          {
            text: `lasting: the inventory already sets calico_feature_detect_override "${c.calicoFeatureDetectOverride}" but TX offload is still on: Felix has not applied it — check kubectl get felixconfiguration default -o yaml for featureDetectOverride (re-run cluster.yml --tags network when it is missing), then kubectl -n kube-system rollout restart daemonset calico-node`,
            safe: false,
          },
        ],
      };
    }
    if (o === false) {
      return {
        evidence,
        remediations: [
          {
            text: `lasting: the inventory sets calico_feature_detect_override "${c.calicoFeatureDetectOverride}", which keeps offload on: set ChecksumOffloadBroken=true instead in group_vars/k8s_cluster/k8s-net-calico.yml and re-run cluster.yml`,
            safe: false,
          },
        ],
      };
    }
    const restart: Remediation[] = kernels.some((k) => felixDeemsBroken(k))
      ? [
          {
            text: 'Felix turns TX offload off itself on kernels <= 5.7.0 and has not here: kubectl -n kube-system rollout restart daemonset calico-node',
            safe: false,
          },
        ]
      : [];
    return {
      evidence,
      remediations: [
        ...restart,
        {
          text: 'lasting: set calico_feature_detect_override: "ChecksumOffloadBroken=true" in group_vars/k8s_cluster/k8s-net-calico.yml and re-run cluster.yml',
          safe: false,
        },
        {
          text: `or now: kubectl patch felixconfiguration default --type merge -p '{"spec":{"featureDetectOverride":"ChecksumOffloadBroken=true"}}'`,
          safe: false,
        },
      ],
    };
  }
  const who =
    c.networkPlugin === 'flannel'
      ? 'flannel does not manage checksum offload (flannel-io/flannel#1279) and recreates the device when it restarts'
      : `${c.networkPlugin} does not turn checksum offload off on ${device}`;
  return {
    evidence: [],
    remediations: [
      {
        text: `lasting: ${who}: apply the ethtool command whenever ${device} appears, e.g. a udev rule ACTION=="add", SUBSYSTEM=="net", KERNEL=="${device}", RUN+="/usr/sbin/ethtool -K ${device} tx-checksum-ip-generic off"`,
        safe: false,
      },
    ],
  };
}

export function checksumOffloadDiagnosis(v: View, suspects: readonly Suspect[]): Draft[] {
  const confirmed = suspects.filter((s) => !s.missing.length);
  if (!confirmed.length) return [];
  const hosts = confirmed.map((s) => s.host);
  const states = new Map(hosts.map((h) => [h, offloadOn(v, h)]));
  const device = states.get(hosts[0]!)!.device;
  const forms = new Set(confirmed.flatMap((s) => s.forms));
  const what =
    forms.size === 2
      ? 'DNS over TCP and UDP across the overlay fails'
      : forms.has('udp')
        ? 'DNS over UDP across the overlay fails while TCP works'
        : 'DNS over TCP across the overlay fails while UDP works';
  const unit = forms.size === 2 ? 'packets' : forms.has('udp') ? 'datagrams' : 'segments';
  // one command per device; a node with offload on for several overlay devices gets each turned off
  const byDevice = new Map<string, string[]>();
  for (const h of hosts)
    for (const d of states.get(h)!.txOn.length ? states.get(h)!.txOn : [device])
      byDevice.set(d, [...(byDevice.get(d) ?? []), h]);
  const now: Remediation[] = [...byDevice].map(([d, hs]) => ({
    text: `on ${hs.join(', ')}: ethtool --offload ${d} rx off tx off   (safe; --fix applies it; lasts until reboot or the network plugin recreates ${d})`,
    argv: ['ethtool', '--offload', d, 'rx', 'off', 'tx', 'off'],
    hosts: hs,
    safe: true,
  }));
  const more = lasting(
    v.input.cluster,
    device,
    hosts,
    hosts.map((h) => v.input.facts[h]?.kernel ?? null),
  );
  return [
    {
      severity: 'fail',
      hosts,
      summary: `${what}: checksum offload on ${device} corrupts ${unit} on ${hosts.join(', ')}`,
      evidence: [...confirmed.flatMap((s) => s.evidence), ...more.evidence],
      remediations: [...now, ...more.remediations],
    },
  ];
}

/** Hosts a rule blaming a firewall for failing UDP must leave alone: those checksum-offload named,
 *  and those that fit its UDP form but for counters that could not be read (dns-unexplained then
 *  says which) — a wrong blame is worse than none. */
export function udpClaimedByOffload(named: readonly string[], suspects: readonly Suspect[]): string[] {
  const open = suspects.filter((s) => s.forms.includes('udp') && s.onlyUnread).map((s) => s.host);
  return [...new Set([...named, ...open])];
}

export default defineDiagnosis({
  id: 'checksum-offload',
  explainsChecks: ['dns.*', 'kernel.counters', 'overlay.offload'],
  readers: [offloadReader, kernelReader],
  run: (v, ctx) => checksumOffloadDiagnosis(v, ctx.facts.checksum),
});
