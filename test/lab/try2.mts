import { startLab } from './lab.js';
import { spawnSync } from 'node:child_process';
const lab = await startLab({ nodes: 3, prefix: 'try' });
const [fault, nodes, ...extra] = process.argv.slice(2);
for (let i = 0; i < 2; i++) {
if (fault && fault !== '-') await lab.fault(fault as never, nodes && nodes !== '-' ? { nodes: nodes.split(',') } : undefined);
spawnSync(process.execPath, ['dist/src/cli.js', '-i', lab.inventoryDir, '--known-hosts', lab.dir + '/kh', '--progress', 'none', '--probe-count', '3', '--probe-timeout', '700', '-o', 'json']);
const v = spawnSync(process.execPath, ['dist/src/cli.js', '-i', lab.inventoryDir, '--known-hosts', lab.dir + '/kh', '--progress', 'none', '--probe-count', '3', '--probe-timeout', '700', '-o', 'json', ...extra], { encoding: 'utf8' });
const r = JSON.parse(v.stdout); console.log(v.status, JSON.stringify(r.fix?.applied), JSON.stringify(r.diagnoses).slice(0, 1500), JSON.stringify(r.results.filter((x: {status: string}) => x.status !== 'pass')).slice(0, 1500));
await lab.clear();
}
await lab.down();
