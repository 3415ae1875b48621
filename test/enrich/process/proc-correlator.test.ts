import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcCorrelator } from '../../../src/enrich/process/proc-correlator.js';
import { fakeProc, HEADER, LE, ROW, TUPLE } from './fake-proc.js';

describe('ProcCorrelator on a fake /proc', () => {
  let fp: ReturnType<typeof fakeProc>;
  beforeAll(() => {
    fp = fakeProc();
    fp.setNet('net', HEADER + ROW);
    fp.addPid(1, { comm: 'systemd', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd', fds: [11] });
    fp.addPid(2, { comm: 'kthreadd', ppid: 0, uid: 0, argv: [], kthread: true });
    fp.addPid(500, { comm: 'bash', ppid: 1, uid: 1000, argv: ['bash'], exe: '/usr/bin/bash', fds: [12] });
    fp.addPid(900, {
      comm: 'curl', ppid: 500, uid: 1000, exe: '/usr/bin/curl', fds: [555, 777001],
      argv: ['curl', '-H', 'X-aws-ec2-metadata-token: AQAEAFBkYzEyMzQ1Njc4OTBhYmNkZWZnaGlqaw==', 'http://169.254.169.254/'],
      cgroup: '0::/user.slice/user-1000.slice/session-4.scope\n',
    });
  });
  afterAll(() => rmSync(fp.root, { recursive: true, force: true }));

  it('finds the SYN_SENT socket, its owner and the full ProcessInfo', () => {
    const c = new ProcCorrelator({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd') });
    const r = c.findSocketOwner(TUPLE, 1_000);
    expect(r.outcome).toBe('found');
    expect(r.socket).toEqual({ inode: 777001, uid: 1000, state: 2 });
    expect(r.netnsInode).toBe(4026531840);
    expect(r.process).toMatchObject({
      pid: 900, exe: '/usr/bin/curl', uid: 1000, user: 'alice', unit: 'session-4.scope', container: null, netns: 4026531840,
      ancestors: [
        { pid: 500, exe: '/usr/bin/bash', comm: 'bash' },
        { pid: 1, exe: '/usr/lib/systemd/systemd', comm: 'systemd' },
      ],
    });
    expect(r.process!.cmdline).toBe('curl -H X-aws-ec2-metadata-token: [REDACTED] http://169.254.169.254/');
    // second lookup: answered from the inode cache
    const again = c.findSocketOwner(TUPLE, 1_000);
    expect(again.process?.pid).toBe(900);
    expect(c.stats().inodeCacheHits).toBe(1);
  });

  it('reports no-socket for an unknown tuple and a v6 tuple', () => {
    const c = new ProcCorrelator({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd') });
    expect(c.findSocketOwner({ ...TUPLE, srcPort: 1 }, 1_000).outcome).toBe('no-socket');
    expect(c.findSocketOwner({ srcIp: 'fd00::1', srcPort: 1, dstIp: 'fd00:ec2::254', dstPort: 80, ipVersion: 6 }, 1_000).outcome).toBe('no-socket');
  });

  it('finds a socket in another network namespace through a process living there', () => {
    const other = fakeProc();
    try {
      other.setNet('net', HEADER);
      other.addPid(1, { comm: 'systemd', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd' });
      other.addPid(700, { comm: 'sh', ppid: 1, uid: 0, argv: ['sh'], exe: '/bin/sh', netns: 4026532999, cgroup: `0::/system.slice/docker-${'ab'.repeat(32)}.scope\n` });
      other.setNet('700/net', HEADER + ROW);
      other.addPid(701, { comm: 'curl', ppid: 700, uid: 1000, argv: ['curl'], exe: '/usr/bin/curl', netns: 4026532999, fds: [777001], cgroup: `0::/system.slice/docker-${'ab'.repeat(32)}.scope\n` });
      other.setNet('701/net', HEADER + ROW); // every pid has its netns view
      const c = new ProcCorrelator({ procRoot: other.root, passwdPath: join(other.root, 'passwd') });
      const r = c.findSocketOwner(TUPLE, 1_000);
      expect(r.outcome).toBe('found');
      expect(r.netnsInode).toBe(4026532999);
      expect(r.process).toMatchObject({ pid: 701, netns: 4026532999, container: { runtime: 'docker', id: 'ab'.repeat(32) } });
    } finally {
      rmSync(other.root, { recursive: true, force: true });
    }
  });

  it('reports no-owner when the socket row exists but no process holds it', () => {
    const lone = fakeProc();
    try {
      lone.setNet('net', HEADER + ROW);
      lone.addPid(1, { comm: 'init', ppid: 0, uid: 0, argv: ['init'], exe: '/sbin/init', fds: [1] });
      const c = new ProcCorrelator({ procRoot: lone.root, passwdPath: join(lone.root, 'passwd') });
      c.prime();
      expect(c.findSocketOwner(TUPLE, 1_000).outcome).toBe('no-owner');
    } finally {
      rmSync(lone.root, { recursive: true, force: true });
    }
  });

  it('lists the established connections to IMDS open now, with their owners, in every netns (not SYN_SENT, not other peers)', () => {
    const est = fakeProc();
    try {
      // host netns: curl's established connection to IMDS, plus one to another peer
      const other = LE
        ? '   2: 0F02000A:B3C3 0100000A:0050 01 00000000:00000000 00:00000000 00000000  1000        0 777002 1 0\n'
        : '   2: 0A00020F:B3C3 0A000001:0050 01 00000000:00000000 00:00000000 00000000  1000        0 777002 1 0\n';
      est.setNet('net', HEADER + ROW.replace(' 02 00000001', ' 01 00000000') + other);
      est.addPid(1, { comm: 'systemd', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd' });
      est.addPid(900, { comm: 'python3', ppid: 1, uid: 1000, argv: ['python3', 'keep.py', '--token', 'X-aws-ec2-metadata-token: AQAEAFBkYzEyMzQ1Njc4OTBhYmNkZWZnaGlqaw=='], exe: '/usr/bin/python3.11', fds: [777001, 777002] });
      // a container's netns: one established (owner known), one still SYN_SENT (left out)
      const cid = 'cd'.repeat(32);
      const inNs = LE
        ? '   1: 020011AC:C000 FEA9FEA9:0050 01 00000000:00000000 00:00000000 00000000     0        0 888001 1 0\n   2: 020011AC:C001 FEA9FEA9:0050 02 00000000:00000000 00:00000000 00000000     0        0 888002 1 0\n'
        : '   1: AC110002:C000 A9FEA9FE:0050 01 00000000:00000000 00:00000000 00000000     0        0 888001 1 0\n   2: AC110002:C001 A9FEA9FE:0050 02 00000000:00000000 00:00000000 00000000     0        0 888002 1 0\n';
      est.addPid(800, { comm: 'app', ppid: 1, uid: 0, argv: ['/app'], exe: '/app', netns: 4026532777, fds: [888001, 888002], cgroup: `0::/system.slice/docker-${cid}.scope\n` });
      est.setNet('800/net', HEADER + inNs);
      const c = new ProcCorrelator({ procRoot: est.root, passwdPath: join(est.root, 'passwd'), containerResolver: null, sockDiag: null });
      c.prime();
      const open = c.openConnections((ip, port) => ip === '169.254.169.254' && port === 80);
      expect(open.map((o) => ({ tuple: o.tuple, pid: o.process.pid, exe: o.process.exe, user: o.process.user, container: o.process.container?.id ?? null }))).toEqual([
        { tuple: { ...TUPLE, srcPort: 0xb3c2 }, pid: 900, exe: '/usr/bin/python3.11', user: 'alice', container: null },
        { tuple: { srcIp: '172.17.0.2', srcPort: 0xc000, dstIp: '169.254.169.254', dstPort: 80, ipVersion: 4 }, pid: 800, exe: '/app', user: null, container: cid },
      ]);
      // the owner's command line is redacted like every other lookup's
      expect(JSON.stringify(open)).not.toContain('AQAE');
    } finally {
      rmSync(est.root, { recursive: true, force: true });
    }
  });

  it('gives up at the budget', () => {
    const c = new ProcCorrelator({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd') });
    const r = c.findSocketOwner(TUPLE, -1);
    expect(r.outcome).toBe('budget');
    expect(r.process).toBeNull();
  });
});

describe('ProcCorrelator on the real /proc (loopback)', () => {
  let server: Server;
  let child: ChildProcess;
  let tuple: { srcIp: string; srcPort: number; dstIp: string; dstPort: number; ipVersion: 4 };
  beforeAll(async () => {
    server = createServer(() => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const accepted = new Promise<{ port: number }>((resolve) => server.once('connection', (s) => resolve({ port: s.remotePort! })));
    child = spawn(process.execPath, ['-e', `require('net').connect(${port}, '127.0.0.1'); setTimeout(() => {}, 60000)`], { stdio: 'ignore' });
    const { port: clientPort } = await accepted;
    tuple = { srcIp: '127.0.0.1', srcPort: clientPort, dstIp: '127.0.0.1', dstPort: port, ipVersion: 4 };
  });
  afterAll(() => {
    child?.kill('SIGKILL');
    server?.close();
  });

  it('attributes an established loopback connection to the child process', () => {
    const c = new ProcCorrelator();
    c.prime();
    const r = c.findSocketOwner(tuple, 2_000);
    expect(r.outcome).toBe('found');
    expect(r.process?.pid).toBe(child.pid);
    expect(r.process?.exe).toBe(process.execPath);
    expect(r.process?.ancestors.at(-1)?.pid).toBe(1);
  });
});
