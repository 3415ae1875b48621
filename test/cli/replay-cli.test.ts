import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(process.cwd(), 'dist/cli/main.js');
const run = (args: string[], input?: Buffer) =>
  spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', env: { ...process.env, CI: '1' } });

describe.skipIf(!existsSync(CLI))('imdswatch replay: exit codes, outputs, stdin', () => {
  it('--fail-on v1 exits 1 on an IMDSv1 capture and 0 on an IMDSv2-only one', () => {
    expect(run(['replay', '--fail-on', 'v1', 'pcaps/real/curl-v1.pcap']).status).toBe(1);
    const v2 = run(['replay', '--fail-on', 'v1', 'pcaps/real/curl-v2-token-reuse.pcap']);
    expect(v2.status).toBe(0);
    expect(v2.stdout).toMatch(/no IMDSv1 call seen/);
  });

  it('--fail-on rejected matches a v1 call answered 401 and a token PUT answered 403, not a plain v1', () => {
    expect(run(['replay', '--fail-on', 'rejected', 'pcaps/real/curl-v1-required-401.pcap']).status).toBe(1);
    expect(run(['replay', '--fail-on', 'rejected', 'pcaps/real/curl-xff-proxy-403.pcap']).status).toBe(1);
    expect(run(['replay', '--fail-on', 'rejected', 'pcaps/real/curl-v1.pcap']).status).toBe(0);
  });

  it('bad usage exits 2 with one line and no stack', () => {
    for (const args of [
      ['replay', '--format', 'xml', 'pcaps/real/curl-v1.pcap'],
      ['replay', '--fail-on', 'v3', 'pcaps/real/curl-v1.pcap'],
      ['replay', 'no-such-file.pcap'],
      ['replay'],
      ['no-such-command'],
    ]) {
      const r = run(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(run(['replay', 'no-such-file.pcap']).stderr.trim().split('\n')).toHaveLength(1);
  });

  it('reads stdin with -', () => {
    const r = run(['replay', '--format', 'ndjson', '-'], readFileSync('pcaps/real/curl-v1.pcap'));
    expect(r.status).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => [e.version, e.path, e.status])).toEqual([['v1', '/latest/meta-data/instance-id', 200]]);
  });

  it('--output writes the whole file or nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-out-'));
    const ok = run(['replay', '--format', 'json', '-o', join(dir, 'r.json'), 'pcaps/real/curl-v1.pcap']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')).totals.v1).toBe(1);
    const bad = run(['replay', '-o', join(dir, 'missing-dir', 'r.json'), 'pcaps/real/curl-v1.pcap']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/cannot write .*missing-dir/);
    expect(readdirSync(dir)).toEqual(['r.json']);
  });

  it('a truncated capture: the report of what was read, then exit 2 with the packet count', () => {
    const r = run(['replay', 'pcaps/edge/truncated-last-record.pcap']);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/packets read/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/E_CAPTURE_TRUNCATED.*|after \d+ packets/);
  });

  it('never draws a progress bar into a pipe', () => {
    const r = run(['replay', 'pcaps/real/curl-v1.pcap']);
    expect(r.stderr).not.toMatch(/\r|\x1b\[/);
  });
});
