// sysctl.forwarding on captured reader output (test/fixtures/collect/sysctl-forwarding.txt: a lab
// node, then the same node with net.ipv4.ip_forward=0).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import check, { parseSysctl, sysctlReader } from '../../src/checks/sysctl-forwarding.js';
import { emitter, type NodeInput } from '../../src/checks/module.js';
import { splitSections } from '../../src/collect/sections.js';
import { isParseError, type NodeFacts } from '../../src/types.js';
import { CLUSTER } from './model.js';
import { ROOT } from '../e2e/helpers.js';

const [on, off] = splitSections(
  readFileSync(join(ROOT, 'test', 'fixtures', 'collect', 'sysctl-forwarding.txt'), 'utf8'),
);
const facts = (sections: ReturnType<typeof splitSections>) =>
  ({ host: 'node2', sysctl: sysctlReader.parse(sections, { cluster: CLUSTER }) }) as unknown as NodeFacts;
const run = (f: NodeFacts, cluster = CLUSTER) => {
  if (check.scope !== 'node') throw new Error('node check expected');
  const input: NodeInput = {
    host: 'node2',
    cluster,
    connection: { ok: true, error: null, address: 'node2', port: 22, user: 'root', become: false },
    facts: f,
    probes: [],
    counterDelta: null,
  };
  return check.evaluate(input, emitter())[0]!;
};

test('the reader parses grep -H output; a file not there is null', (t) => {
  const v = parseSysctl(on!.body);
  t.false(isParseError(v));
  t.is((v as Record<string, string | null>)['net/ipv4/ip_forward'], '1');
  t.is((v as Record<string, string | null>)['net/netfilter/nf_conntrack_max'], '262144');
  const partial = parseSysctl('/proc/sys/net/ipv4/ip_forward:1\n') as Record<string, string | null>;
  t.is(partial['net/bridge/bridge-nf-call-iptables'], null);
  t.true(isParseError(parseSysctl('grep: nothing\n')));
});

test('ip_forward=1 passes; ip_forward=0 fails with the sysctl and where to look, never applied by --fix', (t) => {
  t.is(run(facts([on!])).status, 'pass');
  const r = run(facts([off!]));
  t.is(r.status, 'fail');
  t.is(r.evidence['net.ipv4.ip_forward'], '0');
  t.deepEqual(r.remediation?.argv, ['sysctl', '-w', 'net.ipv4.ip_forward=1']);
  t.false(r.remediation?.safe);
});

test('bridge-based plugins need bridge-nf-call-iptables=1 (br_netfilter loaded)', (t) => {
  const flannel = { ...CLUSTER, networkPlugin: 'flannel', calicoBackend: null };
  t.is(run(facts([on!]), flannel).status, 'pass');
  const noBr = facts(splitSections('@@sysctl\n/proc/sys/net/ipv4/ip_forward:1\n@@rc 0\n'));
  t.is(run(noBr, flannel).status, 'fail');
  t.regex(run(noBr, flannel).summary, /br_netfilter/);
  t.is(run(noBr).status, 'pass', 'calico does not bridge its pods');
});

test('unreadable values are an error, not a pass', (t) => {
  t.is(run(facts(splitSections('@@sysctl\n@@rc 0\n'))).status, 'error');
  t.is(run({ host: 'node2' } as unknown as NodeFacts).status, 'error');
});
