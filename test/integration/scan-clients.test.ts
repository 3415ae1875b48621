import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab, type LabOptions } from '../support/lab/netns.js';
import { CliRun, GATE_BUDGET_ARGS, cliBuilt, clientEnv, netnsInode, sleep, tally } from './cli.js';

/**
 * `imdswatch scan` end to end, as a user runs it: the built CLI inside the client
 * namespace of a fresh lab (its own firewall and NFQUEUE, the simulator behind a veth),
 * real clients (curl, python3 http.client, the Debian AWS CLI, the AWS SDK for
 * JavaScript v3), assertions on the ndjson events and the exit code.
 *
 * Scans that wait for a client run with a generous --duration and are ended with Ctrl-C
 * (SIGINT) once the client's events are out, so a loaded machine makes them slower,
 * never flaky; the duration itself is tested by the empty scan and the --fail-on scans.
 */
const REPO = process.cwd();
const V4 = 'http://169.254.169.254';
const HOME = mkdtempSync(join(tmpdir(), 'imdswatch-int-home-'));
const NODE = realpathSync(process.execPath);

describe.skipIf(!labAvailable() || !cliBuilt())('imdswatch scan with real clients (netns)', () => {
  const labs: Lab[] = [];
  const runs: CliRun[] = [];
  const freshLab = async (opts: LabOptions = {}): Promise<Lab> => {
    const lab = await createLab({ prefix: 'iwint', connection: 'close', ...opts });
    labs.push(lab);
    return lab;
  };
  const scan = (lab: Lab, args: string[], ns: 'client' | 'container' = 'client'): CliRun => {
    const r = new CliRun(lab, ['scan', ...GATE_BUDGET_ARGS, ...args], { ns });
    runs.push(r);
    return r;
  };
  const cleanup = async (): Promise<void> => {
    for (const r of runs.splice(0)) r.kill();
    for (const lab of labs.splice(0)) await lab.teardown();
  };
  afterEach(cleanup);
  afterAll(cleanup);

  it('scan --duration 5s with no IMDS traffic prints an empty report and exits 0', async () => {
    const lab = await freshLab();
    const res = await scan(lab, ['--duration', '5s']).result;
    console.log(`empty scan: exit ${res.code} after ${res.elapsedMs} ms`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(res.stdout).toMatch(/^IMDSv1 calls: +0$/m);
    expect(res.stdout).toMatch(/^IMDSv2 calls: +0$/m);
    expect(res.stdout).toMatch(/^token requests: +0$/m);
    expect(res.stdout).toContain('no IMDS request seen');
    // it captured for the whole duration (not a timing bound: the duration is the contract)
    expect(res.elapsedMs).toBeGreaterThanOrEqual(5_000);
  }, 60_000);

  /**
   * A python3 keep-alive connection opened before the scan: no SYN to gate, so attribution is
   * passive. With `ownerGoneFirst` the scan is stopped (SIGSTOP) while python makes its calls
   * and exits, so when the scan reads the capture the socket and the process are gone — what
   * a loaded CI machine once did by accident; the owner read at the scan's start must answer.
   */
  const keepAliveCase = async (ownerGoneFirst: boolean): Promise<void> => {
    const lab = await freshLab({ connection: 'keep-alive' });
    const py = [
      'import http.client, os, sys',
      "c = http.client.HTTPConnection('169.254.169.254', 80, timeout=5)",
      'def get(p):',
      "    c.request('GET', p); r = c.getresponse(); r.read(); return r.status",
      "s = get('/latest/meta-data/instance-id')",
      "print('first', os.getpid(), c.sock.getsockname()[1], s, flush=True)",
      'sys.stdin.readline()',
      "for p in ['/latest/meta-data/ami-id', '/latest/meta-data/hostname', '/latest/meta-data/local-ipv4', '/latest/meta-data/placement/region']:",
      "    s = get(p); print('next', c.sock.getsockname()[1], s, flush=True)",
    ].join('\n');
    const [cmd, ...rest] = [...lab.execPrefix('client'), '/usr/bin/python3', '-c', py];
    const child = spawn(cmd!, rest, { stdio: ['pipe', 'pipe', 'pipe'], env: clientEnv(HOME) });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const pyDone = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    try {
      // the connection exists (and its SYN is long past) before the scan starts
      for (let i = 0; i < 100 && !out.includes('\n'); i++) await sleep(50);
      const [, pidText, portText, firstStatus] = out.split('\n')[0]!.split(' ');
      expect(firstStatus).toBe('200');
      const run = scan(lab, ['--duration', '60s', '--format', 'ndjson']);
      await run.gateReady();
      if (ownerGoneFirst) run.child.kill('SIGSTOP');
      try {
        child.stdin.end('go\n');
        expect(await pyDone).toBe(0);
      } finally {
        if (ownerGoneFirst) run.child.kill('SIGCONT');
      }
      const lines = out.trim().split('\n').slice(1);
      // one connection throughout: the same local port, no reconnect
      expect(lines).toEqual(Array(4).fill(`next ${portText} 200`));
      await run.waitForEvents(4);
      run.interrupt();
      const res = await run.result;
      console.log(`python keep-alive${ownerGoneFirst ? ' (owner gone before the capture was read)' : ''}: ${tally(res.events)}, scan ${res.elapsedMs} ms`);
      expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
      expect(res.events.map((e) => e.path)).toEqual([
        '/latest/meta-data/ami-id',
        '/latest/meta-data/hostname',
        '/latest/meta-data/local-ipv4',
        '/latest/meta-data/placement/region',
      ]);
      for (const e of res.events) {
        expect(e).toMatchObject({ version: 'v1', status: 200, attribution: 'passive', client: { port: Number(portText) } });
        expect(e.process?.pid).toBe(Number(pidText));
        expect(e.process?.exe).toMatch(/^\/usr\/bin\/python3/);
      }
    } finally {
      child.kill('SIGKILL');
    }
  };

  it('attributes a python3 keep-alive connection opened before the scan, passively, to its pid', () => keepAliveCase(false), 90_000);

  it('still names that pid when python made its calls and exited before the scan read them', () => keepAliveCase(true), 90_000);

  it('attributes the AWS CLI credential chain (token, then v2) to the aws process through the gate', async () => {
    const lab = await freshLab();
    const run = scan(lab, ['--duration', '60s', '--format', 'ndjson']);
    await run.gateReady();
    const t0 = Date.now();
    const cli = await lab.run('client', ['sh', '-c', 'echo $$; exec /usr/bin/aws configure export-credentials --format process'], {
      env: clientEnv(HOME),
      timeoutMs: 30_000,
    });
    const cliMs = Date.now() - t0;
    const pid = Number(cli.stdout.split('\n')[0]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('AccessKeyId');
    await run.waitForEvents(3);
    await sleep(300);
    run.interrupt();
    const res = await run.result;
    console.log(`aws cli: ${tally(res.events)}, aws ran ${cliMs} ms, sdk ${JSON.stringify(res.events[0]?.sdk?.name)}`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(res.events[0]).toMatchObject({ version: 'token', method: 'PUT', path: '/latest/api/token', status: 200 });
    expect(res.events.slice(1).map((e) => e.version)).toEqual(res.events.slice(1).map(() => 'v2'));
    expect(res.events.length).toBeGreaterThanOrEqual(3);
    expect(res.events.map((e) => e.path)).toContain('/latest/meta-data/iam/security-credentials/');
    for (const e of res.events) {
      expect(e.attribution).toBe('gate');
      expect(e.process?.pid).toBe(pid);
      expect(e.process?.exe).toMatch(/^\/usr\/bin\/python3/);
      expect(e.process?.cmdline).toMatch(/\/usr\/bin\/aws configure export-credentials/);
      // Debian 12's awscli is v2 (2.9.x), which sends the truncated `aws-cli/2.x.y` to IMDS
      expect(e.userAgent).toMatch(/^aws-cli\/\d/);
      expect(e.sdk?.name).toMatch(/^aws-cli/);
      expect(e.sdk?.supportsV2).toBe(true);
    }
  }, 90_000);

  it('attributes the AWS SDK for JavaScript v3 (IMDSv2 session, no User-Agent) to node with its cmdline', async () => {
    const lab = await freshLab();
    const run = scan(lab, ['--duration', '60s', '--format', 'ndjson']);
    await run.gateReady();
    const js =
      "import('@smithy/credential-provider-imds').then((m) => m.fromInstanceMetadata()()).then((c) => console.log('credentials', !!c.accessKeyId))";
    const node = await lab.run('client', ['sh', '-c', `echo $$; exec ${NODE} -e "${js}"`], { env: clientEnv(HOME), cwd: REPO, timeoutMs: 30_000 });
    const pid = Number(node.stdout.split('\n')[0]);
    expect(node.stdout, node.stderr).toContain('credentials true');
    await run.waitForEvents(3);
    await sleep(300);
    run.interrupt();
    const res = await run.result;
    console.log(`js sdk v3: ${tally(res.events)}`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(res.events.map((e) => [e.version, e.method, e.path])).toEqual([
      ['token', 'PUT', '/latest/api/token'],
      ['v2', 'GET', '/latest/meta-data/iam/security-credentials/'],
      ['v2', 'GET', expect.stringMatching(/^\/latest\/meta-data\/iam\/security-credentials\/.+/)],
    ]);
    for (const e of res.events) {
      expect(e).toMatchObject({ attribution: 'gate', userAgent: null, status: 200 });
      expect(e.process).toMatchObject({ pid, exe: NODE });
      expect(e.process?.cmdline).toContain('@smithy/credential-provider-imds');
    }
  }, 90_000);

  it('attributes a curl in the container namespace (routed through the scanning namespace) to curl and its netns', async () => {
    const lab = await freshLab();
    const run = scan(lab, ['--duration', '60s', '--format', 'ndjson']);
    await run.gateReady();
    const curl = await lab.run('container', ['sh', '-c', `echo $$; exec curl -s -o /dev/null -w '%{http_code}' -m 5 ${V4}/latest/meta-data/instance-id`]);
    const [pidText, status] = curl.stdout.split('\n');
    expect(status).toBe('200');
    await run.waitForEvents(1);
    await sleep(300);
    run.interrupt();
    const res = await run.result;
    const containerNs = await netnsInode(lab, 'container');
    const clientNs = await netnsInode(lab, 'client');
    console.log(`container curl: ${tally(res.events)}; netns ${res.events[0]?.process?.netns} (container ${containerNs}, scan ${clientNs})`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(res.events).toHaveLength(1);
    const e = res.events[0]!;
    expect(e).toMatchObject({ version: 'v1', attribution: 'gate', client: { ip: lab.addresses.container.ipv4 }, reason: 'no-token-attempt' });
    expect(e.process).toMatchObject({ pid: Number(pidText), exe: '/usr/bin/curl' });
    expect(e.process?.netns).toBe(containerNs);
    expect(containerNs).not.toBe(clientNs);
  }, 90_000);

  /**
   * The namespace race (docs/design.md#attribution), made exact: a curl bound to a device
   * (SO_BINDTODEVICE: the exact socket lookup misses it) makes the scan read every namespace
   * again while the container namespace is still empty; the container's curl follows at once.
   * The old correlator read namespaces at most every 200 ms, so this call was not held.
   */
  it('attributes a curl in a namespace that was empty a moment before (no sleep, namespaces just read)', async () => {
    const lab = await freshLab();
    const run = scan(lab, ['--duration', '60s', '--format', 'ndjson']);
    await run.gateReady();
    const url = `${V4}/latest/meta-data/instance-id`;
    const both =
      `curl -s -o /dev/null -m 5 --interface cli0 ${url} && ` +
      `exec ip netns exec ${lab.names.container} sh -c 'echo $$; exec curl -s -o /dev/null -w "%{http_code}" -m 5 ${url}'`;
    const r = await lab.run('client', ['sh', '-c', both]);
    const [pidText, status] = r.stdout.split('\n');
    expect(status, r.stderr).toBe('200');
    await run.waitForEvents(2);
    run.interrupt();
    const res = await run.result;
    const containerNs = await netnsInode(lab, 'container');
    console.log(`device-bound then container curl: ${tally(res.events)}`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    const fromContainer = res.events.filter((e) => e.client.ip === lab.addresses.container.ipv4);
    expect(fromContainer).toHaveLength(1);
    expect(fromContainer[0]).toMatchObject({ attribution: 'gate', process: { pid: Number(pidText), exe: '/usr/bin/curl', netns: containerNs } });
  }, 90_000);

  /**
   * A borrowed name (docs/design.md#attribution): an unprivileged user, in a user and mount
   * namespace of its own, bind-mounts its own binary (a copy of curl) over /usr/bin/wget and
   * calls IMDS as "/usr/bin/wget"; then the real wget calls. The first must say it is not the
   * host's file (a distinct exe text and `exeMismatch`), so no report merges it with wget.
   */
  it('marks a binary mounted over another program\'s path in the caller\'s own mount namespace (unshare -Urm)', async () => {
    const lab = await freshLab();
    const dir = mkdtempSync(join(tmpdir(), 'iw-borrowed-'));
    try {
      chmodSync(dir, 0o755);
      copyFileSync('/usr/bin/curl', join(dir, 'mine'));
      chmodSync(join(dir, 'mine'), 0o755);
      const run = scan(lab, ['--duration', '60s', '--format', 'ndjson']);
      await run.gateReady();
      const url = `${V4}/latest/meta-data/instance-id`;
      const asNobody = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
      const fake = await lab.run('client', [...asNobody, 'unshare', '-Urm', 'sh', '-c', `mount --bind ${dir}/mine /usr/bin/wget && exec /usr/bin/wget -s -o /dev/null -w '%{http_code}' -m 5 ${url}`]);
      expect(fake.stdout, fake.stderr).toBe('200');
      const real = await lab.run('client', [...asNobody, 'wget', '-q', '-O', '/dev/null', '-T', '5', '-t', '1', url]);
      expect(real.code, real.stderr).toBe(0);
      await run.waitForEvents(2);
      run.interrupt();
      const res = await run.result;
      const seen = res.events.map((e) => ({ exe: e.process?.exe, exeMismatch: e.process?.exeMismatch ?? null, uid: e.process?.uid, attribution: e.attribution }));
      console.log(`borrowed name: ${JSON.stringify(seen)}`);
      expect(seen).toEqual([
        { exe: "/usr/bin/wget (not the host's file)", exeMismatch: 'other-file', uid: 65534, attribution: 'gate' },
        { exe: '/usr/bin/wget', exeMismatch: null, uid: 65534, attribution: 'gate' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('--fail-on v1 exits 1 after a v1 curl and 0 with only an IMDSv2 session', async () => {
    const lab = await freshLab();
    const v1 = scan(lab, ['--duration', '4s', '--format', 'ndjson', '--fail-on', 'v1']);
    await v1.gateReady();
    await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-m', '5', `${V4}/latest/meta-data/ami-id`]);
    const r1 = await v1.result;

    const v2 = scan(lab, ['--duration', '4s', '--format', 'ndjson', '--fail-on', 'v1']);
    await v2.gateReady();
    const session =
      `T=$(curl -s -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' ${V4}/latest/api/token) && ` +
      `curl -s -m 5 -o /dev/null -w '%{http_code}' -H "X-aws-ec2-metadata-token: $T" ${V4}/latest/meta-data/ami-id`;
    const s = await lab.run('client', ['sh', '-c', session]);
    expect(s.stdout).toBe('200');
    const r2 = await v2.result;
    console.log(`fail-on v1: exit ${r1.code} (${tally(r1.events)}), exit ${r2.code} (${tally(r2.events)})`);
    expect(r1.events.map((e) => [e.version, e.attribution, e.process?.exe])).toEqual([['v1', 'gate', '/usr/bin/curl']]);
    expect(r1.code, r1.stderr).toBe(1);
    expect(r2.events.map((e) => [e.version, e.attribution, e.process?.exe])).toEqual([
      ['token', 'gate', '/usr/bin/curl'],
      ['v2', 'gate', '/usr/bin/curl'],
    ]);
    expect(r2.code, r2.stderr).toBe(0);
  }, 90_000);
});
