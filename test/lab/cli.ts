// npm run lab -- up [--nodes N] [--prefix P] [--bastion] | down [P|--all] | fault P NAME [node1,node2] | clear P [NAME] [nodes] | list
// A lab brought up here stays up until `down` (state in $TMPDIR/ksv-labs).
import { FAULTS, destroySaved, faultOps, listSaved, startLab, type Fault } from './lab.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1]?.startsWith('--') && !['--bastion', '--all', '--users'].includes(all[i - 1]!)));
  switch (cmd) {
    case 'up': {
      const lab = await startLab({ nodes: Number(arg('nodes') ?? 3), prefix: arg('prefix') ?? 'ksvlab', bastion: process.argv.includes('--bastion'), users: process.argv.includes('--users') });
      process.removeAllListeners('exit'); // keep it up
      console.log(JSON.stringify({ prefix: lab.prefix, inventory: lab.inventoryDir, key: lab.keyFile, nodes: lab.nodes.map((n) => ({ name: n.name, ns: n.ns, address: n.address })), corednsIp: lab.corednsIp, endpoints: lab.endpoints }, null, 2));
      console.error(`try: npx kubespray-validate -i ${lab.inventoryDir} --known-hosts ${lab.dir}/known_hosts`);
      return 0;
    }
    case 'down': {
      const all = process.argv.includes('--all');
      const labs = listSaved().filter((s) => all || s.prefix === (rest[0] ?? 'ksvlab'));
      labs.forEach(destroySaved);
      console.error(`removed ${labs.length} lab(s)`);
      return 0;
    }
    case 'list':
      for (const s of listSaved()) console.log(`${s.prefix}\tindex ${s.index}\t${s.dir}`);
      return 0;
    case 'fault':
    case 'clear': {
      const [prefix, name, nodes] = rest;
      const s = listSaved().find((x) => x.prefix === prefix);
      if (!s?.desc) {
        console.error(`no lab "${prefix ?? ''}" (npm run lab -- list)`);
        return 2;
      }
      const ops = faultOps(s.desc);
      if (cmd === 'fault' && !FAULTS.includes(name as Fault)) {
        console.error(`faults: ${FAULTS.join(', ')}`);
        return 2;
      }
      const pick = nodes ? s.desc.nodes.filter((n) => nodes.split(',').includes(n.name)) : s.desc.nodes;
      const clusterWide = name === 'coredns-down' || name === 'endpoint-down';
      const targets = clusterWide ? [s.desc.nodes[0]!] : pick;
      if (cmd === 'fault') for (const n of targets) ops.apply(name as Fault, n);
      else for (const n of clusterWide || !name ? s.desc.nodes : pick) for (const f of name ? [name as Fault] : FAULTS) ops.lift(f, n);
      console.error(`${cmd} ${name ?? 'all'} on ${targets.map((n) => n.name).join(',')}`);
      return 0;
    }
    default:
      console.error(`usage: npm run lab -- up [--nodes N] [--prefix P] [--bastion] | down [P | --all] | list | fault P NAME [node1,node2] | clear P [NAME] [nodes]\nfaults: ${FAULTS.join(', ')}`);
      return 2;
  }
}

main().then((c) => process.exit(c), (e) => {
  console.error(String((e as Error).message ?? e));
  process.exit(1);
});
