// The resolver chain on real forms printed in public reports (test/fixtures/resolver/): the reader's
// shell fragment on real files, resolver.config, resolver-loop (and nodelocaldns-down /
// coredns-unreachable standing aside), upstream-dns-unreachable (the servers, or CoreDNS's forward
// configuration), the kubectl pods listing, the inventory's DNS settings, and when the upstream
// servers are asked at all.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import resolverConfig from '../../src/checks/resolver-config.js';
import resolverUpstream from '../../src/checks/resolver-upstream.js';
import { emitter, type NodeInput } from '../../src/checks/module.js';
import { resolverReader, type ReadFile, type ResolverFacts, type UpstreamProbe } from '../../src/collect/resolver.js';
import { splitSections } from '../../src/collect/sections.js';
import { diagnose } from '../../src/diagnose/index.js';
import { parseDnsPods } from '../../src/kubectl/dns-pods.js';
import {
  externalFailsEverywhere,
  upstreamServers,
  wildcardPaths,
  wildcardResults,
  type ResolverRun,
  type ResolverState,
} from '../../src/run/resolver-probes.js';
import { resolverSettings } from '../../src/inventory/resolver.js';
import { VarResolver } from '../../src/inventory/jinja.js';
import { KUBESPRAY_DEFAULTS } from '../../src/inventory/defaults.js';
import type {
  CheckResult,
  ClusterModel,
  DiagnoseInput,
  NodeFacts,
  ProbeResult,
  ProbeRole,
  ResolverSettings,
  Transport,
} from '../../src/types.js';
import { CLUSTER } from './model.js';

const fx = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'resolver', name), 'utf8');
const KC = '/etc/kubernetes/kubelet-config.yaml';
const UPLINK = '/run/systemd/resolve/resolv.conf';
const RESOLV = '/etc/resolv.conf';
const DHCLIENT = '/etc/dhcp/dhclient.conf';

/** The Ubuntu kubelet config Kubespray renders (resolvConf: resolved's uplink file). */
const UBUNTU_KC = fx('kubespray-kubelet-config.yaml');
const DEBIAN_KC = UBUNTU_KC.replace('"/run/systemd/resolve/resolv.conf"', '"/etc/resolv.conf"');

function files(over: Record<string, string | null>): ResolverFacts {
  const all: Record<string, ReadFile> = {};
  const base: Record<string, string | null> = {
    [KC]: UBUNTU_KC,
    [RESOLV]: fx('coredns-6321-stub-resolv.conf'),
    [DHCLIENT]: null,
    [UPLINK]: fx('coredns-2083-resolved-uplink.conf'),
    ...over,
  };
  for (const [p, t] of Object.entries(base)) all[p] = t === null ? { missing: true } : { text: t };
  return { kubeletConfigPath: KC, files: all };
}

const cluster = (r: Partial<ResolverSettings> = {}): ClusterModel => ({
  ...CLUSTER,
  resolver: {
    upstreamDnsServers: [],
    resolvconfMode: 'host_resolvconf',
    dnsMode: 'coredns',
    searchdomains: [],
    externalZones: [],
    ...r,
  },
});

function check(f: ResolverFacts, c = cluster()): CheckResult {
  const input: NodeInput = {
    host: 'node1',
    cluster: c,
    connection: { ok: true, error: null, address: 'node1', port: 22, user: 'root', become: false },
    facts: { host: 'node1', resolver: f } as unknown as NodeFacts,
    probes: [],
    counterDelta: null,
  };
  if (resolverConfig.scope !== 'node') throw new Error('node check');
  return resolverConfig.evaluate(input, emitter())[0]!;
}

// ---- the reader ---------------------------------------------------------------------------------

