// Host firewalls in the lab beyond what their fault records say (test/e2e/faults.test.ts runs those):
// the real firewalld on one node with Calico-like ACCEPTs in iptables-nft that do not stop it — the
// firewall, its zone and its own fixes named — and an OUTPUT rule named by udp-blocked.
import test from 'ava';
import { useLab, type Fault } from '../lab/lab.js';
import { tempKnownHosts, validateJson } from './helpers.js';
import { nsSh, quiet } from '../lab/sys.js';
import type { Report } from '../../src/types.js';

const lab = useLab(test, { nodes: 3 });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

const LOOKALIKES = [
  'checksum-offload',
  'coredns-endpoint-down',
  'coredns-unreachable',
  'nodelocaldns-down',
  'nodelocaldns-rules-missing',
  'udp-blocked',
  'tcp-blocked',
  'ip-forward-disabled',
];

async function withFault<T>(f: Fault, nodes: string[], fn: () => Promise<T>): Promise<T> {
  const l = lab();
  await l.fault(f, { nodes });
  try {
    return await fn();
  } finally {
    await l.clear();
  }
}

const diag = (r: Report, id: string) => r.diagnoses.find((d) => d.id === id);
const why = (r: Report) =>
  JSON.stringify(r.diagnoses.map((d) => ({ id: d.id, hosts: d.hosts, evidence: d.evidence, fix: d.fix })));
const result = (r: Report, check: string, host: string) => r.results.find((x) => x.check === check && x.host === host);

function firewalldNamed(t: import('ava').ExecutionContext, report: Report) {
  t.deepEqual(diag(report, 'overlay-blocked')?.hosts, ['node2'], why(report));
  t.deepEqual(diag(report, 'pod-to-host-blocked')?.hosts, ['node2'], why(report));
  const ov = diag(report, 'overlay-blocked')!;
  t.true(
    ov.evidence.some((e) => /"reject with icmpx admin-prohibited" \(nftables, firewalld filter_INPUT/.test(e)),
    why(report),
  );
  t.true(
    ov.evidence.some((e) => /the rule is firewalld's: .*zone public/.test(e)),
    why(report),
  );
  t.true(
    ov.fix.some((f) => /firewall-cmd --permanent --zone=public --add-port=4789\/udp; firewall-cmd --reload/.test(f)),
  );
  t.true(ov.fix.some((f) => f.includes('systemctl disable --now firewalld')));
  const p2h = diag(report, 'pod-to-host-blocked')!;
  t.true(
    p2h.evidence.some((e) => /the rule is firewalld's: no zone names cali\w+ .*default zone public/.test(e)),
    why(report),
  );
  t.true(p2h.fix.some((f) => f.includes('firewall-cmd --permanent --zone=trusted --add-interface=cali+')));
  for (const id of LOOKALIKES) t.falsy(diag(report, id), id);
  t.is(result(report, 'firewall.host', 'node2')?.status, 'warn');
  t.regex(result(report, 'firewall.host', 'node2')!.summary, /firewalld drops Kubespray's traffic/);
  t.is(result(report, 'firewall.host', 'node1')?.status, 'skip');
}

test.serial("Calico's ACCEPT in iptables-nft plus firewalld's reject: still dropped, still named", async (t) => {
  await withFault('firewalld', ['node2'], async () => {
    const ns = lab().nodes.find((n) => n.name === 'node2')!.ns;
    nsSh(ns, 'iptables -w -I INPUT 1 -i cali+ -j ACCEPT && iptables -w -I INPUT 1 -p udp --dport 4789 -j ACCEPT');
    try {
      const { report } = await validateJson(lab().inventoryDir, kh.file);
      firewalldNamed(t, report);
      t.true(
        diag(report, 'pod-to-host-blocked')!.evidence.some((e) => e.includes('firewalld')),
        'the accept in iptables does not hide it',
      );
    } finally {
      quiet('ip', ['netns', 'exec', ns, 'iptables', '-w', '-D', 'INPUT', '-i', 'cali+', '-j', 'ACCEPT']);
      quiet('ip', [
        'netns',
        'exec',
        ns,
        'iptables',
        '-w',
        '-D',
        'INPUT',
        '-p',
        'udp',
        '--dport',
        '4789',
        '-j',
        'ACCEPT',
      ]);
    }
  });
});

test.serial('udp/53 dropped in OUTPUT on node1: udp-blocked names the rule', async (t) => {
  await withFault('udp-blocked', ['node1'], async () => {
    const { report } = await validateJson(lab().inventoryDir, kh.file);
    const d = diag(report, 'udp-blocked');
    t.deepEqual(d?.hosts, ['node1'], why(report));
    t.true(
      d!.evidence.some((e) =>
        /^node1: "-A OUTPUT -p udp -m udp --dport 53 -j DROP" \(nft, filter OUTPUT\) drops udp\/53 leaving the node for /.test(
          e,
        ),
      ),
      why(report),
    );
    t.true(d!.fix[0]!.startsWith('remove or narrow the rule named above'));
  });
});
