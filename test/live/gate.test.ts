import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { gateRuleStatus } from '../../src/live/gate-rules.js';
import { nsRunner, Probe, probeBuilt, quantile } from './probe.js';

/**
 * The SYN gate against real one-shot curls, inside a lab (its own namespaces: the gate's
 * iptables rules and nfqueue exist only in the lab's client namespace).
 */
const N = 200;
const URL = 'http://169.254.169.254/latest/meta-data/';
const CURL_LOOP = `for i in $(seq ${N}); do sh -c 'echo $$; exec curl -s -o /dev/null -m 5 ${URL}'; done`;

describe.skipIf(!labAvailable() || !probeBuilt())('SYN gate (live, netns)', () => {
  let lab: Lab;
  const probes: Probe[] = [];
  const start = async (mode: 'gate' | 'passive'): Promise<Probe> => {
    // a generous budget: the test checks attribution, not speed (CI machines are loaded); holds are reported
    const p = new Probe(lab.names.client, ['--mode', mode, '--budget', '500']);
    probes.push(p);
    await p.waitFor((l) => l.some((x) => x.ready), 60_000);
    return p;
  };

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwgate', connection: 'close' });
  });
  afterEach(async () => {
    // a failed test must not leave its probe bound to the queue: stop cleanly (rules removed)
    for (const p of probes.splice(0)) await p.stop('SIGTERM').catch(() => undefined);
  });
  afterAll(async () => {
    await lab?.teardown();
  });

  it(`attributes ${N} of ${N} one-shot curls to /usr/bin/curl with the right pid`, async () => {
    const gate = await start('gate');
    expect(gate.lines.find((l) => l.ready)?.gateActive).toBe(true);
    const r = await lab.run('client', ['sh', '-c', CURL_LOOP], { timeoutMs: 120_000 });
    const pids = r.stdout.split('\n').filter(Boolean).map(Number);
    expect(pids).toHaveLength(N);
    await gate.waitFor((l) => l.filter((x) => x.mode).length >= N);
    const byPid = new Map(gate.records().map((x) => [x.pid, x]));
    const attributed = pids.filter((pid) => byPid.get(pid)?.exe === '/usr/bin/curl' && byPid.get(pid)?.outcome === 'found');
    const holds = gate.records().map((x) => x.holdMs!);
    const lookups = gate.records().map((x) => x.lookupMs!);
    console.log(
      `gate: ${attributed.length}/${N} attributed; hold p50 ${quantile(holds, 0.5).toFixed(2)} ms p99 ${quantile(holds, 0.99).toFixed(2)} ms; ` +
        `lookup p50 ${quantile(lookups, 0.5).toFixed(2)} ms p99 ${quantile(lookups, 0.99).toFixed(2)} ms`,
    );
    const missed = pids.filter((pid) => !attributed.includes(pid)).slice(0, 5);
    const missedInfo = missed.map((pid) => JSON.stringify(byPid.get(pid) ?? { pid, record: 'none' }));
    const outcomes = gate.records().reduce<Record<string, number>>((a, x) => ((a[x.outcome!] = (a[x.outcome!] ?? 0) + 1), a), {});
    expect(await gate.stop()).toBe(0);
    expect({ attributed: attributed.length, outcomes, missedInfo }).toEqual({ attributed: N, outcomes: { found: N }, missedInfo: [] });
    expect(gate.lines.some((l) => l.stats)).toBe(true);
    // a clean stop removes every rule
    expect(gateRuleStatus(4, nsRunner(lab.names.client))).toMatchObject({ chain: false, jumps: {} });
  }, 240_000);

  it('attributes a curl in the container namespace (FORWARD) to its process and netns', async () => {
    const gate = await start('gate');
    const r = await lab.run('container', ['sh', '-c', `readlink /proc/self/ns/net; sh -c 'echo $$; exec curl -s -o /dev/null -m 5 ${URL}'`]);
    const [nsLink, pidText] = r.stdout.trim().split('\n');
    const netns = Number(/\[(\d+)\]/.exec(nsLink ?? '')?.[1]);
    await gate.waitFor((l) => l.some((x) => x.mode));
    const rec = gate.records()[0]!;
    expect(rec).toMatchObject({ pid: Number(pidText), exe: '/usr/bin/curl', outcome: 'found', netns });
    expect(rec.key?.startsWith(`${lab.addresses.container.ipv4}|`)).toBe(true);
    await gate.stop();
  }, 120_000);

  it('attributes an IPv6 curl (ip6tables rule, same queue)', async () => {
    const gate = await start('gate');
    const r = await lab.run('client', ['sh', '-c', `echo $$; exec curl -s -o /dev/null -m 5 http://[fd00:ec2::254]/latest/meta-data/`]);
    await gate.waitFor((l) => l.some((x) => x.mode));
    expect(gate.records()[0]).toMatchObject({ pid: Number(r.stdout.trim()), exe: '/usr/bin/curl', outcome: 'found' });
    expect(gate.records()[0]!.key).toContain('fd00:ec2::254|80');
    await gate.stop();
  }, 120_000);

  it('fails open after SIGKILL and the next start replaces the stale rule without duplicating it', async () => {
    const runner = nsRunner(lab.names.client);
    const first = await start('gate');
    await first.stop('SIGKILL');
    const stale = gateRuleStatus(4, runner);
    expect(stale).toMatchObject({ chain: true, jumps: { OUTPUT: 1, FORWARD: 1 } });
    // nobody listens on the queue: --queue-bypass lets the SYN through
    const r = await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', URL]);
    expect(r.stdout).toBe('200');

    const second = await start('gate');
    expect(second.lines.some((l) => /replaced gate rules/.test(l.warning ?? ''))).toBe(true);
    const now = gateRuleStatus(4, runner);
    expect(now.jumps).toEqual({ OUTPUT: 1, FORWARD: 1 });
    expect(now.rules).toHaveLength(1);
    expect(gateRuleStatus(6, runner).jumps).toEqual({ OUTPUT: 1, FORWARD: 1 });
    await second.stop();
    expect(gateRuleStatus(4, runner)).toMatchObject({ chain: false, jumps: {} });
    expect(gateRuleStatus(6, runner)).toMatchObject({ chain: false, jumps: {} });
  }, 120_000);

  it(`passive lookup on the captured SYN (no gate), for comparison`, async () => {
    const passive = await start('passive');
    expect(passive.lines.find((l) => l.ready)?.gateActive).toBe(false);
    const r = await lab.run('client', ['sh', '-c', CURL_LOOP], { timeoutMs: 120_000 });
    const pids = new Set(r.stdout.split('\n').filter(Boolean).map(Number));
    // the capture sees every SYN (so the comparison is fair) ...
    // (a passive listener blocks its event loop on each lookup, so under load the capture
    // ring can lose SYNs: wait for all of them, but report rather than fail on a shortfall)
    await passive.waitFor((l) => l.filter((x) => x.mode).length >= N).catch(() => undefined);
    const attributed = passive.records().filter((x) => x.pid !== null && pids.has(x.pid!)).length;
    console.log(`passive: ${attributed}/${N} attributed (lookup on the captured SYN, no hold)`);
    // ... and the comparison is reported, not asserted (it depends on scheduling); the gate test asserts 200/200
    console.log(`passive: the capture saw ${passive.records().length}/${N} SYNs`);
    expect(passive.records().length).toBeGreaterThan(0);
    await passive.stop();
  }, 240_000);
});

