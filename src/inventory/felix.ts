// What Calico's Felix does with checksum offload on its tunnel devices, so a check or a diagnosis
// can say which case a node is in. From projectcalico/calico felix/environment/feature_detect_linux.go
// (`ChecksumOffloadBroken: kerV.Compare(v5Dot7Dot0) <= 0`, overridable with featureDetectOverride,
// which Kubespray sets from calico_feature_detect_override) and felix/ethtool (EthtoolTXOff: with
// ChecksumOffloadBroken, Felix turns TX checksum offload off on vxlan.calico, vxlan-v6.calico and
// tunl0 and leaves RX on). Calico >= 3.28 (Kubespray >= v2.26) leaves offload on above 5.7. Pure.
import type { ClusterModel } from '../types.js';

/** "5.4.0-150-generic" -> [5, 4, 0]; null when it does not start with a version. */
export function kernelVersion(release: string | null | undefined): [number, number, number] | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release?.trim() ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/** The kernels Felix itself treats as having broken checksum offload: up to and including 5.7.0. */
export function felixDeemsBroken(release: string | null | undefined): boolean | null {
  const v = kernelVersion(release);
  if (!v) return null;
  const [a, b, c] = v;
  return a < 5 || (a === 5 && (b < 7 || (b === 7 && c === 0)));
}

/** calico_feature_detect_override's ChecksumOffloadBroken (Felix reads "Name=bool,Name=bool"); null
 *  when it is not set (or not a boolean Felix would accept). */
export function checksumOverride(c: ClusterModel): boolean | null {
  for (const part of (c.calicoFeatureDetectOverride ?? '').split(',')) {
    const m = /^\s*ChecksumOffloadBroken\s*=\s*(\S+)\s*$/.exec(part);
    if (!m) continue;
    if (/^(1|t|true)$/i.test(m[1]!)) return true;
    if (/^(0|f|false)$/i.test(m[1]!)) return false;
  }
  return null;
}

/** The devices Felix turns TX checksum offload off on. */
export const FELIX_DEVICES = ['vxlan.calico', 'vxlan-v6.calico', 'tunl0'];

export interface FelixView {
  /** Felix manages this device's offload (Calico, and one of its tunnel devices) */
  applies: boolean;
  /** TX off is what Felix should have left on this node (override, or a kernel it deems broken) */
  expectsTxOff: boolean | null;
  /** one sentence: which case applies */
  why: string;
}

/** What Felix should have done on a node with this kernel, given the inventory. */
export function felixView(c: ClusterModel, device: string, kernel: string | null): FelixView {
  if (c.networkPlugin !== 'calico' || !FELIX_DEVICES.includes(device))
    return {
      applies: false,
      expectsTxOff: null,
      why: `${c.networkPlugin} does not manage checksum offload on ${device}`,
    };
  const o = checksumOverride(c);
  const broken = felixDeemsBroken(kernel);
  const k = kernel ? `kernel ${kernel}` : 'an unknown kernel';
  if (o === true)
    return {
      applies: true,
      expectsTxOff: true,
      why: `the inventory sets calico_feature_detect_override "${c.calicoFeatureDetectOverride}": Felix should have turned TX checksum offload off on ${device}`,
    };
  if (o === false)
    return {
      applies: true,
      expectsTxOff: false,
      why: `the inventory sets calico_feature_detect_override "${c.calicoFeatureDetectOverride}", which keeps offload on whatever the kernel`,
    };
  if (broken === true)
    return {
      applies: true,
      expectsTxOff: true,
      why: `${k} is in the range Felix itself treats as broken (<= 5.7.0): Felix should have turned TX checksum offload off on ${device}`,
    };
  if (broken === false)
    return {
      applies: true,
      expectsTxOff: false,
      why: `${k} is above 5.7.0: Calico >= 3.28 (Kubespray >= v2.26) leaves offload on unless calico_feature_detect_override sets ChecksumOffloadBroken=true`,
    };
  return { applies: true, expectsTxOff: null, why: `the kernel release was not read, so Felix's choice is not known` };
}
