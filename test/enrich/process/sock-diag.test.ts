import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcCorrelator } from '../../../src/enrich/process/proc-correlator.js';
import { findProcNetTcpRow } from '../../../src/enrich/process/proc-net-tcp.js';
import { createSockDiag, findAddonPath, loadSockDiag, type SockDiag, type SockDiagAddon } from '../../../src/enrich/process/sock-diag.js';

/**
 * A real SYN_SENT socket without sending anything off the host: a listener on 127.0.0.1 with
 * listen(0) that never accepts; once its accept queue is full the kernel drops further SYNs, so
 * the next client stays in SYN_SENT (retransmitting) until closed.
 */
const LISTENER = `
import socket, sys, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
print(s.getsockname()[1], flush=True)
time.sleep(120)
`;

function startListener(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('python3', ['-c', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  return firstLine(child).then((line) => ({ child, port: Number(line) }));
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`helper exited (${code}) before printing: ${text}`)));
    child.stdout!.on('data', (d: Buffer) => {
      text += String(d);
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')).trim());
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function procRow(localPort: number, remotePort: number) {
  const text = execFileSync('cat', ['/proc/net/tcp'], { encoding: 'utf8' });
  return findProcNetTcpRow(text, false, { ip: '127.0.0.1', port: localPort }, { ip: '127.0.0.1', port: remotePort });
}

function ownSocketInodes(): Set<number> {
  const out = new Set<number>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) out.add(Number(m[1]));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

describe('sock_diag addon in the own network namespace', () => {
  let listener: { child: ChildProcess; port: number };
  const clients: Socket[] = [];
  let pending: Socket;
  let sd: SockDiag | null;

  beforeAll(async () => {
    sd = loadSockDiag();
    listener = await startListener();
    for (let i = 0; i < 6 && !pending; i++) {
      const c = connect(listener.port, '127.0.0.1');
      c.on('error', () => {});
      clients.push(c);
      await sleep(150);
      if (!c.connecting) continue;
      await sleep(300); // a slow handshake under load is not a dropped SYN
      if (c.connecting) pending = c;
    }
  });
  afterAll(() => {
    for (const c of clients) c.destroy();
    listener?.child.kill();
    sd?.close();
  });

  it('is built and loads (npm ci builds native/sockdiag)', () => {
    expect(findAddonPath()).toMatch(/native\/sockdiag\/build\/Release\/sockdiag\.node$/);
    expect(sd).not.toBeNull();
  });

  it('finds a SYN_SENT socket with the inode and uid /proc/net/tcp shows', () => {
    expect(pending).toBeDefined();
    const tuple = { srcIp: '127.0.0.1', srcPort: pending.localPort!, dstIp: '127.0.0.1', dstPort: listener.port };
    const row = sd!.lookup(tuple);
    const proc = procRow(tuple.srcPort, tuple.dstPort);
    expect(proc).not.toBeNull();
    expect(row).toEqual({ inode: proc!.inode, uid: proc!.uid, state: 2 });
    expect(row!.uid).toBe(process.getuid!());
    expect(ownSocketInodes().has(row!.inode)).toBe(true);
    // the dump path (sockets bound to a device) agrees
    expect(sd!.scan(tuple)).toEqual(row);
    // v4-mapped text asks the same socket
    expect(sd!.lookup({ ...tuple, srcIp: '::ffff:127.0.0.1', dstIp: '::ffff:127.0.0.1' })).toEqual(row);
  });

  it('returns null when there is no such socket, undefined for an unaskable tuple', () => {
    const free = pending.localPort! === 65535 ? 65534 : pending.localPort! + 1;
    expect(sd!.lookup({ srcIp: '127.0.0.1', srcPort: free, dstIp: '127.0.0.1', dstPort: listener.port })).toBeNull();
    expect(sd!.scan({ srcIp: '127.0.0.1', srcPort: free, dstIp: '127.0.0.1', dstPort: listener.port })).toBeNull();
    expect(sd!.lookup({ srcIp: '127.0.0.1', srcPort: 1, dstIp: '::1', dstPort: 80 })).toBeUndefined();
    expect(sd!.lookup({ srcIp: 'nonsense', srcPort: 1, dstIp: '127.0.0.1', dstPort: 80 })).toBeUndefined();
    const st = sd!.stats();
    expect(st.found).toBeGreaterThan(0);
    expect(st.notFound).toBeGreaterThan(0);
  });

  it('the correlator attributes the socket to this process, with and without sock_diag', () => {
    const tuple = { srcIp: '127.0.0.1', srcPort: pending.localPort!, dstIp: '127.0.0.1', dstPort: listener.port, ipVersion: 4 as const };
    const expected = procRow(tuple.srcPort, tuple.dstPort)!.inode;
    const withDiag = new ProcCorrelator({ containerResolver: null });
    const viaProc = new ProcCorrelator({ containerResolver: null, sockDiag: null });
    for (const c of [withDiag, viaProc]) {
      const r = c.findSocketOwner(tuple, 5_000);
      expect(r.outcome).toBe('found');
      expect(r.process?.pid).toBe(process.pid);
      expect(r.socket).toEqual({ inode: expected, uid: process.getuid!(), state: 2 });
    }
    expect(withDiag.stats().sockDiag?.found).toBe(1);
    expect(viaProc.stats().sockDiag).toBeUndefined();
  });
});

describe('the correlator and a SockDiag stand-in', () => {
  const root = mkdtempSync(join(tmpdir(), `imw-sd-${process.pid}-`));
  const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const ROW = LE
    ? '   1: 0F02000A:B3C2 FEA9FEA9:0050 02 00000001:00000000 01:00000064 00000000  1000        0 777001 2 0\n'
    : '   1: 0A00020F:B3C2 A9FEA9FE:0050 02 00000001:00000000 01:00000064 00000000  1000        0 777001 2 0\n';
  const TUPLE = { srcIp: '10.0.2.15', srcPort: 0xb3c2, dstIp: '169.254.169.254', dstPort: 80, ipVersion: 4 as const };
  const addPid = (pid: number, comm: string, uid: number, fds: number[]) => {
    const d = join(root, String(pid));
    mkdirSync(join(d, 'fd'), { recursive: true });
    mkdirSync(join(d, 'ns'), { recursive: true });
    writeFileSync(join(d, 'status'), `Name:\t${comm}\nTgid:\t${pid}\nPPid:\t1\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nVmSize:\t100 kB\n`);
    writeFileSync(join(d, 'stat'), `${pid} (${comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1000 0 0\n`);
    writeFileSync(join(d, 'cmdline'), `${comm}\0`);
    writeFileSync(join(d, 'cgroup'), '0::/user.slice\n');
    symlinkSync(`/usr/bin/${comm}`, join(d, 'exe'));
    symlinkSync('net:[4026531840]', join(d, 'ns', 'net'));
    fds.forEach((inode, i) => symlinkSync(`socket:[${inode}]`, join(d, 'fd', String(i + 3))));
  };
  const setTcp = (text: string) => {
    mkdirSync(join(root, 'net'), { recursive: true });
    writeFileSync(join(root, 'net', 'tcp'), text);
    writeFileSync(join(root, 'net', 'tcp6'), HEADER);
  };
  beforeAll(() => {
    mkdirSync(join(root, 'self', 'ns'), { recursive: true });
    symlinkSync('net:[4026531840]', join(root, 'self', 'ns', 'net'));
    writeFileSync(join(root, 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
    addPid(900, 'curl', 1000, [555, 777001]);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const stub = (answer: ReturnType<SockDiag['lookup']>): SockDiag & { asked: number } => {
    const s = {
      asked: 0,
      lookup: () => {
        s.asked++;
        return answer;
      },
      scan: () => null,
      lookupInNetns: () => undefined,
      retainNetns: () => {},
      stats: () => ({ queries: s.asked, found: 0, notFound: 0, errors: 0, lastErrno: 0, netnsOpen: 0, netnsDenied: 0 }),
      close: () => {},
    };
    return s;
  };
  const correlator = (sockDiag: SockDiag | null) => new ProcCorrelator({ procRoot: root, passwdPath: join(root, 'passwd'), containerResolver: null, sockDiag });

  it('uses the sock_diag row: found although /proc/net/tcp does not list the socket', () => {
    setTcp(HEADER);
    const sd = stub({ inode: 777001, uid: 1000, state: 2 });
    const r = correlator(sd).findSocketOwner(TUPLE, 5_000);
    expect(sd.asked).toBe(1);
    expect(r.outcome).toBe('found');
    expect(r.process?.pid).toBe(900);
    expect(r.socket).toEqual({ inode: 777001, uid: 1000, state: 2 });
  });

  it('trusts a sock_diag "no such socket" over /proc', () => {
    setTcp(HEADER + ROW);
    expect(correlator(stub(null)).findSocketOwner(TUPLE, 5_000).outcome).toBe('no-socket');
  });

  it('falls back to /proc/net/tcp when sock_diag fails, or when loadSockDiag() gave null', () => {
    setTcp(HEADER + ROW);
    for (const sd of [stub(undefined), null]) {
      const r = correlator(sd).findSocketOwner(TUPLE, 5_000);
      expect(r.outcome).toBe('found');
      expect(r.process?.pid).toBe(900);
      expect(r.socket?.inode).toBe(777001);
    }
  });

  it('createSockDiag: an addon that fails to open gives null; failed queries are undefined and counted', () => {
    const refuse: SockDiagAddon = { open: () => -97, openIn: () => -1, query: () => 0, close: () => {} };
    expect(createSockDiag(refuse)).toBeNull();
    const noHandler: SockDiagAddon = { open: () => 3, openIn: () => -1, query: () => 2, close: () => {} };
    expect(createSockDiag(noHandler)).toBeNull();
    let calls = 0;
    const broken: SockDiagAddon = { open: () => 3, openIn: () => -1, query: () => (calls++ === 0 ? null : 22), close: () => {} };
    const sd = createSockDiag(broken)!;
    expect(sd.lookup({ srcIp: '10.0.0.1', srcPort: 1, dstIp: '169.254.169.254', dstPort: 80 })).toBeUndefined();
    expect(sd.lookupInNetns(4026532000, 42, { srcIp: '10.0.0.1', srcPort: 1, dstIp: '169.254.169.254', dstPort: 80 })).toBeUndefined();
    expect(sd.stats()).toMatchObject({ errors: 1, lastErrno: 1, netnsDenied: 1 });
  });

  it('loadSockDiag is null when the addon is missing', () => {
    expect(loadSockDiag({ addonPath: null })).toBeNull();
    expect(loadSockDiag({ addonPath: join(root, 'nope.node') })).toBeNull();
  });
});

const isRoot = process.getuid?.() === 0;
const hasIp = (() => {
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!isRoot || !hasIp)('sock_diag in another network namespace', () => {
  const ns = `imw-sd-${process.pid}`;
  let client: ChildProcess;
  let info: { sport: number; dport: number; inode: number; uid: number };
  let sd: SockDiag | null;

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // the namespace's own firewall drops the SYN: the client (as nobody, uid 65534) stays in SYN_SENT
    execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '9', '-j', 'DROP']);
    const script = `
import os, socket, time
os.setgid(65534); os.setuid(65534)
c = socket.socket(); c.setblocking(False)
try: c.connect(('127.0.0.1', 9))
except BlockingIOError: pass
print(c.getsockname()[1], 9, os.fstat(c.fileno()).st_ino, os.getuid(), flush=True)
time.sleep(120)
`;
    client = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await firstLine(client);
    const [sport, dport, inode, uid] = line.split(' ').map(Number) as [number, number, number, number];
    info = { sport, dport, inode, uid };
    sd = loadSockDiag();
  });
  afterAll(() => {
    client?.kill();
    sd?.close();
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      /* already gone */
    }
  });

  it('is invisible from the own namespace and found by entering the client\'s', () => {
    const tuple = { srcIp: '127.0.0.1', srcPort: info.sport, dstIp: '127.0.0.1', dstPort: info.dport };
    expect(info.uid).toBe(65534);
    expect(sd!.lookup(tuple)).toBeNull();
    const nsInode = statSync(`/run/netns/${ns}`).ino;
    expect(sd!.lookupInNetns(nsInode, client.pid!, tuple)).toEqual({ inode: info.inode, uid: 65534, state: 2 });
    expect(sd!.stats().netnsOpen).toBe(1);
    // a pid outside that namespace is refused (ESTALE), not asked in the wrong one
    expect(sd!.lookupInNetns(nsInode + 1, client.pid!, tuple)).toBeUndefined();
    sd!.retainNetns(new Set());
    expect(sd!.stats().netnsOpen).toBe(0);
  });

  it('the correlator attributes it to the python client through the namespace', () => {
    const c = new ProcCorrelator({ containerResolver: null });
    const r = c.findSocketOwner({ srcIp: '127.0.0.1', srcPort: info.sport, dstIp: '127.0.0.1', dstPort: info.dport, ipVersion: 4 }, 5_000);
    expect(r.outcome).toBe('found');
    expect(r.process?.pid).toBe(client.pid);
    expect(r.socket).toEqual({ inode: info.inode, uid: 65534, state: 2 });
    expect(r.netnsInode).toBe(statSync(`/run/netns/${ns}`).ino);
  });
});