describe.skipIf(!labAvailable() || !probeBuilt())('live capture dedupe (netns, routed + NAT)', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwdedup', connection: 'close' });
    // the client ns masquerades the container, as a Docker host does
    await lab.run('client', ['iptables', '-w', '5', '-t', 'nat', '-A', 'POSTROUTING', '-s', lab.addresses.container.ipv4, '-o', lab.ifaces.client, '-j', 'MASQUERADE']);
  });
  afterAll(async () => {
    await lab?.teardown();
  });

  it('sees each container SYN once, under its pre-NAT 4-tuple, though `any` shows it on two interfaces', async () => {
    const p = new Probe(lab.names.client, ['--mode', 'passive']);
    try {
      await p.waitFor((l) => l.some((x) => x.ready), 60_000);
      const r = await lab.run('container', ['sh', '-c', `for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%{http_code}\\n' -m 5 ${URL}; done`]);
      expect(r.stdout.trim().split('\n')).toEqual(['200', '200', '200', '200', '200']);
      await new Promise((res) => setTimeout(res, 1_000));
      await p.stop();
      const keys = p.records().map((x) => x.key!);
      expect(keys).toHaveLength(5);
      for (const k of keys) expect(k.startsWith(`${lab.addresses.container.ipv4}|`)).toBe(true);
      const stats = p.lines.find((l) => l.stats)!.stats as { dedupe: { passed: number; aliasDrops: number } };
      expect(stats.dedupe.aliasDrops).toBeGreaterThan(0);
    } finally {
      await p.stop('SIGKILL');
    }
  }, 120_000);
});