test('reader: the kubelet config and the file its resolvConf names, read with builtins; @@ lines kept; missing is a fact', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ksv-rt-'));
  try {
    const named = join(dir, 'pod resolv.conf');
    writeFileSync(join(dir, 'kubelet-config.yaml'), DEBIAN_KC.replace('"/etc/resolv.conf"', `'${named}'  # the pods'`));
    writeFileSync(named, 'nameserver 169.254.25.10\n@@rc 0\nsearch corp.example'); // no final newline
    const ctx = { cluster: { ...CLUSTER, kubeConfigDir: dir } };
    const out = execFileSync('sh', ['-c', resolverReader.script(ctx)], { encoding: 'utf8' });
    const f = resolverReader.parse(splitSections(out), ctx) as ResolverFacts;
    t.is(f.kubeletConfigPath, join(dir, 'kubelet-config.yaml'));
    t.true('text' in f.files[f.kubeletConfigPath]!);
    const x = f.files[named]!;
    t.true('text' in x);
    t.is('text' in x ? x.text.trimEnd() : '', 'nameserver 169.254.25.10\n@@rc 0\nsearch corp.example');
    for (const p of [RESOLV, DHCLIENT, UPLINK]) t.truthy(f.files[p], p);
    const r = check(f, { ...cluster(), kubeConfigDir: dir });
    t.is(r.status, 'fail');
    t.regex(r.summary, /pod resolv\.conf:1 `nameserver 169\.254\.25\.10` names 169\.254\.25\.10, NodeLocalDNS itself/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reader: no kubelet config at all (not a Kubespray node): the kubelet default /etc/resolv.conf is judged', (t) => {
  const ctx = { cluster: { ...CLUSTER, kubeConfigDir: '/nonexistent-ksv' } };
  const out = execFileSync('sh', ['-c', resolverReader.script(ctx)], { encoding: 'utf8' });
  const f = resolverReader.parse(splitSections(out), ctx) as ResolverFacts;
  t.deepEqual(f.files['/nonexistent-ksv/kubelet-config.yaml'], { missing: true });
  t.is(check(f).evidence.resolvConf, RESOLV);
  t.deepEqual(resolverReader.parse([], ctx), { parseError: 'resolver files: no output' });
});

// ---- resolver.config ----------------------------------------------------------------------------

test('resolver.config: resolved uplink naming 127.0.0.53 after the dhclient supersede line (kubespray#9948) fails', (t) => {
  const r = check(
    files({ [UPLINK]: fx('kubespray-9948-resolved-uplink.conf'), [DHCLIENT]: fx('kubespray-9948-dhclient.conf') }),
  );
  t.is(r.status, 'fail');
  t.regex(
    r.summary,
    /^\/run\/systemd\/resolve\/resolv\.conf:\d+ `nameserver 127\.0\.0\.53` names 127\.0\.0\.53, a loopback stub/,
  );
  const findings = r.evidence.findings as string[];
  t.true(
    findings.some((x) =>
      /dhclient\.conf:1 `supersede domain-name-servers 169\.254\.25\.10, 127\.0\.0\.53;` hands 169\.254\.25\.10/.test(
        x,
      ),
    ),
  );
  t.is(r.remediation?.safe, false);
  t.regex(r.remediation!.text, /upstream_dns_servers/);
});

test('resolver.config: the same dhclient line with a clean uplink is a latent loop (warn)', (t) => {
  const r = check(files({ [DHCLIENT]: fx('kubespray-9948-dhclient.conf') }));
  t.is(r.status, 'warn');
  t.regex(r.summary, /dhclient\.conf:1 .* after a reboot or renewal \/run\/systemd\/resolve\/resolv\.conf can name it/);
});

test('resolver.config: AWS uplink file through resolved (coredns#2083) passes on Ubuntu; the stub /etc/resolv.conf is not what pods get', (t) => {
  const r = check(files({}));
  t.is(r.status, 'pass', r.summary);
  t.deepEqual(r.evidence.servers, ['10.0.0.2']);
});

test('resolver.config: the stub as the kubelet file (coredns#6321 on Debian-style resolvConf) fails on 127.0.0.53', (t) => {
  const r = check(files({ [KC]: DEBIAN_KC }));
  t.is(r.status, 'fail');
  t.regex(r.summary, /^\/etc\/resolv\.conf:\d+ `nameserver 127\.0\.0\.53`/);
});

test('resolver.config: CoreDNS services in the file and 4 nameservers (kubespray#3390): fail, and the dropped server named', (t) => {
  const c = { ...cluster(), corednsIp: '10.3.0.3' };
  const r = check(files({ [KC]: DEBIAN_KC, [RESOLV]: fx('kubespray-3390-resolv.conf') }), c);
  t.is(r.status, 'fail');
  t.regex(
    r.summary,
    /^\/etc\/resolv\.conf:3 `nameserver 10\.3\.0\.3` names 10\.3\.0\.3, the CoreDNS service \(and 1 more\)$/,
  );
  t.true(
    (r.evidence.findings as string[]).some((x) =>
      /has 4 nameservers; the kubelet keeps 3 and drops 9\.9\.9\.9/.test(x),
    ),
  );
});

test('resolver.config: upstream_dns_servers set: the pods forward there, the looping file does not matter', (t) => {
  const r = check(
    files({ [UPLINK]: fx('kubespray-9948-resolved-uplink.conf') }),
    cluster({ upstreamDnsServers: ['192.0.2.53'] }),
  );
  t.is(r.status, 'pass', r.summary);
  t.regex(r.summary, /forward to upstream_dns_servers \(192\.0\.2\.53\)/);
  // ... unless they loop themselves
  t.is(check(files({}), cluster({ upstreamDnsServers: ['169.254.25.10'] })).status, 'fail');
});

test('resolver.config: resolved with no DNS server (kubespray#10345 state) fails; a missing resolvConf file fails', (t) => {
  const none = check(files({ [UPLINK]: fx('ubuntu-forums-resolved-no-servers.conf') }));
  t.is(none.status, 'fail');
  t.regex(none.summary, /names no nameserver/);
  const gone = check(files({ [UPLINK]: null }));
  t.is(gone.status, 'fail');
  t.regex(gone.summary, /^\/run\/systemd\/resolve\/resolv\.conf \(the kubelet's resolvConf\) is not on the node/);
});

test('resolver.config: a search list over Kubernetes limits warns; a wildcard search domain warns; an external zone looping fails', (t) => {
  const long = Array.from({ length: 33 }, (_, i) => `d${i}.example`).join(' ');
  const r = check(files({ [UPLINK]: `nameserver 192.0.2.1\nsearch ${long}\n` }));
  t.is(r.status, 'warn');
  t.regex(r.summary, /search list \(33 domains, \d+ characters\) exceeds Kubernetes' limits/);
  const f = files({ [UPLINK]: `nameserver 192.0.2.1\nsearch corp.example\n` });
  f.wildcard = [
    {
      domain: 'corp.example',
      name: 'ksv-0a0b0c0d.corp.example',
      server: '169.254.25.10',
      askedFrom: 'node2',
      outcome: 'answers',
      detail: 'NOERROR with an address',
    },
  ];
  const w = check(f);
  t.is(w.status, 'warn');
  t.regex(w.summary, /^search domain corp\.example answers any name \(ksv-0a0b0c0d\.corp\.example/);
  f.wildcard[0]!.outcome = 'no-such-name';
  t.is(check(f).status, 'pass');
  const z = check(
    files({}),
    cluster({ externalZones: [{ zones: ['corp.example'], nameservers: ['169.254.25.10:53'] }] }),
  );
  t.is(z.status, 'fail');
  t.regex(z.summary, /nodelocaldns_external_zones \(corp\.example\) names 169\.254\.25\.10/);
});

test('resolver.config: not read (a bundle recorded before) is skipped; a parse error is an error', (t) => {
  const input: NodeInput = {
    host: 'node1',
    cluster: cluster(),
    connection: { ok: true, error: null, address: 'node1', port: 22, user: 'root', become: false },
    facts: { host: 'node1' } as unknown as NodeFacts,
    probes: [],
    counterDelta: null,
  };
  if (resolverConfig.scope !== 'node') throw new Error('node check');
  t.is(resolverConfig.evaluate({ ...input, unread: new Set(['resolver']) }, emitter())[0]!.status, 'skip');
  t.is(
    resolverConfig.evaluate(
      { ...input, facts: { host: 'node1', resolver: { parseError: 'x' } } as unknown as NodeFacts },
      emitter(),
    )[0]!.status,
    'error',
  );
});

// ---- diagnoses ----------------------------------------------------------------------------------

const HOSTS = ['node1', 'node2', 'node3'];

function probe(host: string, role: ProbeRole, server: string, tr: Transport, ok: number, internal = true): ProbeResult {
  return {
    host,
    server,
    role,
    transport: tr,
    name: internal ? 'kubernetes.default.svc.cluster.local' : 'kubernetes.io',
    type: 'A',
    sent: 5,
    answered: ok,
    ok,
    internal,
    rcodes: ok ? { NOERROR: ok } : {},
    latencyMs: { p50: ok ? 1 : null, max: ok ? 1 : null },
    errors: ok < 5 ? { refused: 5 - ok } : {},
    endpointHost: null,
    from: 'host',
  };
}

function input(o: {
  facts: (h: string) => ResolverFacts;
  nld?: (h: string) => number;
  svc?: (h: string) => number;
  external?: (h: string) => number;
  c?: ClusterModel;
}): DiagnoseInput {
  const probes: ProbeResult[] = [];
  const results: CheckResult[] = [];
  const facts: Record<string, NodeFacts> = {};
  for (const h of HOSTS) {
    for (const tr of ['udp', 'tcp'] as const) {
      probes.push(probe(h, 'nodelocaldns', '169.254.25.10', tr, o.nld?.(h) ?? 5));
      probes.push(probe(h, 'coredns-service', '10.233.0.3', tr, o.svc?.(h) ?? 5));
      probes.push(
        probe(h, 'nodelocaldns', '169.254.25.10', tr, Math.min(o.nld?.(h) ?? 5, o.external?.(h) ?? 5), false),
      );
      probes.push(probe(h, 'coredns-service', '10.233.0.3', tr, o.external?.(h) ?? 5, false));
    }
    const nldDead = (o.nld?.(h) ?? 5) === 0;
    for (const tr of ['udp', 'tcp'])
      results.push({
        check: `dns.nodelocaldns.${tr}`,
        host: h,
        status: nldDead ? 'fail' : 'pass',
        summary: nldDead ? 'dead' : 'ok',
        evidence: {},
      });
    facts[h] = {
      host: h,
      kernel: '6.8.0',
      links: [],
      iptables: { backends: ['nft'], rules: [] },
      offload: {},
      counters: {},
      resolver: o.facts(h),
    } as NodeFacts;
  }
  return {
    cluster: o.c ?? cluster(),
    hosts: HOSTS.map((h) => ({ name: h, address: h, inspected: true, error: null })),
    results,
    probes,
    facts,
    counterDeltas: {},
    endpoints: [],
    endpointError: null,
  };
}

const clean = () => files({});
const looping = () => files({ [UPLINK]: 'nameserver 169.254.25.10\n' });
const LOOP_LINE =
  '[FATAL] plugin/loop: Loop (169.254.25.10:55583 -> 169.254.25.10:53) detected for zone ".", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO 4547991504243258144.3688648895315093531."';

test('resolver-loop: named on the looping node with file, line, loop path and kubectl evidence; nodelocaldns-down stands aside there only', (t) => {
  const d = diagnose(
    input({
      facts: (h) => {
        const f =
          h === 'node2'
            ? files({ [UPLINK]: 'nameserver 169.254.25.10\n', [DHCLIENT]: fx('kubespray-9948-dhclient.conf') })
            : clean();
        if (h === 'node2')
          f.pods = [
            {
              name: 'nodelocaldns-x7k2p',
              app: 'node-local-dns',
              node: 'node2',
              restarts: 7,
              waiting: 'CrashLoopBackOff',
              loopLine: LOOP_LINE,
            },
          ];
        return f;
      },
      // node-cache dead on node2 (the loop) and on node3 (something else)
      nld: (h) => (h === 'node1' ? 5 : 0),
    }),
  );
  t.deepEqual(
    d.map((x) => `${x.id}:${x.hosts.join(',')}`),
    ['resolver-loop:node2', 'nodelocaldns-down:node3'],
  );
  const ev = d[0]!.evidence.join('\n');
  t.regex(
    ev,
    /node2: \/run\/systemd\/resolve\/resolv\.conf:1 `nameserver 169\.254\.25\.10` names 169\.254\.25\.10, NodeLocalDNS itself \(the kubelet's resolvConf in \/etc\/kubernetes\/kubelet-config\.yaml\)/,
  );
  t.regex(ev, /node2: loop: node-cache on 169\.254\.25\.10 forwards `\.` to 169\.254\.25\.10: to itself/);
  t.regex(
    ev,
    /node2: pod nodelocaldns-x7k2p on node2: CrashLoopBackOff, 7 restart\(s\); its previous container's last loop line: \[FATAL\] plugin\/loop: Loop \(169\.254\.25\.10:55583 -> 169\.254\.25\.10:53\)/,
  );
  t.true(d[0]!.fix.some((x) => x.includes('group_vars/all/all.yml') && x.includes('cluster.yml')));
  t.true(d[0]!.fix.some((x) => x.includes('supersede domain-name-servers')));
  t.regex(
    ev,
    /node2: \/etc\/dhcp\/dhclient\.conf:1 `supersede domain-name-servers 169\.254\.25\.10, 127\.0\.0\.53;` writes that address back/,
  );
  // without a dhclient line: what writes the file is to be found, no dhclient advice
  const plain = diagnose(input({ facts: (h) => (h === 'node2' ? looping() : clean()) }))[0]!;
  t.false(plain.fix.some((x) => x.includes('dhclient.conf')));
  t.true(plain.fix.some((x) => x.startsWith('find what writes that line')));
  t.true(plain.fix.some((x) => x.startsWith('resolvconf_mode (host_resolvconf)')));
  t.true(d[0]!.remediations.every((r) => !r.safe));
});

test('resolver-loop: CoreDNS pods stopped by the loop explain CoreDNS answering nowhere (coredns-unreachable stands aside); without that evidence it does not', (t) => {
  const mk = (withPods: boolean) =>
    diagnose(
      input({
        facts: () => {
          const f = files({ [UPLINK]: 'nameserver 127.0.0.53\n' });
          if (withPods)
            f.pods = [
              {
                name: 'coredns-5d78c9869d-abcde',
                app: 'kube-dns',
                node: 'node1',
                restarts: 4,
                waiting: 'CrashLoopBackOff',
                loopLine: '[FATAL] plugin/loop: Loop (127.0.0.1:34614 -> :53) detected for zone "."',
              },
            ];
          return f;
        },
        svc: () => 0,
        nld: () => 0,
      }),
    ).map((x) => x.id);
  t.deepEqual(mk(true), ['resolver-loop']);
  t.true(mk(false).includes('coredns-unreachable'));
  t.true(mk(false).includes('resolver-loop'));
});

test('resolver-loop: nothing when no file loops; a kubectl failure is said, not hidden', (t) => {
  t.deepEqual(diagnose(input({ facts: clean })), []);
  const d = diagnose(
    input({
      facts: (h) => {
        const f = h === 'node1' ? looping() : clean();
        f.podsError = 'node1: kubectl: not found';
        return f;
      },
    }),
  );
  t.deepEqual(
    d.map((x) => x.id),
    ['resolver-loop'],
  );
  t.regex(d[0]!.evidence.join('\n'), /could not be read with kubectl: node1: kubectl: not found/);
});

const ups = (server: string, ok: number, source = UPLINK): UpstreamProbe[] =>
  (['udp', 'tcp'] as const).map((transport) => ({
    server,
    source,
    transport,
    name: 'kubernetes.io',
    sent: 3,
    ok,
    answered: ok,
    rcodes: (ok ? { NOERROR: ok } : {}) as Record<string, number>,
    errors: (ok ? {} : { timeout: 3 }) as Record<string, number>,
  }));

test('upstream-dns-unreachable: the servers answer no node: named with their file', (t) => {
  const d = diagnose(
    input({
      facts: () => ({ ...clean(), upstream: ups('172.31.0.2', 0) }),
      external: () => 0,
    }),
  );
  t.deepEqual(
    d.map((x) => `${x.id}:${x.hosts.join(',')}`),
    ['upstream-dns-unreachable:node1,node2,node3'],
  );
  t.is(
    d[0]!.summary,
    'the upstream DNS servers 172.31.0.2 (from /run/systemd/resolve/resolv.conf) answer no node: external names fail everywhere',
  );
  t.regex(
    d[0]!.evidence.join('\n'),
    /172\.31\.0\.2 asked directly from every node: UDP 0\/9 \(9 timeout\), TCP 0\/9 \(9 timeout\)/,
  );
});

test('upstream-dns-unreachable: the servers answer the nodes: CoreDNS forward configuration blamed, the servers ruled out', (t) => {
  const d = diagnose(
    input({
      facts: () => ({ ...clean(), upstream: ups('192.0.2.53', 3, 'upstream_dns_servers') }),
      external: () => 0,
    }),
  );
  t.is(d.length, 1);
  t.regex(
    d[0]!.summary,
    /answer the nodes \(192\.0\.2\.53\) but not through CoreDNS and NodeLocalDNS: CoreDNS's forward configuration is at fault/,
  );
  t.true(d[0]!.evidence.some((e) => e.startsWith('ruled out: the upstream servers themselves')));
  // not probed on some node (the step did not run): nothing said
  t.deepEqual(
    diagnose(
      input({
        facts: (h) => ({ ...clean(), ...(h === 'node1' ? { upstream: ups('192.0.2.53', 0) } : {}) }),
        external: () => 0,
      }),
    ),
    [],
  );
});

// ---- when the upstream servers are asked ----------------------------------------------------------

function states(external: (h: string) => number, svc: (h: string) => number = () => 5): ResolverState[] {
  const inp = input({ facts: clean, external, svc });
  return HOSTS.map((h) => ({
    target: { name: h } as ResolverState['target'],
    session: {} as ResolverState['session'],
    error: null,
    facts: inp.facts[h]!,
    probes: inp.probes.filter((p) => p.host === h),
  }));
}

test('the upstream servers are asked only when cluster names answer and the external name fails everywhere', (t) => {
  t.true(externalFailsEverywhere(states(() => 0)));
  t.false(externalFailsEverywhere(states((h) => (h === 'node3' ? 5 : 0))));
  t.false(
    externalFailsEverywhere(
      states(
        () => 0,
        () => 0,
      ),
    ),
    'cluster names fail too: not an upstream matter',
  );
  t.false(externalFailsEverywhere(states(() => 5)));
  t.deepEqual(upstreamServers(cluster(), states(() => 0)[0]!.facts), [{ server: '10.0.0.2', source: UPLINK }]);
  t.deepEqual(upstreamServers(cluster({ upstreamDnsServers: ['192.0.2.1'] }), null), [
    { server: '192.0.2.1', source: 'upstream_dns_servers' },
  ]);
  // a looping file's loop addresses are resolver-loop's, not upstream servers
  const f = files({ [UPLINK]: 'nameserver 169.254.25.10\nnameserver 192.0.2.9\n' });
  t.deepEqual(upstreamServers(cluster(), { host: 'x', resolver: f } as unknown as NodeFacts), [
    { server: '192.0.2.9', source: UPLINK },
  ]);
});

test('resolver.upstream: once for the cluster; skip with --external-name none', (t) => {
  if (resolverUpstream.scope !== 'cluster') throw new Error('cluster check');
  const lookup = { endpoints: [], error: null, askedOn: 'node1', tried: [] };
  const cc = resolverUpstream;
  const r = (resolver: ResolverRun) => cc.evaluate({ cluster: cluster(), endpoints: lookup, resolver }, emitter());
  t.is(
    r({
      externalName: null,
      upstream: { state: 'not-probed', reason: '--external-name none: no external name, no upstream server was asked' },
    })[0]!.status,
    'skip',
  );
  t.is(r({ externalName: 'kubernetes.io', upstream: { state: 'not-needed', reason: 'x' } })[0]!.status, 'pass');
  const f = r({
    externalName: 'kubernetes.io',
    upstream: { state: 'probed', servers: [{ server: '192.0.2.1', source: RESOLV }] },
  });
  t.is(f.length, 1);
  t.is(f[0]!.status, 'fail');
  t.regex(f[0]!.summary, /192\.0\.2\.1 \(\/etc\/resolv\.conf\)/);
});

// ---- kubectl, inventory -------------------------------------------------------------------------

test('kubectl DNS pods: custom columns and the previous logs parsed; names checked', (t) => {
  const stdout = [
    '@@dnspods',
    'coredns-5d78c9869d-abcde   kube-dns         node1   4   CrashLoopBackOff',
    'nodelocaldns-x7k2p         node-local-dns   node2   7   CrashLoopBackOff',
    'nodelocaldns-q9w8e         node-local-dns   node1   0   <none>',
    'bad;name                   node-local-dns   node3   0   <none>',
    '@@rc 0',
    '@@dnslog nodelocaldns-x7k2p',
    '[INFO] plugin/reload: Running configuration SHA512 = 1f4e',
    LOOP_LINE,
    '@@rc 0',
    '@@dnslog coredns-5d78c9869d-abcde',
    'Error from server (BadRequest): previous terminated container "coredns" in pod "coredns-5d78c9869d-abcde" not found',
    '@@rc 1',
  ].join('\n');
  const r = parseDnsPods({ code: 0, stdout, stderr: '' });
  if ('error' in r) return t.fail(r.error);
  t.deepEqual(
    r.pods.map((p) => [p.name, p.app, p.node, p.restarts, p.waiting, p.loopLine !== null]),
    [
      ['coredns-5d78c9869d-abcde', 'kube-dns', 'node1', 4, 'CrashLoopBackOff', false],
      ['nodelocaldns-x7k2p', 'node-local-dns', 'node2', 7, 'CrashLoopBackOff', true],
      ['nodelocaldns-q9w8e', 'node-local-dns', 'node1', 0, null, false],
    ],
  );
  t.regex(r.pods[0]!.logError ?? '', /previous terminated container/);
  const err = parseDnsPods({
    code: 0,
    stdout: '@@dnspods\nerror: You must be logged in to the server (Unauthorized)\n@@rc 1\n',
    stderr: '',
  });
  t.deepEqual(err, { error: 'error: You must be logged in to the server (Unauthorized)' });
});

test("inventory: Kubespray's DNS settings read and validated (they become probes)", (t) => {
  const r = (v: Record<string, unknown>) => resolverSettings(new VarResolver({ ...KUBESPRAY_DEFAULTS, ...v }));
  t.deepEqual(r({}), {
    upstreamDnsServers: [],
    resolvconfMode: 'host_resolvconf',
    dnsMode: 'coredns',
    searchdomains: [],
    externalZones: [],
  });
  t.deepEqual(
    r({ upstream_dns_servers: ['8.8.8.8', '1.1.1.1'], searchdomains: ['corp.example.'] }).upstreamDnsServers,
    ['8.8.8.8', '1.1.1.1'],
  );
  t.deepEqual(r({ searchdomains: ['corp.example.'] }).searchdomains, ['corp.example']);
  t.throws(() => r({ upstream_dns_servers: ['8.8.8.8; rm -rf /'] }), {
    message: /upstream_dns_servers: "8\.8\.8\.8; rm -rf \/" is not an IP address/,
  });
  t.throws(() => r({ searchdomains: ['$(id)'] }), { message: /searchdomains/ });
  t.deepEqual(
    r({
      nodelocaldns_external_zones: [
        { zones: ['example.com', 'example.io:1053'], nameservers: ['1.1.1.1', '[fd00::1]:53'], cache: 5 },
      ],
    }).externalZones,
    [{ zones: ['example.com', 'example.io:1053'], nameservers: ['1.1.1.1', '[fd00::1]:53'] }],
  );
  t.throws(() => r({ nodelocaldns_external_zones: [{ zones: ['x'], nameservers: ['not-an-ip'] }] }), {
    message: /not an address/,
  });
});

test('wildcard: a random name under each inventory search domain (not the cluster domains), through NodeLocalDNS; the answers judged', (t) => {
  let i = 0;
  const rnd = () => [0.1, 0.2, 0.3][i++ % 3]!;
  const w = wildcardPaths(cluster({ searchdomains: ['corp.example', 'svc.cluster.local', 'lab.example'] }), rnd);
  t.deepEqual(
    w.asked.map((a) => a.domain),
    ['corp.example', 'lab.example'],
  );
  t.regex(w.asked[0]!.name, /^ksv-[0-9a-f]{8}\.corp\.example$/);
  t.deepEqual(
    w.paths.map((p) => `${p.role} ${p.server} ${p.transport} ${p.type} ${p.internal}`),
    ['nodelocaldns 169.254.25.10 udp A false', 'nodelocaldns 169.254.25.10 udp A false'],
  );
  const res = (name: string, ok: number, rcodes: Record<string, number>, errors: Record<string, number> = {}) =>
    ({
      ...probe('node1', 'nodelocaldns', '169.254.25.10', 'udp', ok, false),
      name,
      sent: 1,
      rcodes,
      errors,
    }) as ProbeResult;
  const got = wildcardResults({ host: 'node1', ...w }, [
    res(w.asked[0]!.name, 1, { NOERROR: 1 }),
    res(w.asked[1]!.name, 0, { NXDOMAIN: 1 }),
  ]);
  t.deepEqual(
    got.map((g) => [g.domain, g.outcome, g.detail, g.askedFrom]),
    [
      ['corp.example', 'answers', 'NOERROR with an address', 'node1'],
      ['lab.example', 'no-such-name', 'NXDOMAIN', 'node1'],
    ],
  );
  t.is(
    wildcardResults({ host: 'node1', ...w }, [res(w.asked[0]!.name, 0, {}, { timeout: 1 })])[0]!.outcome,
    'no-answer',
  );
  const noNld = wildcardPaths({ ...cluster({ searchdomains: ['corp.example'] }), nodelocaldnsEnabled: false }, rnd);
  t.is(noNld.server, '10.233.0.3');
});
