// npm run lab -- up [--nodes N] [--prefix P] [--bastion] [--users] [--plugin calico|flannel] | down [P|--all]
//                | fault P NAME [node1,node2] | clear P [NAME] [nodes] | list | faults
// A lab brought up here stays up until `down` (state in $TMPDIR/ksv-labs).
import {
  FAULTS,
  FAULT_DEFS,
  destroySaved,
  faultOps,
  faultTargets,
  listSaved,
  startLab,
  type Fault,
  type PluginName,
} from './lab.js';

const FLAGS = ['--bastion', '--all', '--users'];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const USAGE =
  'usage: npm run lab -- up [--nodes N] [--prefix P] [--bastion] [--users] [--plugin calico|flannel] | down [P | --all] | list | faults | fault P NAME [node1,node2] | clear P [NAME] [nodes]';

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv
    .slice(2)
    .filter((a, i, all) => !a.startsWith('--') && !(all[i - 1]?.startsWith('--') && !FLAGS.includes(all[i - 1]!)));
  switch (cmd) {
    case 'up': {
      const plugin = (arg('plugin') ?? 'calico') as PluginName;
      const lab = await startLab({
        nodes: Number(arg('nodes') ?? 3),
        prefix: arg('prefix') ?? 'ksvlab',
        bastion: process.argv.includes('--bastion'),
        users: process.argv.includes('--users'),
        plugin,
      });
      process.removeAllListeners('exit'); // keep it up
      console.log(
        JSON.stringify(
          {
            prefix: lab.prefix,
            plugin: lab.plugin,
            inventory: lab.inventoryDir,
            key: lab.keyFile,
            nodes: lab.nodes.map((n) => ({ name: n.name, ns: n.ns, address: n.address })),
            corednsIp: lab.corednsIp,
            endpoints: lab.endpoints,
          },
          null,
          2,
        ),
      );
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
      for (const s of listSaved())
        console.log(`${s.prefix}\tindex ${s.index}\t${s.desc?.plugin ?? 'calico'}\t${s.dir}`);
      return 0;
    case 'faults':
      for (const f of FAULTS) console.log(`${f}\t${FAULT_DEFS[f].scope}\t${FAULT_DEFS[f].about}`);
      return 0;
    case 'fault':
    case 'clear': {
      const [prefix, name, nodes] = rest;
      const s = listSaved().find((x) => x.prefix === prefix);
      if (!s?.desc) {
        console.error(`no lab "${prefix ?? ''}" (npm run lab -- list)`);
        return 2;
      }
      if ((cmd === 'fault' || name) && !FAULTS.includes(name as Fault)) {
        console.error(`faults: ${FAULTS.join(', ')}`);
        return 2;
      }
      const ops = faultOps(s.desc);
      const all = s.desc.nodes;
      const pick = nodes ? all.filter((n) => nodes.split(',').includes(n.name)) : all;
      if (nodes && pick.length !== nodes.split(',').length) {
        console.error(`nodes: ${all.map((n) => n.name).join(', ')}`);
        return 2;
      }
      if (cmd === 'fault') {
        const f = name as Fault;
        const targets = faultTargets(f, all, pick);
        for (const n of targets) ops.apply(f, n);
        const missed = [];
        for (const n of targets) if (!(await ops.held(f, n))) missed.push(n);
        console.error(
          `fault ${f} on ${targets.map((n) => n.name).join(',')}${missed.length ? ` — did not take hold on ${missed.map((n) => n.name).join(',')}` : ''}`,
        );
        return missed.length ? 1 : 0;
      }
      const lifted = new Set<string>();
      for (const f of name ? [name as Fault] : [...FAULTS].reverse())
        for (const n of faultTargets(f, all, pick)) {
          ops.lift(f, n);
          lifted.add(n.name);
        }
      ops.recover();
      console.error(`clear ${name ?? 'all'} on ${[...lifted].join(',')}`);
      return 0;
    }
    default:
      console.error(`${USAGE}\nfaults (npm run lab -- faults): ${FAULTS.join(', ')}`);
      return 2;
  }
}

main().then(
  (c) => process.exit(c),
  (e) => {
    console.error(String((e as Error).message ?? e));
    process.exit(1);
  },
);
