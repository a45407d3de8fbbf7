// DNS as a pod sees it on the flannel lab: pods on the cni0 bridge behind veth… (not a /32 behind
// a cali… veth), so a pod's traffic to its node arrives on cni0 — the pod namespace is found the
// same way, the node's interface towards it is cni0, a firewall dropping what arrives on cni0 is
// pod-to-host-blocked with the cni0 rule named, and --pod-probes create wires its pod to cni0.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { useLab } from '../lab/lab.js';
import { withFault } from '../lab/probe.js';
import { podsFile } from '../lab/kubectl-pods.js';
import { failing, tempKnownHosts, validateJson } from './helpers.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3, plugin: 'flannel' });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

const why = (r: Report) => JSON.stringify(r.diagnoses.map((d) => ({ id: d.id, hosts: d.hosts, evidence: d.evidence })));
const result = (r: Report, check: string, host: string) => r.results.find((x) => x.check === check && x.host === host);

test.serial(
  "flannel, healthy: probes from the CoreDNS pods' namespaces behind cni0; node3 gets a pod with --pod-probes create, deleted after",
  async (t) => {
    const l = lab();
    const { run, report } = await validateJson(l.inventoryDir, kh.file, ['--pod-probes', 'create']);
    t.is(run.code, 0, why(report) + run.stderr);
    for (const ep of l.endpoints) {
      const r = result(report, 'dns.pod.coredns-service.tcp', ep.node)!;
      t.is(r.status, 'pass', r.summary);
      t.is(r.evidence.netns, ep.podNs);
      t.is(r.evidence.hostInterface, 'cni0', 'a bridge plugin: the route to the pod is cni0');
    }
    const r3 = result(report, 'dns.pod.nodelocaldns.udp', 'node3')!;
    t.is(r3.status, 'pass', r3.summary);
    t.regex(String(r3.evidence.pod), /made by --pod-probes create/);
    t.is(r3.evidence.hostInterface, 'cni0');
    t.deepEqual(existsSync(podsFile(l.dir)) ? JSON.parse(readFileSync(podsFile(l.dir), 'utf8')) : [], []);
  },
);

test.serial(
  "flannel, what arrives on cni0 dropped in node1's INPUT: pod-to-host-blocked on node1 only, the cni0 rule named",
  async (t) => {
    const l = lab();
    await withFault(l, 'pod-to-host-blocked', ['node1'], async () => {
      const { run, report } = await validateJson(l.inventoryDir, kh.file);
      t.is(run.code, 1, why(report));
      t.deepEqual(failing(report), ['pod-to-host-blocked'], why(report));
      const d = report.diagnoses.find((x) => x.id === 'pod-to-host-blocked')!;
      t.deepEqual(d.hosts, ['node1']);
      t.true(
        d.evidence.some((e) => e.includes(`"-A INPUT -i cni0 -j DROP"`) && e.includes('arriving on cni0')),
        why(report),
      );
      t.false(
        d.fix.some((f) => f.includes('calico_endpoint_to_host_action')),
        'no Calico advice on a flannel cluster',
      );
      t.true(d.fix.some((f) => f.includes('iptables -I INPUT 1 -i cni0 -d 169.254.25.10/32 -p udp')));
    });
  },
);
