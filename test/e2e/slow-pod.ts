// Make one CoreDNS pod of a lab slow, for the latency comparison. sch_netem (netem delay) is not in
// this kernel, so the pod's interface gets a real shaper instead: an htb class of 128 kbit/s for
// the UDP it sends, which puts tens of milliseconds on each UDP answer of that pod (well under
// 1 ms otherwise) while every probe still answers inside the probe timeout. Only UDP: the lab's
// NodeLocalDNS stand-in (unbound) forwards over TCP, and with that pod's TCP shaped too it answered
// SERVFAIL in some runs (2 of 4 here; unbound's retransmit timeout starts at 50 ms), which
// node-cache, with its seconds-long upstream timeout, would not — a latency regression would have
// become NodeLocalDNS failures. The lab's DNS packets are all under the 200-byte bucket.
import { execFileSync } from 'node:child_process';

export function slowPod(podNs: string): () => void {
  const tc = (...args: string[]) =>
    execFileSync('ip', ['netns', 'exec', podNs, 'tc', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  tc('qdisc', 'replace', 'dev', 'eth0', 'root', 'handle', '1:', 'htb', 'default', '20');
  tc(
    'class',
    'add',
    'dev',
    'eth0',
    'parent',
    '1:',
    'classid',
    '1:10',
    'htb',
    'rate',
    '128kbit',
    'ceil',
    '128kbit',
    'burst',
    '200',
    'cburst',
    '200',
  );
  tc('class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '10gbit', 'quantum', '1514');
  tc(
    'filter',
    'add',
    'dev',
    'eth0',
    'parent',
    '1:',
    'protocol',
    'ip',
    'prio',
    '1',
    'u32',
    'match',
    'ip',
    'protocol',
    '17',
    '0xff',
    'flowid',
    '1:10',
  );
  return () => {
    try {
      tc('qdisc', 'del', 'dev', 'eth0', 'root');
    } catch {
      /* the lab (and its namespace) may be gone already */
    }
  };
}
