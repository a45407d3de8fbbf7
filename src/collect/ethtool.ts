// `ethtool -k <dev>` -> feature map, `ethtool -i <nic>` -> driver. Pure; never throws.
import type { NodeFacts, OffloadFacts, Parsed } from '../types.js';
import { isParseError } from '../types.js';
import type { Reader } from './reader.js';
import { overlayDevices } from '../inventory/overlay.js';
import { shQuote } from '../transport/quote.js';
import { firstLine } from '../errors.js';

/** `ethtool -i`: the driver behind an interface (vmxnet3, virtio_net, veth, …). */
export interface DriverInfo {
  driver: string;
  version: string | null;
  firmware: string | null;
  busInfo: string | null;
}

declare module '../types.js' {
  interface OffloadFacts {
    /** `ethtool -i` of the same interface, read for the overlay's parent NIC only */
    driver?: DriverInfo | { parseError: string };
    /** the parent is a software device (no /sys/class/net/<nic>/device): no driver to ask for */
    software?: boolean;
  }
}

export function parseEthtoolK(text: string): Parsed<OffloadFacts> {
  const features: OffloadFacts['features'] = {};
  let header = false;
  for (const raw of text.split('\n')) {
    if (/^Features for /.test(raw)) {
      header = true;
      continue;
    }
    const m = /^\s*([a-z0-9][a-z0-9_-]*):\s+(on|off)(\s+\[(fixed|requested on|requested off)\])?\s*$/.exec(raw);
    if (m) features[m[1]!] = { on: m[2] === 'on', fixed: m[4] === 'fixed' };
  }
  if (!Object.keys(features).length) {
    const first = text.trim().split('\n')[0] ?? '';
    return { parseError: `ethtool -k: ${first ? `unexpected output "${first.slice(0, 100)}"` : 'no output'}` };
  }
  if (!header && !('rx-checksumming' in features) && !('tx-checksumming' in features))
    return { parseError: 'ethtool -k: no checksum features listed' };
  return { features };
}

/** `ethtool -i <nic>`: "driver: vmxnet3", "version: …", "firmware-version: …", "bus-info: …". */
export function parseEthtoolI(text: string): Parsed<DriverInfo> {
  const kv = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const m = /^([a-z][a-z-]*):[ \t]*(.*?)\s*$/.exec(raw);
    if (m) kv.set(m[1]!, m[2]!);
  }
  const driver = kv.get('driver');
  if (!driver) {
    const first = text.trim().split('\n')[0] ?? '';
    return { parseError: `ethtool -i: ${first ? `no driver line in "${first.slice(0, 100)}"` : 'no output'}` };
  }
  const opt = (k: string) => kv.get(k) || null;
  return { driver, version: opt('version'), firmware: opt('firmware-version'), busInfo: opt('bus-info') };
}

/** tx/rx checksum offload, as `ethtool --offload <dev> rx off tx off` turns it off. */
export function checksumOffload(o: OffloadFacts): { tx: boolean | null; rx: boolean | null } {
  const tx = o.features['tx-checksumming'] ?? o.features['tx-checksum-ip-generic'];
  const rx = o.features['rx-checksumming'];
  return { tx: tx ? tx.on : null, rx: rx ? rx.on : null };
}

/** The UDP-tunnel segmentation offloads a NIC does for VXLAN/Geneve it carries (calico#4384,
 *  kubespray#7268: vmxnet3 since EL 8.3 turns them on, and the tunnelled packets break). */
export const UDP_TUNNEL_OFFLOADS = ['tx-udp_tnl-segmentation', 'tx-udp_tnl-csum-segmentation'] as const;

export function udpTunnelOffloads(o: OffloadFacts): { name: string; on: boolean }[] {
  return UDP_TUNNEL_OFFLOADS.filter((n) => n in o.features).map((n) => ({ name: n, on: o.features[n]!.on }));
}

/** The driver of an interface as read, or null. */
export function driverOf(f: NodeFacts, nic: string): string | null {
  const o = f.offload[nic];
  if (!o || isParseError(o) || !o.driver || isParseError(o.driver)) return null;
  return o.driver.driver;
}

/** `ethtool -k` of the overlay devices the plugin may create, each only where it exists, and of
 *  their parent NICs — the lower devices the kernel links them to (/sys/class/net/<dev>/lower_*),
 *  else the default route's device ($dev, set by the gather prelude) — with `ethtool -i` for those
 *  with a device behind them (whose driver decides whether the NIC is a known offender); a veth, a
 *  bridge or a bond has none and is only marked so (`@@nodevice`), without starting a process. */
export const offloadReader: Reader<'offload'> = {
  key: 'offload',
  script: ({ cluster }) =>
    [
      'ksv_eth() { if command -v ethtool >/dev/null 2>&1; then ethtool "$@" 2>&1; echo "@@rc $?"; else echo "ethtool: not installed"; echo "@@rc 127"; fi; }',
      `ksv_par=; for i in ${overlayDevices(cluster).map(shQuote).join(' ')}; do if [ -e "/sys/class/net/$i" ]; then echo "@@ethtool $i"; ksv_eth -k "$i"; for l in "/sys/class/net/$i"/lower_*; do [ -e "$l" ] || continue; l=\${l##*/lower_}; case " $ksv_par " in *" $l "*) ;; *) ksv_par="$ksv_par $l";; esac; done; fi; done`,
      '[ -n "$ksv_par" ] || ksv_par=$dev',
      // a software device (veth, bridge, bond, VLAN) has no device behind it: no driver, no NIC
      // offloads to ask about (two processes less)
      'for i in $ksv_par; do if [ -e "/sys/class/net/$i/device" ]; then echo "@@ethtool $i"; ksv_eth -k "$i"; echo "@@ethtool-i $i"; ksv_eth -i "$i"; elif [ -e "/sys/class/net/$i" ]; then echo "@@nodevice $i"; echo "@@rc 0"; fi; done',
    ].join('\n'),
  parse(sections): NodeFacts['offload'] {
    const out: NodeFacts['offload'] = {};
    for (const s of sections.filter((x) => x.name === 'ethtool')) {
      out[s.arg] =
        s.code === 0
          ? parseEthtoolK(s.body)
          : { parseError: `ethtool -k ${s.arg} failed: ${firstLine(s.body.trim())}` };
    }
    for (const s of sections.filter((x) => x.name === 'nodevice')) {
      const o = out[s.arg];
      if (!o) out[s.arg] = { features: {}, software: true };
      else if (!isParseError(o)) o.software = true;
    }
    for (const s of sections.filter((x) => x.name === 'ethtool-i')) {
      const o = out[s.arg];
      if (!o || isParseError(o)) continue;
      o.driver =
        s.code === 0
          ? parseEthtoolI(s.body)
          : { parseError: `ethtool -i ${s.arg} failed: ${firstLine(s.body.trim())}` };
    }
    return out;
  },
};
