import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/repo-root.js';

/**
 * A netlink capture device whose socket overflowed (the kernel could not queue an NFLOG or
 * NFQUEUE message: ENOBUFS) reports POLLERR; libuv hands cap's poll callback an error and
 * stops watching. cap asserted `status == 0` there and aborted the process: the system lane's
 * NFLOG group under a system user's flood killed the daemon (found by
 * test/robustness/live-floods.test.ts after lane batching). cap's patch 7
 * (native/cap-snaplen/patch-cap.mjs, docs/design.md#capture-poll-errors) reads past the error
 * and watches the device again. This test overflows an NFLOG socket on purpose — the reader
 * blocks its event loop while 20 000 copies arrive — and then needs the reader alive and still
 * reading: on the unpatched cap it dies by SIGABRT.
 */
const ROOT = process.getuid?.() === 0;
const NS = `iwpollerr${process.pid}`;
const GROUP = 41;

const reader = `
import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(`${REPO_ROOT}/package.json`)});
const { Cap } = require('cap');
const c = new Cap();
const buf = Buffer.alloc(65536);
c.open('nflog:${GROUP}', '', 4 * 1024 * 1024, buf);
let before = 0, after = 0, blocked = false;
c.on('packet', (n) => { if (buf.includes('MARK-AFTER')) after++; else before++; });
console.log('ready');
setTimeout(() => {
  blocked = true;
  console.log('blocking');
  const end = Date.now() + 2500;
  while (Date.now() < end) { /* the event loop does not read: the socket overflows */ }
  console.log('unblocked');
}, 200);
setTimeout(() => { console.log(JSON.stringify({ before, after, blocked })); process.exit(0); }, 7000);
`;

function sh(argv: string[]): { code: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
const inNs = (argv: string[]): string[] => ['ip', 'netns', 'exec', NS, ...argv];
const send = (count: number, marker: string): string[] =>
  inNs(['python3', '-c', `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(${count}): s.sendto(b'${marker}'+b'x'*1000,('127.0.0.1',9999))`]);

describe.skipIf(!ROOT && process.env.CI !== 'true')('capture device poll errors (netns, NFLOG)', () => {
  beforeAll(() => {
    expect(ROOT, 'needs root (network namespace, iptables)').toBe(true);
    expect(sh(['ip', 'netns', 'add', NS]).code).toBe(0);
    expect(sh(inNs(['ip', 'link', 'set', 'lo', 'up'])).code).toBe(0);
    const r = sh(inNs(['iptables', '-A', 'OUTPUT', '-o', 'lo', '-p', 'udp', '--dport', '9999', '-j', 'NFLOG', '--nflog-group', String(GROUP)]));
    expect(r.code, r.out).toBe(0);
  });
  afterAll(() => {
    sh(['ip', 'netns', 'delete', NS]);
  });

  it('an NFLOG socket that overflowed while the reader was busy: the reader lives on and reads what comes after', async () => {
    const child = spawn('ip', ['netns', 'exec', NS, process.execPath, '--input-type=module', '-e', reader], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
    try {
      const until = async (re: RegExp): Promise<void> => {
        for (let i = 0; i < 100 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
        expect(out, err).toMatch(re);
      };
      await until(/blocking/);
      // 20 000 copies of ~1 KB while nothing reads: far past the socket's receive buffer
      expect(sh(send(20_000, 'BURST')).code).toBe(0);
      await until(/unblocked/);
      await new Promise((r) => setTimeout(r, 1500));
      expect(sh(send(20, 'MARK-AFTER')).code).toBe(0);
      const { code, signal } = await exited;
      expect({ code, signal }, err).toEqual({ code: 0, signal: null });
      const last = JSON.parse(out.trim().split('\n').pop()!) as { before: number; after: number; blocked: boolean };
      expect(last.blocked).toBe(true);
      // some of the burst was read, the overflow lost the rest, and the device was read after it
      expect(last.before).toBeGreaterThan(0);
      expect(last.before).toBeLessThan(20_000);
      expect(last.after).toBeGreaterThan(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});
