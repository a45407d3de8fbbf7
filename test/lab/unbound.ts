// The lab's DNS servers are unbound (NodeLocalDNS's stand-in, the CoreDNS pods, the upstream
// resolver): the part of their configuration they share — one address, port 53, IPv4, in the
// foreground's place a pid file, no chroot, no user switch, no syslog.
export function unboundServer(ip: string, pidfile: string, dir: string): string[] {
  return [
    'server:',
    `  interface: ${ip}`,
    '  port: 53',
    '  do-ip6: no',
    '  do-daemonize: yes',
    `  pidfile: "${pidfile}"`,
    '  chroot: ""',
    '  username: ""',
    `  directory: "${dir}"`,
    '  use-syslog: no',
  ];
}
