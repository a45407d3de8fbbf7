// Host firewalls in the lab, the real ones: firewalld from Debian's package on one node (its own
// table inet firewalld, zone public, reject with icmpx admin-prohibited), the same with the
// documented fix, Calico-like ACCEPTs in iptables-nft that do not stop it, and a native nft table
// dropping the VXLAN port.
import test from 'ava';
import { useLab, type Fault } from '../lab/lab.js';
import { failing, tempKnownHosts, validateJson } from './helpers.js';
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

test.serial(
  'firewalld on node2: overlay-blocked and pod-to-host-blocked on node2 only, firewalld and its zone named, its own fix',
  async (t) => {
    await withFault('firewalld', ['node2'], async () => {
      const { run, report } = await validateJson(lab().inventoryDir, kh.file);
      t.is(run.code, 1, why(report));
      t.deepEqual(failing(report).sort(), ['overlay-blocked', 'pod-to-host-blocked'], why(report));
      firewalldNamed(t, report);
    });
  },
);

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

test.serial(
  'firewalld with the documented fix (trusted zone for the pod devices, the VXLAN port open): green',
  async (t) => {
    await withFault('firewalld-open', ['node2'], async () => {
      const { run, report } = await validateJson(lab().inventoryDir, kh.file);
      t.is(run.code, 0, why(report));
      t.deepEqual(failing(report), []);
      t.is(
        result(report, 'firewall.host', 'node2')?.status,
        'pass',
        JSON.stringify(result(report, 'firewall.host', 'node2')),
      );
    });
  },
);

test.serial(
  'a native nft table dropping the VXLAN port on node3: overlay-blocked on node3, the table named',
  async (t) => {
    await withFault('nft-vxlan-drop', ['node3'], async () => {
      const { run, report } = await validateJson(lab().inventoryDir, kh.file);
      t.is(run.code, 1, why(report));
      t.deepEqual(failing(report), ['overlay-blocked'], why(report));
      const d = diag(report, 'overlay-blocked')!;
      t.deepEqual(d.hosts, ['node3']);
      t.true(
        d.evidence.some((e) =>
          /"udp dport 4789 counter packets \d+ bytes \d+ drop" \(nftables, hostfw input\)/.test(e),
        ),
        why(report),
      );
      t.true(
        d.evidence.some((e) => e.includes('the native nftables table inet hostfw')),
        why(report),
      );
      t.is(result(report, 'firewall.host', 'node3')?.status, 'warn');
    });
  },
);
