import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab, type LabNs } from '../support/lab/netns.js';
import { run, startDaemon, type Daemon } from '../support/lab/proc.js';
import { startImdsServer } from '../support/lab/imds-server.js';
import { REPO_ROOT } from '../support/repo-root.js';
import { cgroup2MountFrom } from '../../src/enforce/workload.js';
import { TABLE_PREFIX } from '../../src/enforce/owned-table.js';

/**
 * `imdswatch enforce` end to end (docs/design.md#enforce): the lab's namespaces and simulator,
 * a cgroup v2 group made for the test under the host's cgroup v2 root, the CLI from dist/.
 * Commands run with `nsenter --net` (not `ip netns exec`, which remounts /sys and so hides
 * the cgroup tree). Each test stops its enforce process; afterAll removes the group and lab.
 */
const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const ROOT = cgroup2MountFrom(readFileSync('/proc/self/mounts', 'utf8'));
const available = labAvailable() && ROOT !== null && existsSync(CLI);
const URL = 'http://169.254.169.254/latest/meta-data/instance-id';
const URL6 = 'http://[fd00:ec2::254]/latest/meta-data/instance-id';
const GROUP = `iwenf-${process.pid}`;

describe.skipIf(!available)('imdswatch enforce (netns, cgroup v2)', () => {
  let lab: Lab;
  const daemons: Daemon[] = [];
  const nsenter = (ns: LabNs): string[] => ['nsenter', `--net=/run/netns/${lab.names[ns]}`];
  /** run a shell script in a namespace, inside the test's cgroup (or not) */
  const sh = (ns: LabNs, script: string, inGroup: boolean) =>
    run([...nsenter(ns), 'sh', '-c', inGroup ? `echo $$ > ${join(ROOT!, GROUP, 'cgroup.procs')} && ${script}` : script], { timeoutMs: 20_000 });
  const curl = (ns: LabNs, args: string, inGroup: boolean) => sh(ns, `exec curl -s -m 3 ${args}`, inGroup);
  const start = async (ns: LabNs, ...args: string[]): Promise<Daemon> => {
    const d = await startDaemon([...nsenter(ns), process.execPath, CLI, 'enforce', '--cgroup', GROUP, ...args], /"type":"enforce-ready"/, { timeoutMs: 30_000 });
    daemons.push(d);
    return d;
  };
  const events = (d: Daemon) => d.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const tables = async (ns: LabNs): Promise<string[]> => {
    const r = await run([...nsenter(ns), 'nft', 'list', 'tables']);
    return r.stdout.split('\n').filter((l) => l.includes(TABLE_PREFIX));
  };

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwenf', hopLimitOnTokenPut: true });
    mkdirSync(join(ROOT!, GROUP));
  }, 60_000);
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop('SIGTERM').catch(() => undefined);
  });
  afterAll(async () => {
    await lab?.teardown();
    // the lab's teardown killed what ran in its namespaces: the group is empty
    if (ROOT && existsSync(join(ROOT, GROUP))) rmdirSync(join(ROOT, GROUP));
  });

  it('a token-less GET from the group gets the 401 IMDS sends under required; the event names the workload and the process', async () => {
    const d = await start('client');
    const r = await sh('client', `echo $$; exec curl -s -m 3 -i ${URL}`, true);
    const [pidLine, ...rest] = r.stdout.split('\n');
    const response = rest.join('\n');
    expect(response).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    const headers = parseHeaders(response);
    // the simulator's own answer under HttpTokens=required (docs/imds-facts.md#status-codes)
    const sim = await startImdsServer({ hosts: ['127.0.0.1'], port: 0, tokens: 'required' });
    try {
      const res = await fetch(`http://127.0.0.1:${sim.port}/latest/meta-data/instance-id`);
      expect(res.status).toBe(401);
      expect(await res.text()).toBe('');
      for (const name of ['server', 'content-type', 'content-length']) expect(headers[name], name).toBe(res.headers.get(name));
    } finally {
      await sim.close();
    }
    expect(response.split('\r\n\r\n')[1]).toBe('');
    const ev = events(d).find((e) => e.type === 'enforce');
    expect(ev).toMatchObject({ verdict: 'rejected', note: 'rejected by imdswatch enforce', workload: `cgroup:/${GROUP}`, method: 'GET', path: '/latest/meta-data/instance-id', exe: '/usr/bin/curl', pid: Number(pidLine) });
    // IPv6 too
    expect((await curl('client', `-o /dev/null -w %{http_code} ${URL6}`, true)).stdout).toBe('401');
  }, 60_000);

  it('a token PUT and a GET with the token from the group get 200 and the same body as outside; v1 outside the group gets 200', async () => {
    const d = await start('client');
    const outside = await curl('client', `-w ' %{http_code}' ${URL}`, false);
    expect(outside.stdout).toMatch(/^i-\S+ 200$/);
    const script =
      `t=$(curl -s -m 3 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token) && ` +
      `exec curl -s -m 3 -w ' %{http_code}' -H "X-aws-ec2-metadata-token: $t" ${URL}`;
    const inside = await sh('client', script, true);
    expect(inside.stdout).toBe(outside.stdout);
    // HEAD without a token is rejected too; HEAD with a token passes
    expect((await curl('client', `-I -o /dev/null -w %{http_code} ${URL}`, true)).stdout).toBe('401');
    expect(events(d).filter((e) => e.type === 'enforce').map((e) => e.method)).toEqual(['HEAD']);
    // the simulator answered the PUT and the tokened GET (sent on), never the rejected calls
    expect(lab.serverLog().filter((l) => l.startsWith('HEAD'))).toEqual([]);
  }, 60_000);

  it('a token PUT from a group one hop too far (container namespace) still gets no answer, as under the real switch', async () => {
    const put = `-o /dev/null -w %{http_code} -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token`;
    // without enforce: the hop limit drops the answer (curl times out: 000)
    expect((await curl('container', put, true)).stdout).toBe('000');
    await start('container');
    expect((await curl('container', put, true)).stdout).toBe('000');
    expect((await curl('container', `-o /dev/null -w %{http_code} ${URL}`, true)).stdout).toBe('401');
  }, 60_000);

  it('--dry-run lets the call through and logs that it would have been rejected', async () => {
    const d = await start('client', '--dry-run');
    expect((await curl('client', `-w ' %{http_code}' ${URL}`, true)).stdout).toMatch(/^i-\S+ 200$/);
    await d.stop('SIGTERM');
    const evs = events(d);
    expect(evs.find((e) => e.type === 'enforce')).toMatchObject({ verdict: 'would-reject', note: 'would be rejected by imdswatch enforce', workload: `cgroup:/${GROUP}`, exe: '/usr/bin/curl' });
    expect(evs.find((e) => e.type === 'enforce-summary')).toMatchObject({ workloads: [{ workload: `cgroup:/${GROUP}`, wouldReject: 1, rejected: 0 }] });
    expect(d.lines.some((l) => l.includes('would break'))).toBe(true);
  }, 60_000);

  it('a clean stop leaves no rule; after SIGKILL the group reaches IMDS again within 3 s', async () => {
    const d = await start('client');
    expect(await tables('client')).toHaveLength(1);
    await d.stop('SIGTERM');
    expect(d.child.exitCode).toBe(0);
    expect(await tables('client')).toEqual([]);
    expect((await curl('client', `-o /dev/null -w %{http_code} ${URL}`, true)).stdout).toBe('200');

    const k = await start('client');
    expect((await curl('client', `-o /dev/null -w %{http_code} ${URL}`, true)).stdout).toBe('401');
    k.child.kill('SIGKILL');
    const t0 = Date.now();
    let code = '';
    while (Date.now() - t0 < 3_000) {
      code = (await curl('client', `-m 1 -o /dev/null -w %{http_code} ${URL}`, true)).stdout;
      if (code === '200') break;
    }
    console.log(`enforce: after SIGKILL the group's v1 call got ${code} after ${Date.now() - t0} ms (bound 3000 ms)`);
    expect(code).toBe('200');
    expect(await tables('client')).toEqual([]);
  }, 60_000);

  it('--duration ends the run by itself: summary, exit 0, no rule left', async () => {
    const r = await run([...nsenter('client'), process.execPath, CLI, 'enforce', '--cgroup', GROUP, '--duration', '1s'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(['enforce-ready', 'enforce-summary']);
    expect(r.stderr).toMatch(/ready for HttpTokens=required/);
    expect(await tables('client')).toEqual([]);
  }, 60_000);

  it('a host without cgroup v2 (the cgroup root pointed elsewhere) gets one clear line and nothing installed', async () => {
    const r = await run([...nsenter('client'), process.execPath, CLI, 'enforce', '--cgroup', GROUP, '--cgroup-root', '/tmp'], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^imdswatch: \/tmp is not a cgroup v2 hierarchy.*nothing was installed/)]);
    expect(r.stdout).toBe('');
    expect(await tables('client')).toEqual([]);
  }, 60_000);
});

