// host-unreachable: a node could not be inspected; the transport's classified reason is the evidence.
import { defineDiagnosis, type Draft } from './module.js';
import type { View } from './view.js';

export function hostUnreachable(v: View): Draft[] {
  const down = v.input.hosts.filter((h) => !h.inspected);
  if (!down.length) return [];
  const fix = new Set<string>();
  for (const h of down) {
    const e = h.error ?? '';
    if (/refused|no route|resolve|reset|timed out|no SSH session/i.test(e))
      fix.add(`check that sshd runs and port 22 is open on ${h.name} (${h.address}): ssh -v ${h.address}`);
    if (/authentication|private key/i.test(e))
      fix.add('check ansible_user / ansible_ssh_private_key_file, or load the key into ssh-agent (ssh-add)');
    if (/host key/i.test(e))
      fix.add(
        'if the node was rebuilt, remove its old host key (ssh-keygen -R <host>), then run again (accept-new records the new key)',
      );
    if (/sudo|root/i.test(e))
      fix.add('give the SSH user passwordless sudo, or set ansible_become_password (it is fed to sudo on stdin)');
    if (/bastion/i.test(e)) fix.add('check the bastion host: it must reach the nodes on their SSH port');
  }
  if (!fix.size) fix.add("run: ansible -i <inventory> -m ping <host> to see Ansible's view of the same connection");
  return [
    {
      severity: 'fail',
      hosts: down.map((h) => h.name),
      summary: `${down.length} node(s) could not be inspected: ${down.map((h) => h.name).join(', ')}`,
      evidence: down.map((h) => `${h.name} (${h.address}): ${h.error ?? 'not connected'}`),
      fix: [...fix],
    },
  ];
}

export default defineDiagnosis({
  id: 'host-unreachable',
  explainsChecks: ['ssh.reachable'],
  run: (v) => hostUnreachable(v),
});
