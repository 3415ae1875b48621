import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, LINK, type Lab } from '../support/lab/netns.js';
import { run } from '../support/lab/proc.js';
import { LOAD_TOOL, built, metricValue, startDaemonIn, waitFor, type DaemonRun } from './helpers.js';

/**
 * Fail-open and self-healing of the daemon (capture on `any`, gate on) in a lab:
 * a corrupt state file at start, the IMDS-facing interface going down and up, a new
 * container-like namespace with its own veth appearing while it runs, and a full disk
 * under the log file. (SIGKILL during a burst: test/live/gate.test.ts and
 * test/integration/daemon-crash.test.ts.)
 */
const IMDS_URL = 'http://169.254.169.254/latest/meta-data/instance-id';
const curlArgs = (ua: string) => ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', '-A', ua, IMDS_URL];

describe.skipIf(!labAvailable() || !built())('daemon self-healing (lab)', () => {
  let lab: Lab;
  let daemon: DaemonRun;
  const dir = mkdtempSync(join(tmpdir(), `imdswatch-failopen-${process.pid}-`));
  const stateFile = join(dir, 'state', 'state.json');
  const extraNs = `iwfo-${process.pid}-ctr2`;
  const hasEvent = (ua: string) => daemon.events().some((l) => l.event.userAgent === ua);

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwfo', connection: 'close' });
    mkdirSync(join(dir, 'state'));
    writeFileSync(stateFile, '{"format":"imdswatch-state/1","software":{ this is not JSON');
    daemon = await startDaemonIn(
      lab.execPrefix('client'),
      ['--log-file', join(dir, 'imdswatch.log'), '--state-file', stateFile, '--metrics', 'off'],
      { IMDSWATCH_SAVE_INTERVAL: '1' },
    );
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await run(['ip', 'netns', 'del', extraNs]).catch(() => undefined);
    await lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves a corrupt state file aside at start, says so once, and rebuilds the state', async () => {
    const aside = readdirSync(join(dir, 'state')).filter((n) => n.startsWith('state.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, 'state', aside[0]!), 'utf8')).toContain('this is not JSON');
    expect(daemon.lines().filter((l) => l.kind === 'state' && l.level === 'error')).toHaveLength(1);
    expect((await lab.run('client', curlArgs('state-probe'))).stdout).toBe('200');
    await waitFor(() => hasEvent('state-probe'), 10_000, 'the state probe event');
    await waitFor(() => {
      try {
        const s = JSON.parse(readFileSync(stateFile, 'utf8'));
        return Object.values(s.software as Record<string, { userAgent: string; v1: number }>).some((e) => e.userAgent === 'state-probe' && e.v1 === 1);
      } catch {
        return false;
      }
    }, 10_000, 'the rebuilt state file with the probe');
  }, 30_000);

  it('keeps capturing across the interface going down and up', async () => {
    expect((await lab.run('client', curlArgs('before-down'))).stdout).toBe('200');
    await waitFor(() => hasEvent('before-down'), 10_000, 'the call before the interface went down');
    const iface = lab.ifaces.client;
    await lab.run('client', ['ip', 'link', 'set', iface, 'down']);
    expect((await lab.run('client', curlArgs('while-down'))).stdout).not.toBe('200');
    await lab.run('client', ['ip', 'link', 'set', iface, 'up']);
    // admin down flushed the interface's routes: put the IMDS route back as the lab made it
    await lab.run('client', ['ip', 'route', 'replace', `${LINK.imds.ipv4}/32`, 'dev', iface, 'src', LINK.client.ipv4]);
    let code = '';
    for (let i = 0; i < 20 && code !== '200'; i++) {
      code = (await lab.run('client', curlArgs('after-up'))).stdout;
      if (code !== '200') await new Promise((r) => setTimeout(r, 250));
    }
    expect(code).toBe('200');
    await waitFor(() => hasEvent('after-up'), 10_000, 'the call after the interface came back');
    expect(daemon.exitCode()).toBeNull();
  }, 30_000);

  it('captures calls from a namespace whose veth appeared after the daemon started', async () => {
    const c = lab.names.client;
    const must = async (argv: string[]) => {
      const r = await run(argv);
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
    };
    await must(['ip', 'netns', 'add', extraNs]);
    await must(['ip', '-n', extraNs, 'link', 'set', 'lo', 'up']);
    await must(['ip', '-n', c, 'link', 'add', 'cli2', 'type', 'veth', 'peer', 'name', 'ctr2', 'netns', extraNs]);
    await must(['ip', '-n', c, 'addr', 'add', '10.213.3.1/32', 'dev', 'cli2', 'noprefixroute']);
    await must(['ip', '-n', c, 'link', 'set', 'cli2', 'up']);
    await must(['ip', '-n', extraNs, 'addr', 'add', '10.213.3.2/32', 'dev', 'ctr2', 'noprefixroute']);
    await must(['ip', '-n', extraNs, 'link', 'set', 'ctr2', 'up']);
    await must(['ip', '-n', c, 'route', 'add', '10.213.3.2/32', 'dev', 'cli2', 'src', '10.213.3.1']);
    await must(['ip', '-n', extraNs, 'route', 'add', `${LINK.imds.ipv4}/32`, 'via', '10.213.3.1', 'dev', 'ctr2', 'onlink', 'src', '10.213.3.2']);
    await must(['ip', '-n', lab.names.imds, 'route', 'add', '10.213.3.2/32', 'via', LINK.client.ipv4, 'dev', lab.ifaces.imds, 'onlink']);
    const r = await run(['ip', 'netns', 'exec', extraNs, ...curlArgs('new-veth')]);
    expect(r.stdout).toBe('200');
    await waitFor(() => hasEvent('new-veth'), 10_000, 'the call from the new namespace');
    const ev = daemon.events().find((l) => l.event.userAgent === 'new-veth')!.event;
    expect(ev).toMatchObject({ version: 'v1', status: 200, client: { ip: '10.213.3.2' } });
  }, 30_000);
});

