// The kernel release, read without starting a process where /proc is there.
import type { NodeFacts } from '../types.js';
import type { Reader } from './reader.js';

export const kernelReader: Reader<'kernel'> = {
  key: 'kernel',
  // (a string sysctl reads whole with the shell's `read`; integer ones do not, see sysctl-forwarding)
  script: () =>
    'echo @@kernel; k=; read -r k </proc/sys/kernel/osrelease 2>/dev/null; if [ -n "$k" ]; then echo "$k"; echo "@@rc 0"; else uname -r; echo "@@rc $?"; fi',
  parse(sections): NodeFacts['kernel'] {
    const s = sections.find((x) => x.name === 'kernel');
    return (s && s.code === 0 && s.body.trim().split('\n')[0]?.trim()) || null;
  },
};