function parseHeaders(response: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of response.split('\r\n\r\n')[0]!.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    out[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

/**
 * --container for a container in a network namespace of its own: imdswatch runs itself in
 * that namespace (src/enforce/delegate.ts). The runtime is stood in for by a `docker` script
 * on PATH that answers `inspect` with the pid of a process in the lab's container namespace
 * (the real Docker and Podman: test/enforce/enforce-containers.test.ts).
 */
describe.skipIf(!available)('imdswatch enforce --container (own network namespace, delegate)', () => {
  let lab: Lab;
  let bin = '';
  let holder: Daemon | null = null;
  const group = `iwenfc-${process.pid}`;
  const started: Daemon[] = [];
  const inGroup = (script: string) =>
    run(['nsenter', `--net=/run/netns/${lab.names.container}`, 'sh', '-c', `echo $$ > ${join(ROOT!, group, 'cgroup.procs')} && ${script}`], { timeoutMs: 20_000 });
  const tablesIn = async (ns: string): Promise<string[]> =>
    (await run(['nsenter', `--net=/run/netns/${ns}`, 'nft', 'list', 'tables'])).stdout.split('\n').filter((l) => l.includes(TABLE_PREFIX));

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwenfc' });
    mkdirSync(join(ROOT!, group));
    // the "container": a process in the container namespace and the group
    holder = await startDaemon(['nsenter', `--net=/run/netns/${lab.names.container}`, 'sh', '-c', `echo $$ > ${join(ROOT!, group, 'cgroup.procs')} && echo up && exec sleep 600`], /^up$/);
    bin = mkdtempSync(join(tmpdir(), 'iwenf-bin-'));
    writeFileSync(join(bin, 'docker'), `#!/bin/sh\n[ "$4" = web ] && echo ${holder.child.pid} && exit 0\nexit 1\n`, { mode: 0o755 });
  }, 60_000);
  afterEach(async () => {
    for (const d of started.splice(0)) await d.stop('SIGTERM').catch(() => undefined);
  });
  afterAll(async () => {
    await holder?.stop('SIGKILL');
    await lab?.teardown();
    if (bin) rmSync(bin, { recursive: true, force: true });
    if (ROOT && existsSync(join(ROOT, group))) rmdirSync(join(ROOT, group));
  });

  const start = async (): Promise<Daemon> => {
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const d = await startDaemon(['nsenter', `--net=/run/netns/${lab.names.client}`, process.execPath, CLI, 'enforce', '--container', 'web'], /"type":"enforce-ready"/, { timeoutMs: 30_000, env });
    started.push(d);
    return d;
  };

  it('rejects the container\'s token-less GET from inside its namespace, names it, and removes everything on stop', async () => {
    const d = await start();
    expect(await tablesIn(lab.names.client)).toEqual([]);
    expect(await tablesIn(lab.names.container)).toHaveLength(1);
    expect((await inGroup(`exec curl -s -m 3 -o /dev/null -w %{http_code} ${URL}`)).stdout).toBe('401');
    await d.stop('SIGTERM');
    expect(d.child.exitCode).toBe(0);
    const evs = d.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(evs.find((e) => e.type === 'enforce')).toMatchObject({ verdict: 'rejected', workload: 'container:web', exe: '/usr/bin/curl' });
    expect(evs.find((e) => e.type === 'enforce-summary')).toMatchObject({ workloads: [{ workload: 'container:web', rejected: 1 }] });
    expect(await tablesIn(lab.names.container)).toEqual([]);
    expect((await inGroup(`exec curl -s -m 3 -o /dev/null -w %{http_code} ${URL}`)).stdout).toBe('200');
  }, 60_000);

  it('after SIGKILL of imdswatch the container reaches IMDS again within 3 s', async () => {
    const d = await start();
    expect((await inGroup(`exec curl -s -m 3 -o /dev/null -w %{http_code} ${URL}`)).stdout).toBe('401');
    d.child.kill('SIGKILL');
    const t0 = Date.now();
    let code = '';
    while (Date.now() - t0 < 3_000) {
      code = (await inGroup(`exec curl -s -m 1 -o /dev/null -w %{http_code} ${URL}`)).stdout;
      if (code === '200') break;
    }
    expect(code).toBe('200');
    expect(await tablesIn(lab.names.container)).toEqual([]);
  }, 60_000);
});
