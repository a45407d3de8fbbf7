// The overlay of every plugin Kubespray installs, from the inventory's own variables; the parsers
// for ethtool -k/-i on captured output (the lab's devices, and a vmxnet3 NIC as public bug reports
// show it); the pod-namespace counters; and the overlay.* checks on those facts: offload on by
// itself passes, Felix's TX-off/RX-on passes, a kernel <= 5.7.0, a vmxnet3 parent or an override
// Felix has not applied warn.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory } from '../../src/inventory/load.js';
import { clusterModel } from '../../src/inventory/kubespray.js';
import { expectedOverlay, noOverlayReason, overlayDevices } from '../../src/inventory/overlay.js';
import { checksumOverride, felixDeemsBroken, felixView } from '../../src/inventory/felix.js';
import {
  offloadReader,
  parseEthtoolI,
  parseEthtoolK,
  checksumOffload,
  udpTunnelOffloads,
} from '../../src/collect/ethtool.js';
import { parseCounters, podKey } from '../../src/collect/counters.js';
import { parseGather } from '../../src/collect/gather.js';
import { splitSections } from '../../src/collect/sections.js';
import { linksReader } from '../../src/collect/iproute.js';
import { kernelReader } from '../../src/collect/kernel.js';
import { evaluateNode, selectChecks } from '../../src/checks/registry.js';
import { probeScript } from '../../src/probe/program.js';
import {
  isParseError,
  type CheckResult,
  type ClusterModel,
  type Counters,
  type NodeFacts,
  type OffloadFacts,
} from '../../src/types.js';
import type { DriverInfo } from '../../src/collect/ethtool.js';
import { CLUSTER } from './model.js';
import { ROOT } from '../e2e/helpers.js';

const fx = (f: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'collect', f), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'ksv-overlay-'));
test.after.always(() => rmSync(work, { recursive: true, force: true }));

