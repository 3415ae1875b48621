import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { GATE_CHAIN } from '../../src/live/gate-rules.js';
import { effectiveCapabilities, missingCapabilities } from '../../src/live/privilege.js';
import { CliRun, GATE_BUDGET_ARGS, cliBuilt, tally } from './cli.js';

/**
 * `imdswatch scan` as a non-root user (issue #7, "Privilege"): setpriv drops to
 * nobody:nogroup and keeps only the capabilities the systemd unit grants
 * (systemd/imdswatch.service: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN
 * CAP_SYS_PTRACE CAP_DAC_READ_SEARCH), or fewer, inside a fresh lab's client namespace.
 */
const V4 = 'http://169.254.169.254';
const UNIT_CAPS = '+net_raw,+net_admin,+sys_ptrace,+dac_read_search';
const asNobody = (caps: string | null): string[] => [
  'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups',
  ...(caps ? [`--inh-caps=${caps}`, `--ambient-caps=${caps}`] : []),
];
/** the lines imdswatch itself wrote (the cap binding prints a libpcap "Warning: ..." of its own) */
const ownLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('imdswatch:'));

describe('CapEff parsing', () => {
  const status = (capEff: string): string => `Name:\tnode\nUid:\t65534\t65534\t65534\t65534\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`;
  it.each([
    ['000001ffffffffff', []],
    ['0000000000083004', []],
    ['0000000000003000', ['CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH']],
    ['0000000000080000', ['CAP_DAC_READ_SEARCH']],
    ['0000000000000000', ['CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH']],
  ])('CapEff %s lacks %j', (capEff, missing) => {
    expect(missingCapabilities(status(capEff), ['CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH'])).toEqual(missing);
  });
  it('an absent or malformed CapEff line is unknown, not "nothing missing" by accident', () => {
    expect(effectiveCapabilities('Name:\tx\n')).toBeNull();
    expect(effectiveCapabilities('CapEff:\tzz\n')).toBeNull();
    expect(missingCapabilities('CapEff:\tzz\n', ['CAP_NET_RAW'])).toEqual([]);
  });
});

describe.skipIf(!labAvailable() || !cliBuilt())('imdswatch scan as a non-root user (setpriv, netns)', () => {
  const labs: Lab[] = [];
  const runs: CliRun[] = [];
  const freshLab = async (): Promise<Lab> => {
    const lab = await createLab({ prefix: 'iwpriv', connection: 'close' });
    labs.push(lab);
    return lab;
  };
  const scan = (lab: Lab, caps: string | null, args: string[]): CliRun => {
    const r = new CliRun(lab, ['scan', ...GATE_BUDGET_ARGS, ...args], { wrap: asNobody(caps) });
    runs.push(r);
    return r;
  };
  const gateChainPresent = async (lab: Lab): Promise<boolean> => (await lab.run('client', ['iptables', '-w', '5', '-t', 'mangle', '-S'])).stdout.includes(`-N ${GATE_CHAIN}`);
  const cleanup = async (): Promise<void> => {
    for (const r of runs.splice(0)) r.kill();
    for (const lab of labs.splice(0)) await lab.teardown();
  };
  afterEach(cleanup);
  afterAll(cleanup);

  it("with only the unit's capabilities: capture and gate work, root's curl is attributed, rules are removed", async () => {
    const lab = await freshLab();
    const run = scan(lab, UNIT_CAPS, ['--duration', '60s', '--format', 'ndjson']);
    await run.gateReady();
    // the scan really runs as nobody, with exactly the unit's capabilities in effect
    let status = '';
    try {
      status = readFileSync(`/proc/${run.child.pid}/status`, 'utf8');
    } catch {
      // it exited before capturing: say why (its own words), not ENOENT
      const r = await run.result;
      throw new Error(`the scan exited before its gate and capture were up: exit ${r.code} ${r.signal ?? ''}; stderr: ${r.stderr.slice(0, 800)}`);
    }
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe('65534');
    expect(effectiveCapabilities(status)).toBe(0x83004n);
    const curl = await lab.run('client', ['sh', '-c', `echo $$; exec curl -s -o /dev/null -w '%{http_code}' -m 5 ${V4}/latest/meta-data/instance-id`]);
    const [pidText, code] = curl.stdout.split('\n');
    expect(code).toBe('200');
    await run.waitForEvents(1);
    run.interrupt();
    const res = await run.result;
    console.log(`non-root scan (unit caps): ${tally(res.events)}, exit ${res.code} after ${res.elapsedMs} ms`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(ownLines(res.stderr)).toEqual([]);
    expect(res.events).toHaveLength(1);
    expect(res.events[0]).toMatchObject({ version: 'v1', attribution: 'gate', process: { pid: Number(pidText), exe: '/usr/bin/curl', uid: 0, user: 'root' } });
    expect(await gateChainPresent(lab)).toBe(false);
  }, 60_000);

  it('without any capability: exits 2 at once with one line naming the missing privilege', async () => {
    const lab = await freshLab();
    const res = await scan(lab, null, ['--duration', '60s', '--format', 'ndjson']).result;
    console.log(`non-root scan (no caps): exit ${res.code} after ${res.elapsedMs} ms: ${ownLines(res.stderr).join(' | ')}`);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    const lines = ownLines(res.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/missing privilege CAP_NET_RAW/);
    expect(lines[0]).toMatch(/run as root/);
    expect(await gateChainPresent(lab)).toBe(false);
  }, 60_000);

  it('with the network capabilities only: gate and capture work, one warning says why processes stay unattributed', async () => {
    const lab = await freshLab();
    const run = scan(lab, '+net_raw,+net_admin', ['--duration', '60s', '--format', 'ndjson']);
    await run.gateReady();
    await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-m', '5', `${V4}/latest/meta-data/ami-id`]);
    await run.waitForEvents(1);
    run.interrupt();
    const res = await run.result;
    console.log(`non-root scan (net caps only): ${tally(res.events)}; ${ownLines(res.stderr).join(' | ')}`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(res.events.map((e) => [e.version, e.attribution])).toEqual([['v1', 'none']]);
    const lines = ownLines(res.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/missing privilege CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH/);
  }, 60_000);

  it('with CAP_NET_RAW only: says once that the gate needs CAP_NET_ADMIN and scans passively', async () => {
    const lab = await freshLab();
    const res = await scan(lab, '+net_raw', ['--duration', '3s']).result;
    const lines = ownLines(res.stderr);
    console.log(`non-root scan (net_raw only): exit ${res.code}; ${lines.join(' | ')}`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(res.stdout).toContain('no IMDS request seen');
    expect(lines.filter((l) => /SYN gate not active/.test(l))).toHaveLength(1);
    expect(lines.find((l) => /SYN gate not active/.test(l))).toMatch(/missing privilege CAP_NET_ADMIN/);
    expect(await gateChainPresent(lab)).toBe(false);
  }, 60_000);
});