describe.skipIf(!labAvailable() || !built())('daemon with a full disk under its log (lab)', () => {
  let lab: Lab;
  let daemon: DaemonRun;
  const dir = mkdtempSync(join(tmpdir(), `imdswatch-fulldisk-${process.pid}-`));
  const logDir = join(dir, 'tiny');
  const metricsPort = 18000 + (process.pid % 1000);
  let mounted = false;
  let metrics = '';
  let load: Record<string, any> = {};

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwfd', connection: 'close' });
    mkdirSync(logDir, { mode: 0o700 });
    const m = await run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', logDir]);
    expect(m.code, m.stderr).toBe(0);
    mounted = true;
    daemon = await startDaemonIn(
      lab.execPrefix('client'),
      ['--log-file', join(logDir, 'imdswatch.log'), '--log-max-bytes', String(10 * 1024 * 1024), '--state-file', join(dir, 'state.json'), '--metrics', String(metricsPort)],
      { IMDSWATCH_SAVE_INTERVAL: '1' },
    );
    // ~1 KiB per event line: 300 calls are far more than 64 KiB
    const r = await lab.run('client', [process.execPath, LOAD_TOOL, '--mode', 'short-conns', '--target', LINK.imds.ipv4, '--count', '300', '--concurrency', '2', '--seconds', '30', '--user-agent', 'disk-filler/1'], { timeoutMs: 45_000 });
    load = JSON.parse(r.stdout);
    await waitFor(() => daemon.events().filter((l) => l.event.userAgent === 'disk-filler/1').length >= 300, 20_000, `every filler event on stdout (${daemon.events().length} events; load ${r.stdout.trim()}; ${daemon.lines().filter((l) => l.kind !== 'imds-request').map((l) => l.msg).join(' / ')})`);
    await new Promise((r) => setTimeout(r, 1500)); // one save interval: the dropped-lines gauge
    metrics = (await lab.run('client', ['curl', '-s', '-m', '5', `http://127.0.0.1:${metricsPort}/metrics`])).stdout;
  }, 90_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await lab?.teardown();
    if (mounted) await run(['umount', logDir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops file logging with exactly one error and keeps running, capturing and serving metrics', () => {
    expect(load.answered).toBe(300);
    const errors = daemon.lines().filter((l) => l.kind === 'log-file');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.level).toBe('error');
    expect(errors[0]!.msg).toMatch(/ENOSPC/);
    expect(daemon.exitCode()).toBeNull();
    expect(metrics).toMatch(/^imdswatch_capture_up 1$/m);
    expect(metricValue(metrics, 'imdswatch_requests_total')).toBeGreaterThanOrEqual(300);
    expect(metricValue(metrics, 'imdswatch_log_lines_dropped')).toBeGreaterThan(0);
    // the file holds what fit (no rotation: the size limit is far away)
    const text = readFileSync(join(logDir, 'imdswatch.log'), 'utf8');
    expect(text.length).toBeGreaterThan(0);
    expect(existsSync(join(logDir, 'imdswatch.log.1'))).toBe(false);
  });

  it('exits cleanly on SIGTERM with the disk still full', async () => {
    expect(await daemon.stop('SIGTERM')).toBe(0);
  });
});
