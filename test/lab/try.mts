import { startLab } from './lab.js';
const lab = await startLab({ nodes: 3, prefix: 'try' });
process.removeAllListeners('exit');
console.log(JSON.stringify({dir: lab.dir, inv: lab.inventoryDir, nodes: lab.nodes.map(n=>n.ns), eps: lab.endpoints}));
