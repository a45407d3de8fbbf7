// Kubespray's bastion: the nodes are reachable only through the bastion host (its namespace has
// no IP forwarding); the validator hops through it with ssh2's forwarding, no ssh binary.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useLab } from '../lab/lab.js';
import { tempKnownHosts, validateJson } from './helpers.js';

const lab = useLab(test, { nodes: 2, bastion: true });
const kh = tempKnownHosts();
test.after.always(() => kh.cleanup());

test.serial('the controller has no address on the node network: the bastion is the only way in', (t) => {
  // checked on the link, without sending a packet (traffic may only go to namespaces we built)
  const r = spawnSync('ip', ['-j', 'addr', 'show', 'dev', `ksv${lab().index}br`], { encoding: 'utf8' });
  const info = JSON.parse(r.stdout) as { addr_info: { family: string }[] }[];
  t.deepEqual(
    info[0]!.addr_info.filter((a) => a.family === 'inet'),
    [],
  );
});

test.serial('through the bastion: every node inspected and passing', async (t) => {
  const { run, report } = await validateJson(lab().inventoryDir, kh.file);
  t.is(run.code, 0, run.stderr + JSON.stringify(report.hosts));
  t.deepEqual(report.hosts.map((h) => h.name).sort(), ['node1', 'node2']);
  t.true(report.hosts.every((h) => h.inspected));
});

test.serial('a ProxyJump / ProxyCommand in ansible_ssh_common_args works without a bastion group', async (t) => {
  const l = lab();
  // the random part of this directory starts with "J": the key path below holds "-J", which must stay
  // a path (an -i argument), never be read as a ProxyJump
  const dir = mkdtempSync(join(tmpdir(), 'ksv-proxy-J'));
  try {
    const invDir = join(dir, 'inventory');
    cpSync(join(l.inventoryDir, 'group_vars'), join(invDir, 'group_vars'), { recursive: true });
    const key = join(dir, 'id_ed25519');
    copyFileSync(l.keyFile, key);
    t.true(key.includes('-J'), key);
    const n = l.nodes[0]!;
    const b = l.bastion!;
    const inv = (args: string) =>
      `all:\n  hosts:\n    ${n.name}:\n      ansible_host: ${n.address}\n      ansible_ssh_private_key_file: ${key}\n      ansible_ssh_common_args: '${args}'\n  children:\n    kube_control_plane:\n      hosts:\n        ${n.name}:\n    kube_node:\n      hosts:\n        ${n.name}:\n`;
    writeFileSync(join(invDir, 'hosts.yaml'), inv(`-i ${key} -o ProxyJump=root@${b.address}`));
    const jump = await validateJson(invDir, kh.file);
    t.is(jump.run.code, 0, jump.run.stderr + JSON.stringify(jump.report.hosts));
    // Kubespray's own form (roles/kubespray_defaults: ansible_ssh_common_args)
    writeFileSync(
      join(invDir, 'hosts.yaml'),
      inv(
        `-o ProxyCommand="ssh -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -W %h:%p -p 22 root@${b.address} -i ${key}"`,
      ),
    );
    const cmd = await validateJson(invDir, kh.file);
    t.is(cmd.run.code, 0, cmd.run.stderr + JSON.stringify(cmd.report.hosts));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
