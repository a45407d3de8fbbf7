// DNS as a pod sees it (issue 16), against the lab: the probes also run from a pod network namespace
// on every node that has one (the CoreDNS pods' cni-… namespaces behind their cali… veths), inside
// the node's one round trip; a node without one says so; with what pods send to a node dropped in
// its INPUT chain, exactly pod-to-host-blocked on exactly that node, none of the look-alikes; and a
// recording of it replays to the same report.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useLab } from '../lab/lab.js';
import { withFault } from '../lab/probe.js';
import { failing, runCli, tempKnownHosts, validateJson } from './helpers.js';
import type { Bundle } from '../../src/record/bundle.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3 });
const kh = tempKnownHosts();
const work = mkdtempSync(join(tmpdir(), 'ksv-pod-'));
test.after.always(() => {
  kh.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const LOOKALIKES = ['checksum-offload', 'coredns-endpoint-down', 'coredns-unreachable', 'nodelocaldns-down', 'nodelocaldns-rules-missing', 'udp-blocked', 'tcp-blocked', 'overlay-blocked', 'ip-forward-disabled', 'dns-unexplained'];
const why = (r: Report) => JSON.stringify(r.diagnoses.map((d) => ({ id: d.id, hosts: d.hosts, evidence: d.evidence })));
const result = (r: Report, check: string, host: string) => r.results.find((x) => x.check === check && x.host === host);

test.serial('healthy: every node with a pod probes from its namespace too, in its one round trip; node3 has none and says so', async (t) => {
  const l = lab();
  const bundle = join(work, 'healthy');
  const { run, report } = await validateJson(l.inventoryDir, kh.file, ['--record', bundle]);
  t.is(run.code, 0, why(report));
  for (const ep of l.endpoints) {
    const mine = report.probes.filter((p) => p.host === ep.node && p.from === 'pod');
    t.is(mine.length, report.probes.filter((p) => p.host === ep.node && p.from === 'host').length, `${ep.node}: every path from the pod too`);
    t.true(mine.every((p) => p.ok === p.sent && p.netns === ep.podNs && p.podIp === ep.ip), `${ep.node}: ${JSON.stringify(mine.filter((p) => p.ok !== p.sent))}`);
    for (const role of ['nodelocaldns', 'coredns-service', 'coredns-endpoint'])
      for (const tr of ['udp', 'tcp']) {
        const r = result(report, `dns.pod.${role}.${tr}`, ep.node)!;
        t.is(r.status, 'pass', `${ep.node} ${r.check}`);
        t.is(r.evidence.netns, ep.podNs);
        t.is(r.evidence.podIp, ep.ip);
        t.is(r.evidence.hostInterface, ep.hostIf, 'the node\'s veth towards the pod, from its routes');
      }
  }
  t.false(report.probes.some((p) => p.host === 'node3' && p.from === 'pod'));
  const skip = report.results.filter((r) => r.host === 'node3' && r.check.startsWith('dns.pod.'));
  t.is(skip.length, 6);
  t.true(skip.every((r) => r.status === 'skip' && /no pod network namespace on node3/.test(r.summary)), skip[0]?.summary);
  t.true(report.probes.filter((p) => p.from !== 'pod').every((p) => p.from === 'host'));
  // still one command per node for the inspection and both probe programs
  const b = JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8')) as Bundle;
  for (const n of ['node1', 'node2', 'node3']) {
    const execs = b.nodes[n]!.execs.filter((e) => e.label !== 'endpoints');
    t.deepEqual(execs.map((e) => e.label), ['roundtrip'], n);
    const out = execs[0]!.result.ok ? execs[0]!.result.stdout : '';
    t.true(out.includes('#KSV-POD\n'), `${n}: the pod section is in the round trip`);
  }
  // and the human table shows both
  const human = await runCli(['-i', l.inventoryDir, '--known-hosts', kh.file, '--progress', 'none', '--probe-count', '2']);
  t.regex(human.stdout, /\n {2}pod 198\.19\.\d+\.1 {2,}/);
  t.regex(human.stdout, /\n {2}pod +no pod network namespace on node3\n/);
});

test.serial("pod interfaces dropped in node2's INPUT: pod-to-host-blocked on node2 only, the rule named, none of the look-alikes; the recording replays to it", async (t) => {
  const l = lab();
  await withFault(l, 'pod-to-host-blocked', ['node2'], async () => {
    const bundle = join(work, 'blocked');
    const { run, report } = await validateJson(l.inventoryDir, kh.file, ['--record', bundle]);
    t.is(run.code, 1, why(report));
    t.deepEqual(failing(report), ['pod-to-host-blocked'], why(report));
    const d = report.diagnoses.find((x) => x.id === 'pod-to-host-blocked')!;
    t.deepEqual(d.hosts, ['node2']);
    const ep2 = l.endpoints.find((e) => e.node === 'node2')!;
    t.true(d.evidence.some((e) => e.includes(`"-A INPUT -i cali+ -j DROP" (nft, filter INPUT) drops udp/53 and tcp/53 arriving on ${ep2.hostIf} for ${l.nodelocaldnsIp}`)), why(report));
    t.true(d.evidence.some((e) => e.includes(`network namespace ${ep2.podNs}`)));
    t.true(d.evidence.some((e) => new RegExp(`its own probes to its CoreDNS pod ${ep2.ip.replace(/\./g, '\\.')} .* fail too`).test(e)), 'the node\'s own failing probes are explained');
    t.true(d.fix.some((f) => f.includes('calico_endpoint_to_host_action: "ACCEPT"')));
    for (const id of LOOKALIKES) t.falsy(report.diagnoses.find((x) => x.id === id), id);
    // the pods of node2 get nothing from NodeLocalDNS, node2 itself does; node1's pod is fine
    for (const tr of ['udp', 'tcp']) {
      t.is(result(report, `dns.pod.nodelocaldns.${tr}`, 'node2')?.status, 'fail');
      t.is(result(report, `dns.pod.nodelocaldns.${tr}`, 'node1')?.status, 'pass');
      t.is(result(report, `dns.pod.coredns-service.${tr}`, 'node2')?.status, 'pass', 'forwarded pod traffic passes');
    }
    t.true(report.probes.some((p) => p.host === 'node2' && p.from === 'host' && p.role === 'nodelocaldns' && (p.ok ?? 0) > 0));
    const replayed = await runCli(['replay', bundle, '-o', 'json']);
    t.is(replayed.code, 1);
    t.deepEqual(JSON.parse(replayed.stdout), report, 'replay gives the same report');
  });
});

test.serial('pod interfaces dropped on node3, which has no pod: nothing to see from a pod there (skip), nothing fails', async (t) => {
  const l = lab();
  await withFault(l, 'pod-to-host-blocked', ['node3'], async () => {
    const { run, report } = await validateJson(l.inventoryDir, kh.file);
    t.is(run.code, 0, why(report));
    t.true(report.results.filter((r) => r.host === 'node3' && r.check.startsWith('dns.pod.')).every((r) => r.status === 'skip'));
  });
});
