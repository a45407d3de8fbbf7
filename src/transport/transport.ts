// The seam between the orchestrator and the nodes (pytest-testinfra's backends): a Transport opens
// a NodeSession per node; everything the validator does on a node goes through session.exec().
// SSH is one transport; record/ wraps any transport to capture a run, and replays one from a bundle.
import type { NodeSession, Target } from '../types.js';
import { connect, type ConnectOptions } from './ssh.js';

export interface Transport {
  connect(target: Target): Promise<NodeSession>;
}

export function sshTransport(opts: ConnectOptions): Transport {
  return { connect: (target) => connect(target, opts) };
}

/** What a run reads from its surroundings besides the nodes: time and chance. A recording keeps
 *  what it read; a replay gives the same values back, so the report comes out the same. */
export interface RunEnv {
  transport: Transport;
  now(): number;
  random(): number;
  sleep(ms: number): Promise<void>;
}

export function liveEnv(transport: Transport): RunEnv {
  return {
    transport,
    now: () => Date.now(),
    random: () => Math.random(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}
