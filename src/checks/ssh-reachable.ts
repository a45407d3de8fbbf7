// ssh.reachable: SSH login and root (directly or through sudo); on every node, inspected or not.
import { defineCheck } from './module.js';

export default defineCheck({
  ids: ['ssh.reachable'],
  title: 'SSH login and root (directly or through sudo)',
  rank: 0,
  scope: 'node',
  always: true,
  evaluate({ host, connection: c }, emit) {
    if (!c.ok) {
      return [
        emit('ssh.reachable', host, 'error', c.error ?? 'not connected', {
          address: `${c.address}:${c.port}`,
          user: c.user,
        }),
      ];
    }
    return [
      emit('ssh.reachable', host, 'pass', `connected as ${c.user}${c.become ? ' (sudo)' : ''}, root commands work`, {
        address: `${c.address}:${c.port}`,
      }),
    ];
  },
});
