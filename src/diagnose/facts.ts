// The facts several diagnoses read, computed once from the input before any diagnosis runs.
import { checksumSuspects, type Suspect } from './checksum-suspects.js';
import { podToHostSuspects, type PodToHostSuspect } from './pod-to-host-suspects.js';
import type { View } from './view.js';

export interface Facts {
  /** each CoreDNS endpoint's IP -> the node its pod runs on */
  epNode: ReadonlyMap<string, string | null>;
  /** the nodes the one-transport-across-the-overlay failures point at, with the evidence for and
   *  against checksum-offload (named by it, stood aside for by udp-blocked, reported by dns-unexplained) */
  checksum: readonly Suspect[];
  /** the nodes whose pods NodeLocalDNS does not answer while the node itself gets answers, with the
   *  evidence for and against pod-to-host-blocked (named by it, reported by dns-unexplained) */
  podToHost: readonly PodToHostSuspect[];
}

export function gatherFacts(v: View): Facts {
  const epNode = new Map((v.input.endpoints ?? []).map((e) => [e.ip, e.nodeName]));
  return { epNode, checksum: checksumSuspects(v, epNode), podToHost: podToHostSuspects(v) };
}
