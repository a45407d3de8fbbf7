// The faults that break cluster DNS besides the seed's (issue 13), each reproduced in the lab with
// its real mechanism: exactly its diagnosis on exactly its nodes, none of the look-alikes.
import test from 'ava';
import { useLab, type Fault } from '../lab/lab.js';
import { failing, tempKnownHosts, validateJson } from './helpers.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3 });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

const LOOKALIKES = [
  'checksum-offload',
  'coredns-endpoint-down',
  'coredns-unreachable',
  'nodelocaldns-down',
  'udp-blocked',
  'tcp-blocked',
  'dns-unexplained',
];

async function withFault<T>(f: Fault, nodes: string[] | undefined, fn: () => Promise<T>): Promise<T> {
  const l = lab();
  await l.fault(f, nodes ? { nodes } : undefined);
  try {
    return await fn();
  } finally {
    await l.clear();
  }
}

const diag = (r: Report, id: string) => r.diagnoses.find((d) => d.id === id);
const why = (r: Report) => JSON.stringify(r.diagnoses.map((d) => ({ id: d.id, hosts: d.hosts, evidence: d.evidence })));

for (const node of ['node3', 'node1']) {
  test.serial(
    `overlay blocked to ${node} (VXLAN 4789 dropped in its INPUT): overlay-blocked on ${node} only`,
    async (t) => {
      await withFault('overlay-blocked', [node], async () => {
        const { run, report } = await validateJson(lab().inventoryDir, kh.file);
        t.is(run.code, 1, why(report));
        t.deepEqual(failing(report), ['overlay-blocked'], why(report));
        const d = diag(report, 'overlay-blocked')!;
        t.deepEqual(d.hosts, [node]);
        t.true(
          d.evidence.some((e) => new RegExp(`${node}: vxlan\\.calico received 0 packet`).test(e)),
          why(report),
        );
        t.true(
          d.evidence.some((e) => /--dport 4789 -j DROP/.test(e)),
          'the rule is named',
        );
        for (const id of LOOKALIKES) t.falsy(diag(report, id), id);
      });
    },
  );
}

test.serial(
  'ip_forward=0 on node2 (hosts a CoreDNS pod): ip-forward-disabled on node2, the pod is not called dead',
  async (t) => {
    await withFault('ip-forward', ['node2'], async () => {
      const { run, report } = await validateJson(lab().inventoryDir, kh.file);
      t.is(run.code, 1, why(report));
      t.deepEqual(failing(report), ['ip-forward-disabled'], why(report));
      t.deepEqual(diag(report, 'ip-forward-disabled')!.hosts, ['node2']);
      t.is(report.results.find((r) => r.check === 'sysctl.forwarding' && r.host === 'node2')?.status, 'fail');
      t.is(report.results.find((r) => r.check === 'sysctl.forwarding' && r.host === 'node1')?.status, 'pass');
      for (const id of LOOKALIKES) t.falsy(diag(report, id), id);
    });
  },
);

for (const f of ['rules-shadowed', 'rules-shadowed-legacy'] as Fault[]) {
  test.serial(
    `${f} on node2 (raw PREROUTING ! -p 253 -j ACCEPT ahead of node-cache's NOTRACK, kubernetes/dns#745): nodelocaldns-rules-missing naming that rule`,
    async (t) => {
      await withFault(f, ['node2'], async () => {
        const { run, report } = await validateJson(lab().inventoryDir, kh.file);
        t.is(run.code, 1, why(report));
        t.deepEqual(failing(report), ['nodelocaldns-rules-missing'], why(report));
        t.deepEqual(diag(report, 'nodelocaldns-rules-missing')!.hosts, ['node2']);
        const r = report.results.find((x) => x.check === 'nodelocaldns.iptables' && x.host === 'node2')!;
        t.is(r.status, 'fail');
        t.regex(JSON.stringify(r.evidence.shadowingRules), /-A PREROUTING ! -p 253 -j ACCEPT/);
        t.is((r.evidence.shadowed as string[]).length, 2, 'the two PREROUTING NOTRACK rules');
        for (const h of ['node1', 'node3'])
          t.is(report.results.find((x) => x.check === 'nodelocaldns.iptables' && x.host === h)?.status, 'pass');
      });
    },
  );
}

test.serial('CoreDNS endpoints from EndpointSlices; with v1 Endpoints gone the run is unchanged', async (t) => {
  const healthy = await validateJson(lab().inventoryDir, kh.file);
  const ep = healthy.report.results.find((r) => r.check === 'coredns.endpoints')!;
  t.is(ep.status, 'pass');
  t.is(ep.evidence.source, 'endpointslices');
  t.is((ep.evidence.endpoints as string[]).length, lab().endpoints.length);
  await withFault('endpoints-gone', undefined, async () => {
    const { report } = await validateJson(lab().inventoryDir, kh.file);
    const e = report.results.find((r) => r.check === 'coredns.endpoints')!;
    t.is(e.status, 'pass');
    t.is(e.evidence.source, 'endpointslices');
    const eps = report.probes.filter((p) => p.role === 'coredns-endpoint');
    t.is(eps.length, healthy.report.probes.filter((p) => p.role === 'coredns-endpoint').length);
    t.true(
      eps.every((p) => (p.ok ?? 0) > 0),
      'every endpoint answered from every node',
    );
    t.deepEqual(
      failing(report).filter((id) => id !== 'dns-unexplained'),
      [],
      why(report),
    );
  });
});
