// Make one CoreDNS pod of a lab slow, for the latency comparison. sch_netem (netem delay) is not in
// this kernel, so the pod's interface gets a token-bucket shaper (tbf, a real qdisc): its replies
// leave at 512 kbit/s, which puts ~20-50 ms on each answer of that pod (under 1 ms otherwise) while
// every probe still answers well inside the probe timeout. The lab's DNS packets are all under the
// 200-byte bucket.
import { execFileSync } from 'node:child_process';

export function slowPod(podNs: string): () => void {
  const tc = (...args: string[]) => execFileSync('ip', ['netns', 'exec', podNs, 'tc', 'qdisc', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  tc('replace', 'dev', 'eth0', 'root', 'tbf', 'rate', '512kbit', 'burst', '200', 'limit', '20000');
  return () => {
    try {
      tc('del', 'dev', 'eth0', 'root');
    } catch {
      /* the lab (and its namespace) may be gone already */
    }
  };
}