/** The cluster model of a one-node inventory with these group vars. */
function model(vars: Record<string, unknown>): ClusterModel {
  const file = join(work, `inv-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(
    file,
    JSON.stringify({
      all: {
        hosts: { node1: { ansible_host: '198.18.0.10' } },
        vars,
        children: { kube_control_plane: { hosts: { node1: null } }, kube_node: { hosts: { node1: null } } },
      },
    }),
  );
  return clusterModel(loadInventory([file], {}));
}

test('Kubespray defaults: Calico VXLAN on vxlan.calico, port 4789, VNI 4096, overhead 50; pods in 10.233.64.0/18', (t) => {
  const c = model({});
  const ov = expectedOverlay(c)!;
  t.like(ov, {
    plugin: 'calico',
    device: 'vxlan.calico',
    encap: 'vxlan',
    overhead: 50,
    port: 4789,
    vni: 4096,
    portVar: 'calico_vxlan_port',
  });
  t.deepEqual(
    ov.devices.map((d) => d.device),
    ['vxlan.calico'],
  );
  t.deepEqual(c.podsSubnets, ['10.233.64.0/18']);
  t.false(c.ipv6Stack);
});

test('Calico: IP-in-IP is tunl0 (20 bytes, no UDP port); dual stack adds vxlan-v6.calico (70 bytes); BGP-only has no overlay and says why', (t) => {
  t.like(
    expectedOverlay(model({ calico_network_backend: 'bird', calico_ipip_mode: 'Always', calico_vxlan_mode: 'Never' })),
    { device: 'tunl0', encap: 'ipip', overhead: 20, port: null },
  );
  const ds = model({ ipv6_stack: true });
  t.deepEqual(
    expectedOverlay(ds)!.devices.map((d) => [d.device, d.family, d.overhead, d.port]),
    [
      ['vxlan.calico', 4, 50, 4789],
      ['vxlan-v6.calico', 6, 70, 4789],
    ],
  );
  t.deepEqual(ds.podsSubnets, ['10.233.64.0/18', 'fd85:ee78:d8a6:8607::1:0000/112']);
  // the older switch that ipv6_stack defaults from
  t.true(model({ enable_dual_stack_networks: true }).ipv6Stack);
  const bgp = model({ calico_network_backend: 'bird', calico_ipip_mode: 'Never', calico_vxlan_mode: 'Never' });
  t.is(expectedOverlay(bgp), null);
  t.regex(noOverlayReason(bgp), /without encapsulation.*BGP/);
  // FELIX_VXLANPORT is only set with the vxlan backend: with bird, Felix's 4789 applies
  t.is(
    expectedOverlay(model({ calico_network_backend: 'bird', calico_vxlan_mode: 'Always', calico_vxlan_port: 4799 }))!
      .port,
    4789,
  );
  t.is(expectedOverlay(model({ calico_vxlan_port: 4799 }))!.port, 4799);
});

test('flannel: flannel.<vni> on flannel_vxlan_port (8472 by default), flannel-v6 with ipv6_stack; host-gw has no overlay', (t) => {
  const f = model({ kube_network_plugin: 'flannel' });
  t.like(expectedOverlay(f), {
    plugin: 'flannel',
    device: 'flannel.1',
    port: 8472,
    vni: 1,
    overhead: 50,
    portVar: 'flannel_vxlan_port',
  });
  t.deepEqual(overlayDevices(f), ['flannel.1', 'flannel-v6.1']);
  t.like(expectedOverlay(model({ kube_network_plugin: 'flannel', flannel_vxlan_vni: 7, flannel_vxlan_port: 4790 })), {
    device: 'flannel.7',
    port: 4790,
  });
  t.deepEqual(
    expectedOverlay(model({ kube_network_plugin: 'flannel', ipv6_stack: true }))!.devices.map((d) => d.device),
    ['flannel.1', 'flannel-v6.1'],
  );
  const hg = model({ kube_network_plugin: 'flannel', flannel_backend_type: 'host-gw' });
  t.is(expectedOverlay(hg), null);
  t.regex(noOverlayReason(hg), /host-gw: routes without encapsulation/);
  t.throws(() => model({ kube_network_plugin: 'flannel', flannel_vxlan_port: 'x; reboot' }), {
    message: /flannel_vxlan_port must be a port/,
  });
  t.throws(() => model({ kube_network_plugin: 'flannel', flannel_vxlan_vni: '1$(reboot)' }), {
    message: /flannel_vxlan_vni must be a whole number/,
  });
  t.throws(() => model({ kube_network_plugin: 'cilium', cilium_tunnel_mode: 'vxlan; reboot' }), {
    message: /cilium_tunnel_mode .* is not a mode name/,
  });
  // kube-proxy's modes as Kubespray's validate_inventory accepts them; nftables is one (v2.28+)
  t.is(model({ kube_proxy_mode: 'nftables' }).kubeProxyMode, 'nftables');
  t.is(model({}).kubeProxyMode, 'ipvs');
  t.throws(() => model({ kube_proxy_mode: 'userspace' }), {
    message: /kube_proxy_mode "userspace" is not one of iptables, ipvs, nftables/,
  });
  // kube_pods_subnet only feeds the pod-namespace counters: Jinja this tool cannot evaluate leaves them unread, the run goes on
  t.deepEqual(model({ kube_pods_subnet: "{{ lookup('file', '/x') }}" }).podsSubnets, []);
});

test('Cilium: cilium_vxlan on 8472 in tunnel mode, cilium_geneve on 6081, nothing when tunnelling is disabled; other plugins say they are not modelled', (t) => {
  t.like(expectedOverlay(model({ kube_network_plugin: 'cilium' })), {
    device: 'cilium_vxlan',
    port: 8472,
    encap: 'vxlan',
    portVar: null,
  });
  t.like(expectedOverlay(model({ kube_network_plugin: 'cilium', cilium_tunnel_mode: 'geneve' })), {
    device: 'cilium_geneve',
    port: 6081,
    encap: 'geneve',
  });
  const native = model({ kube_network_plugin: 'cilium', cilium_tunnel_mode: 'disabled' });
  t.is(expectedOverlay(native), null);
  t.regex(noOverlayReason(native), /native routing/);
  t.regex(
    noOverlayReason(model({ kube_network_plugin: 'kube-ovn' })),
    /kube-ovn: this tool models the overlays of calico, flannel and cilium/,
  );
});

test('Felix: kernels <= 5.7.0 are the ones it deems broken; the override wins; which case applies is said', (t) => {
  t.true(felixDeemsBroken('5.4.0-150-generic'));
  t.true(felixDeemsBroken('5.7.0'));
  t.false(felixDeemsBroken('5.7.1'));
  t.false(felixDeemsBroken('6.1.0-18-amd64'));
  t.true(felixDeemsBroken('4.18.0-240.el8.x86_64'));
  t.is(felixDeemsBroken(null), null);
  t.is(checksumOverride({ ...CLUSTER, calicoFeatureDetectOverride: 'ChecksumOffloadBroken=true' }), true);
  t.is(
    checksumOverride({ ...CLUSTER, calicoFeatureDetectOverride: 'SNATFullyRandom=false,ChecksumOffloadBroken=false' }),
    false,
  );
  t.is(checksumOverride(CLUSTER), null);
  t.regex(
    felixView(CLUSTER, 'vxlan.calico', '6.1.0').why,
    /above 5\.7\.0: Calico >= 3\.28 \(Kubespray >= v2\.26\) leaves offload on/,
  );
  t.true(felixView(CLUSTER, 'vxlan.calico', '5.4.0').expectsTxOff!);
  t.false(felixView({ ...CLUSTER, networkPlugin: 'flannel' }, 'flannel.1', '5.4.0').applies);
});

test('ethtool -i: vmxnet3 (weave#3887) and the lab veth; garbage is a parse error', (t) => {
  t.deepEqual(parseEthtoolI(fx('ethtool-i-vmxnet3.txt')), {
    driver: 'vmxnet3',
    version: '1.5.0.0-k-NAPI',
    firmware: null,
    busInfo: '0000:0b:00.0',
  } satisfies DriverInfo);
  t.like(parseEthtoolI(fx('ethtool-i-veth.txt')), { driver: 'veth', version: '1.0' });
  t.true(isParseError(parseEthtoolI('')));
  t.true(isParseError(parseEthtoolI('Cannot get driver information: No such device\n')));
});

test('ethtool -k: vmxnet3 UDP-tunnel offloads off [fixed] on EL 8.2, on from EL 8.3 (underscored feature names); flannel.1; Felix leaves TX off and RX on', (t) => {
  const el82 = parseEthtoolK(fx('ethtool-k-vmxnet3-el8.2.txt')) as OffloadFacts;
  const el83 = parseEthtoolK(fx('ethtool-k-vmxnet3-el8.3.txt')) as OffloadFacts;
  t.deepEqual(udpTunnelOffloads(el82), [
    { name: 'tx-udp_tnl-segmentation', on: false },
    { name: 'tx-udp_tnl-csum-segmentation', on: false },
  ]);
  t.true(el82.features['tx-udp_tnl-segmentation']!.fixed);
  t.deepEqual(udpTunnelOffloads(el83), [
    { name: 'tx-udp_tnl-segmentation', on: true },
    { name: 'tx-udp_tnl-csum-segmentation', on: true },
  ]);
  t.deepEqual(checksumOffload(el83), { tx: true, rx: true });
  t.deepEqual(checksumOffload(parseEthtoolK(fx('ethtool-k-flannel.1.txt')) as OffloadFacts), { tx: true, rx: true });
  const felix = parseEthtoolK(fx('ethtool-k-vxlan.calico-felix.txt')) as OffloadFacts;
  t.deepEqual(checksumOffload(felix), { tx: false, rx: true });
  t.false(felix.features['tx-checksum-ip-generic']!.on);
});

test('the offload reader reads the overlay devices and their parent (ethtool -k and -i), the driver kept with the parent', (t) => {
  const sh = offloadReader.script({ cluster: CLUSTER });
  t.regex(sh, /for i in '?vxlan\.calico'? '?vxlan-v6\.calico'? '?tunl0'?; do/);
  t.regex(sh, /lower_\*/);
  t.regex(
    offloadReader.script({ cluster: { ...CLUSTER, networkPlugin: 'flannel', flannelVxlanVni: 1 } }),
    /for i in '?flannel\.1'? '?flannel-v6\.1'?; do/,
  );
  const out = offloadReader.parse(
    splitSections(
      [
        '@@ethtool vxlan.calico',
        fx('ethtool-k-vxlan.calico.txt'),
        '@@rc 0',
        '@@ethtool ens192',
        fx('ethtool-k-vmxnet3-el8.3.txt'),
        '@@rc 0',
        '@@ethtool-i ens192',
        fx('ethtool-i-vmxnet3.txt'),
        '@@rc 0',
      ].join('\n'),
    ),
    { cluster: CLUSTER },
  );
  const nic = out['ens192'] as OffloadFacts;
  t.like(nic.driver, { driver: 'vmxnet3' });
  t.is((out['vxlan.calico'] as OffloadFacts).driver, undefined);
  const failed = offloadReader.parse(
    splitSections(
      [
        '@@ethtool eth0',
        fx('ethtool-k-eth0-veth.txt'),
        '@@rc 0',
        '@@ethtool-i eth0',
        'Cannot get driver information: Operation not supported',
        '@@rc 71',
      ].join('\n'),
    ),
    { cluster: CLUSTER },
  );
  t.true(isParseError((failed['eth0'] as OffloadFacts).driver));
  const soft = offloadReader.parse(splitSections(['@@nodevice eth0', '@@rc 0'].join('\n')), { cluster: CLUSTER });
  t.deepEqual(soft['eth0'], { features: {}, software: true });
});

test("the reader script in a real shell: the parent found through <dev>/lower_*, else the default route's device", (t) => {
  // a stand-in /sys/class/net (a directory per link) and ethtool (a shell function): only the
  // script's own logic is under test here; the lab runs it for real
  const script = offloadReader.script({ cluster: CLUSTER }).replaceAll('/sys/class/net/', '$SYSNET/');
  const dir = mkdtempSync(join(work, 'sys-'));
  for (const d of ['vxlan.calico', 'eth0', 'eth1', 'eth1/device']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'vxlan.calico', 'lower_eth0'), '');
  const heads = () =>
    spawnSync('sh', ['-c', `SYSNET=${dir}; dev=eth1; ethtool() { echo "ethtool $*"; }\n${script}`], {
      encoding: 'utf8',
    })
      .stdout.split('\n')
      .filter((l) => l.startsWith('@@') && !l.startsWith('@@rc'));
  // eth0 (a veth: no device behind it) is not asked for a driver
  t.deepEqual(heads(), ['@@ethtool vxlan.calico', '@@nodevice eth0']);
  rmSync(join(dir, 'vxlan.calico', 'lower_eth0'));
  t.deepEqual(heads(), ['@@ethtool vxlan.calico', '@@ethtool eth1', '@@ethtool-i eth1']);
});

test("pod namespaces: the prober is given the pods' subnets (validated, quoted); their counters are filed under each address", (t) => {
  const p = probeScript([], {
    count: 1,
    timeoutMs: 100,
    markers: { before: '#B', probes: '#P', after: '#A' },
    podSubnets: ['10.233.64.0/18', "x'; reboot", 'fd85:ee78:d8a6:8607::1:0000/112'],
  });
  t.regex(p.script, / '#A' '?10\.233\.64\.0\/18,fd85:ee78:d8a6:8607::1:0000\/112'? /);
  t.notRegex(p.script, /reboot/);
  t.regex(
    probeScript([], { count: 1, timeoutMs: 100, markers: { before: '#B', probes: '#P', after: '#A' } }).script,
    / '#A' '?-'? /,
  );
  const snmp = fx('proc-net-snmp.txt')
    .split('\n')
    .filter((l) => /^(Tcp|Udp):/.test(l))
    .join('\n');
  const c = parseCounters(
    [
      '@@snmp',
      fx('proc-net-snmp.txt'),
      '@@rc 0',
      '@@value Netns.pods',
      '2',
      '@@rc 0',
      '@@podsnmp 10.233.64.5,fd85::5',
      snmp,
      '@@rc 0',
      '@@podsnmp 10.233.65.9',
      'cat: /proc/77/net/snmp: No such process',
      '@@rc 1',
      '@@podsnmp $(reboot)',
      snmp,
      '@@rc 0',
    ].join('\n'),
  ) as Counters;
  t.is(c['Netns.pods'], 2);
  t.is(typeof c[podKey('10.233.64.5', 'Udp.InCsumErrors')], 'number');
  t.is(typeof c[podKey('fd85::5', 'Tcp.InCsumErrors')], 'number');
  t.false(Object.keys(c).some((k) => k.startsWith('Pod.10.233.65.9') || k.includes('reboot')));
  t.false(
    Object.keys(c).some((k) => k.startsWith('Pod.') && k.includes('Ip.')),
    'only the Tcp and Udp lines',
  );
});

// ------------------------------------------------------------------ the checks on parsed facts

const CONN = { ok: true, error: null, address: '198.18.0.10', port: 22, user: 'root', become: false };
interface Node {
  kernel?: string;
  overlay?: { name: string; parent?: string; port?: number; id?: number; kind?: string; ethtool?: string }[];
  parent?: { name: string; k: string; i?: string };
  /** the parent (eth0) is a software device, as the lab's veth: no `ethtool -i` */
  software?: boolean;
}

/** Facts of one node: links as `ip -d -j addr` prints them (the lab's capture, with the overlay
 *  devices swapped in), ethtool output per device. */
function facts(n: Node): NodeFacts {
  const links = (
    JSON.parse(fx('ip-d-addr.json')) as {
      ifname: string;
      linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
    }[]
  ).filter((l) => l.ifname !== 'vxlan.calico');
  const vx = (JSON.parse(fx('ip-d-addr.json')) as { ifname: string }[]).find((l) => l.ifname === 'vxlan.calico')!;
  const sections: string[] = ['@@kernel', n.kernel ?? '6.1.0-18-amd64', '@@rc 0'];
  for (const o of n.overlay ?? [{ name: 'vxlan.calico' }]) {
    const l = structuredClone(vx) as {
      ifname: string;
      linkinfo: { info_kind: string; info_data: Record<string, unknown> };
    };
    l.ifname = o.name;
    l.linkinfo.info_kind = o.kind ?? 'vxlan';
    l.linkinfo.info_data = {
      ...l.linkinfo.info_data,
      link: o.parent ?? 'eth0',
      port: o.port ?? 4789,
      id: o.id ?? 4096,
    };
    links.push(l);
    sections.push(`@@ethtool ${o.name}`, o.ethtool ?? fx('ethtool-k-vxlan.calico.txt'), '@@rc 0');
  }
  if (n.parent) {
    const eth0 = links.find((l) => l.ifname === 'eth0')!;
    links.push({ ...structuredClone(eth0), ifname: n.parent.name, linkinfo: undefined });
    sections.push(
      `@@ethtool ${n.parent.name}`,
      n.parent.k,
      '@@rc 0',
      `@@ethtool-i ${n.parent.name}`,
      n.parent.i ?? fx('ethtool-i-vmxnet3.txt'),
      '@@rc 0',
    );
  } else if (n.software) {
    sections.push('@@nodevice eth0', '@@rc 0');
  } else {
    sections.push(
      '@@ethtool eth0',
      fx('ethtool-k-eth0-veth.txt'),
      '@@rc 0',
      '@@ethtool-i eth0',
      fx('ethtool-i-veth.txt'),
      '@@rc 0',
    );
  }
  sections.push('@@link', JSON.stringify(links), '@@rc 0');
  return parseGather('node1', sections.join('\n'), [kernelReader, linksReader, offloadReader]);
}

const run = (f: NodeFacts, c: ClusterModel = CLUSTER): Record<string, CheckResult> =>
  Object.fromEntries(
    evaluateNode(
      { host: 'node1', cluster: c, connection: CONN, facts: f, probes: [], counterDelta: {} },
      selectChecks(['overlay.*']),
    ).map((r) => [r.check, r]),
  );

test('overlay.offload: on above kernel 5.7 passes and says why (no warning on a healthy cluster); TX off with RX on (Felix) passes', (t) => {
  const healthy = run(facts({}));
  t.is(healthy['overlay.offload']!.status, 'pass');
  t.regex(
    healthy['overlay.offload']!.summary,
    /TX checksum offload is on for vxlan\.calico \(kernel 6\.1\.0-18-amd64 is above 5\.7\.0: Calico >= 3\.28.*\): no risk by itself/,
  );
  t.is(healthy['overlay.nic-offload']!.status, 'pass');
  const soft = run(facts({ software: true }))['overlay.nic-offload']!;
  t.is(soft.status, 'pass');
  t.regex(soft.summary, /eth0 \(parent of vxlan\.calico\) is a software device/);
  t.is(healthy['overlay.interface']!.status, 'pass');
  t.is(healthy['overlay.mtu']!.status, 'pass');
  const felix = run(facts({ overlay: [{ name: 'vxlan.calico', ethtool: fx('ethtool-k-vxlan.calico-felix.txt') }] }));
  t.is(felix['overlay.offload']!.status, 'pass');
  t.regex(felix['overlay.offload']!.summary, /off for vxlan\.calico \(RX on, as Felix leaves it/);
  t.is(
    run(facts({ overlay: [{ name: 'vxlan.calico', ethtool: fx('ethtool-k-vxlan.calico-off.txt') }] }))[
      'overlay.offload'
    ]!.status,
    'pass',
  );
});

test('overlay.offload warns on a kernel Felix deems broken, on an override Felix has not applied, and over a vmxnet3 NIC with tunnel offloads on', (t) => {
  const old = run(facts({ kernel: '5.4.0-150-generic' }))['overlay.offload']!;
  t.is(old.status, 'warn');
  t.regex(old.summary, /kernel 5\.4\.0-150-generic, in the range Felix itself treats as broken/);
  t.regex(old.remediation!.text, /rollout restart daemonset calico-node/);
  const ovr = run(facts({}), { ...CLUSTER, calicoFeatureDetectOverride: 'ChecksumOffloadBroken=true' })[
    'overlay.offload'
  ]!;
  t.is(ovr.status, 'warn');
  t.regex(ovr.summary, /Felix has not applied it/);
  t.notRegex(ovr.remediation!.text, /set calico_feature_detect_override/);
  const vm = run(
    facts({
      overlay: [{ name: 'vxlan.calico', parent: 'ens192' }],
      parent: { name: 'ens192', k: fx('ethtool-k-vmxnet3-el8.3.txt') },
    }),
  );
  t.is(vm['overlay.offload']!.status, 'warn');
  t.regex(
    vm['overlay.offload']!.summary,
    /over ens192, a vmxnet3 NIC with tx-udp_tnl-segmentation and tx-udp_tnl-csum-segmentation on/,
  );
  // the same NIC on EL 8.2 (offloads off [fixed]) is no offender
  const el82 = run(
    facts({
      overlay: [{ name: 'vxlan.calico', parent: 'ens192' }],
      parent: { name: 'ens192', k: fx('ethtool-k-vmxnet3-el8.2.txt') },
    }),
  );
  t.is(el82['overlay.offload']!.status, 'pass');
  t.is(el82['overlay.nic-offload']!.status, 'pass');
  // flannel on an old kernel warns as well (the kernel bug is not Felix's), without Felix's advice
  const fl = run(
    facts({
      kernel: '5.4.0',
      overlay: [{ name: 'flannel.1', port: 8472, id: 1, ethtool: fx('ethtool-k-flannel.1.txt') }],
    }),
    {
      ...CLUSTER,
      networkPlugin: 'flannel',
      calicoBackend: null,
      flannelBackendType: 'vxlan',
      flannelVxlanVni: 1,
      flannelVxlanPort: 8472,
    },
  )['overlay.offload']!;
  t.is(fl.status, 'warn');
  t.notRegex(fl.remediation!.text, /calico/);
});

test('overlay.nic-offload: a vmxnet3 parent with UDP-tunnel offloads on warns with the ethtool fix (never run by --fix); IP-in-IP and no overlay skip', (t) => {
  const r = run(
    facts({
      overlay: [{ name: 'vxlan.calico', parent: 'ens192' }],
      parent: { name: 'ens192', k: fx('ethtool-k-vmxnet3-el8.3.txt') },
    }),
  )['overlay.nic-offload']!;
  t.is(r.status, 'warn');
  t.regex(r.summary, /ens192 \(parent of vxlan\.calico\) is a vmxnet3 NIC/);
  t.deepEqual(r.remediation!.argv, [
    'ethtool',
    '-K',
    'ens192',
    'tx-udp_tnl-segmentation',
    'off',
    'tx-udp_tnl-csum-segmentation',
    'off',
  ]);
  t.false(r.remediation!.safe);
  t.regex(r.remediation!.text, /calico_vxlan_port/);
  t.like(r.evidence, { driver: 'vmxnet3', driverVersion: '1.5.0.0-k-NAPI', 'tx-udp_tnl-segmentation': true });
  const ipip = { ...CLUSTER, calicoBackend: 'bird' as const, calicoVxlanMode: 'Never', calicoIpipMode: 'Always' };
  const tunl = run(
    facts({
      overlay: [{ name: 'tunl0', kind: 'ipip', parent: 'ens192' }],
      parent: { name: 'ens192', k: fx('ethtool-k-vmxnet3-el8.3.txt') },
    }),
    ipip,
  );
  t.is(tunl['overlay.nic-offload']!.status, 'skip');
  t.is(tunl['overlay.interface']!.status, 'pass');
  t.is(tunl['overlay.mtu']!.status, 'pass');
  const bgp = run(facts({}), { ...CLUSTER, calicoBackend: 'bird', calicoVxlanMode: 'Never', calicoIpipMode: 'Never' });
  for (const id of ['overlay.interface', 'overlay.mtu', 'overlay.offload', 'overlay.nic-offload']) {
    t.is(bgp[id]!.status, 'skip', id);
    t.regex(bgp[id]!.summary, /no overlay to check \(Calico without encapsulation/);
  }
});

test("overlay.interface names the plugin's device and port variable: flannel.1 on 8472; Cilium; a dual-stack node without vxlan-v6.calico fails", (t) => {
  const flannel = {
    ...CLUSTER,
    networkPlugin: 'flannel',
    calicoBackend: null,
    flannelBackendType: 'vxlan',
    flannelVxlanVni: 1,
    flannelVxlanPort: 8472,
  };
  const ok = run(
    facts({ overlay: [{ name: 'flannel.1', port: 8472, id: 1, ethtool: fx('ethtool-k-flannel.1.txt') }] }),
    flannel,
  );
  t.is(ok['overlay.interface']!.status, 'pass');
  t.regex(ok['overlay.interface']!.summary, /flannel\.1 is up \(vxlan, VNI 1, port 8472\)/);
  t.regex(ok['overlay.offload']!.summary, /on for flannel\.1 \(kernel/);
  const wrongPort = run(facts({ overlay: [{ name: 'flannel.1', port: 4789, id: 1 }] }), flannel)['overlay.interface']!;
  t.is(wrongPort.status, 'warn');
  t.regex(wrongPort.summary, /flannel\.1 uses UDP port 4789, the inventory says flannel_vxlan_port 8472/);
  const missing = run(facts({}), flannel)['overlay.interface']!;
  t.is(missing.status, 'fail');
  t.regex(missing.summary, /flannel\.1 does not exist/);
  t.regex(missing.remediation!.text, /app=flannel/);
  const cilium = run(facts({ overlay: [{ name: 'cilium_vxlan', port: 8472, id: 0 }] }), {
    ...CLUSTER,
    networkPlugin: 'cilium',
    calicoBackend: null,
    ciliumTunnelMode: 'vxlan',
  });
  t.is(cilium['overlay.interface']!.status, 'pass');
  const ds = run(facts({}), { ...CLUSTER, ipv6Stack: true, calicoVxlanModeIpv6: 'Always' })['overlay.interface']!;
  t.is(ds.status, 'fail');
  t.regex(
    ds.summary,
    /vxlan\.calico is up.*; vxlan-v6\.calico does not exist \(calico VXLAN over IPv6 is configured\)/,
  );
  t.is((ds.evidence.devices as unknown[]).length, 2);
});
