import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judge, runDoctor, type DoctorFacts } from '../../src/doctor/run-doctor.js';
import { formatDoctor } from '../../src/doctor/format.js';
import { pathFacts, probeImds, userUid } from '../../src/doctor/probe.js';
import type { Runner } from '../../src/live/gate-rules.js';

const TOKEN = 'AQAEAFAKE-doctor-token-must-never-be-printed==';
let server: Server;
let port: number;
let tmp: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), `imdswatch-doctor-${process.pid}-`));
  // a loopback stand-in for IMDS: answers the token PUT with a token
  server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token' && req.headers['x-aws-ec2-metadata-token-ttl-seconds']) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(TOKEN);
    } else res.writeHead(403).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(tmp, { recursive: true, force: true });
});

const healthy: DoctorFacts = {
  nodeVersion: 'v20.20.2',
  libpcap: { loaded: true },
  capabilities: { subject: 'the imdswatch daemon (pid 7)', statusText: 'CapEff:\t0000000000083004\n' },
  firewall: { iptables: 'iptables v1.8.9 (nf_tables)', ip6tables: 'ip6tables v1.8.9 (nf_tables)', nft: 'nftables v1.0.6' },
  gate: { v4: { chain: true, jumps: { OUTPUT: 1 } }, v6: { chain: true, jumps: { OUTPUT: 1 } }, nftTable: false, daemonRunning: true },
  logDir: { path: '/var/log/imdswatch', exists: true, mode: 0o700, uid: 990, files: [{ name: 'imdswatch.log', mode: 0o600 }] },
  serviceUid: 990,
  ec2: { sysVendor: 'Amazon EC2', boardAssetTag: 'i-0123456789abcdef0', biosVersion: null, hypervisorUuid: null },
  imds: { status: 200 },
  service: { pid1: 'systemd', active: 'active', enabled: 'enabled' },
};

describe('judge', () => {
  it('a healthy host: all ✓, ok', () => {
    const r = judge(healthy);
    expect(r.ok).toBe(true);
    expect(r.lines.map((l) => l.id)).toEqual(['node', 'libpcap', 'capabilities', 'firewall', 'gate-rules', 'log-dir', 'ec2', 'imds', 'service']);
    expect(r.lines.every((l) => l.status === 'ok')).toBe(true);
    const text = formatDoctor(r.lines);
    expect(text.split('\n').filter((l) => l.startsWith('✓'))).toHaveLength(9);
    expect(text.trimEnd().endsWith('ok')).toBe(true);
  });

  it('one failure makes it not ok and prints the fix under the line', () => {
    const r = judge({ ...healthy, libpcap: { loaded: false, error: 'libpcap.so.0.8: cannot open shared object file' } });
    expect(r.ok).toBe(false);
    const text = formatDoctor(r.lines);
    const lines = text.split('\n');
    const i = lines.findIndex((l) => l.startsWith('✗ libpcap'));
    expect(i).toBeGreaterThan(-1);
    expect(lines[i + 1]).toMatch(/^\s+fix: install libpcap: apt-get install libpcap0\.8/);
    expect(lines.at(-2)).toBe('1 problem to fix');
  });

  it('IMDS unreachable off EC2 warns but stays ok', () => {
    const r = judge({ ...healthy, ec2: { sysVendor: 'QEMU', boardAssetTag: null, biosVersion: null, hypervisorUuid: null }, imds: { status: null, error: 'ENETUNREACH' } });
    expect(r.ok).toBe(true);
    expect(r.lines.find((l) => l.id === 'imds')?.status).toBe('warn');
  });
});

describe('probeImds', () => {
  it('reports the status of the token PUT and never the token', async () => {
    const r = await probeImds('127.0.0.1', port, 2000);
    expect(r).toEqual({ status: 200 });
    expect(JSON.stringify(r)).not.toContain('AQAE');
  });

  it('no listener → an error code, no throw', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const r = await probeImds('127.0.0.1', deadPort, 2000);
    expect(r.status).toBeNull();
    expect(r.error).toBe('ECONNREFUSED');
  });
});

describe('runDoctor with injected facts and firewall runner', () => {
  const runner = (chain: boolean): Runner => (cmd, args) => {
    if (cmd === 'nft') return { ok: false, stdout: '', stderr: 'no such table' };
    if (args.includes('-S')) return { ok: true, stdout: chain ? '-P OUTPUT ACCEPT\n-N IMDSWATCH\n-A OUTPUT -j IMDSWATCH\n-A IMDSWATCH -d 169.254.169.254/32 -p tcp -j NFQUEUE\n' : '-P OUTPUT ACCEPT\n', stderr: '' };
    return { ok: true, stdout: '', stderr: '' };
  };

  it('reads gate rules through the runner: leftover rules after the daemon stopped', async () => {
    const { gate: _g, ...rest } = healthy;
    const r = await runDoctor({ runner: runner(true), imds: false, facts: { ...rest, imds: undefined, service: { pid1: 'systemd', active: 'inactive', enabled: 'enabled' } } });
    const gate = r.lines.find((l) => l.id === 'gate-rules');
    expect(gate?.status).toBe('warn');
    expect(gate?.fix).toBe('imdswatch gate --remove');
    expect(r.lines.find((l) => l.id === 'imds')?.status).toBe('info');
  });

  it('no privilege to list rules → a warning that says run as root', async () => {
    const denied: Runner = (cmd) => (cmd === 'nft' ? { ok: false, stdout: '', stderr: '' } : { ok: false, stdout: '', stderr: 'iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n' });
    const { gate: _g, ...rest } = healthy;
    const r = await runDoctor({ runner: denied, facts: rest });
    const gate = r.lines.find((l) => l.id === 'gate-rules');
    expect(gate?.status).toBe('warn');
    expect(gate?.message).toMatch(/Permission denied/);
  });

  it('checks a real log directory', async () => {
    const dir = join(tmp, 'log');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'imdswatch.log'), 'x', { mode: 0o644 });
    chmodSync(join(dir, 'imdswatch.log'), 0o644);
    const { logDir: _l, serviceUid: _u, ...rest } = healthy;
    const r = await runDoctor({ logDir: dir, user: 'no-such-user-here', facts: rest });
    const line = r.lines.find((l) => l.id === 'log-dir');
    expect(line?.status).toBe('fail');
    expect(line?.message).toContain('imdswatch.log mode 0644');
    chmodSync(join(dir, 'imdswatch.log'), 0o600);
    expect(pathFacts(dir)).toMatchObject({ exists: true, mode: 0o700, files: [{ name: 'imdswatch.log', mode: 0o600 }] });
  });

  it('userUid reads passwd text', () => {
    expect(userUid('imdswatch', 'root:x:0:0::/root:/bin/bash\nimdswatch:x:991:991::/nonexistent:/usr/sbin/nologin\n')).toBe(991);
    expect(userUid('nobody-else', 'root:x:0:0::/root:/bin/bash\n')).toBeNull();
  });
});
