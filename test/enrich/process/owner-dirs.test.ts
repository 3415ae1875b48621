import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProcScan } from '../../../src/enrich/process/proc-scan.js';
import { loadProcRead, PF } from '../../../src/enrich/process/proc-read.js';
import { OwnerSearch } from '../../../src/enrich/process/owner-search.js';

/**
 * The owner search's kept /proc directories (native/sockdiag/src/procdirs.c, docs/design.md#owner-dirs),
 * on the real /proc: a recent owner that has exited is known gone at its first probe and forgotten
 * within the lookup; the answers stay the same. Under CI the addon must be built; elsewhere these skip.
 */
const scan = loadProcScan();
const read = loadProcRead();
const needAddon = (!scan || !read) && !process.env.CI;

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
});

/** a process holding a listening TCP socket: its pid and the socket's inode */
async function listener(): Promise<{ child: ChildProcess; pid: number; inode: number }> {
  const code = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>console.log(s._handle.fd));setInterval(()=>{},1000)";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  const fd = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('exit', () => reject(new Error('the listener exited')));
  });
  const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${child.pid}/fd/${fd}`));
  return { child, pid: child.pid!, inode: Number(m![1]) };
}

async function reaped(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe.skipIf(needAddon)('kept /proc directories of recent owners', () => {
  it.each([
    ['kept by the owner\'s ProcessInfo read', true],
    ['opened by the probe', false],
  ])('a recent owner that has exited (%s) is forgotten within the next lookup, and the next owner found', async (_name, keep) => {
    const s = new OwnerSearch('/proc', scan, 65_536, () => undefined);
    s.prime();
    const a = await listener();
    expect(s.find(a.inode, 0, performance.now() + 5_000)).toBe(a.pid);
    // the gate reads the owner's files with keepDir (process-cache.ts): its directory stays open
    if (keep) expect(read!('/proc', a.pid, PF.stat | PF.keepDir, null)?.stat).toMatch(new RegExp(`^${a.pid} `));
    expect(s.find(a.inode, 0, performance.now() + 5_000)).toBe(a.pid);
    await reaped(a.child);
    const b = await listener();
    expect(s.find(b.inode, 0, performance.now() + 5_000)).toBe(b.pid);
    // without catchUp: the exited owner was dropped in the lookup itself (before: [b, a] until catchUp ran)
    expect(s.recentOwnerPids).toEqual([b.pid]);
    expect(s.find(b.inode, 0, performance.now() + 5_000)).toBe(b.pid);
  });

  it('the kernel\'s last pid read through the kept loadavg moves on after a fork', () => {
    const first = scan!.newPids!('/proc', 0, 0)!.last;
    expect(first).toBeGreaterThan(0);
    spawnSync('true');
    const second = scan!.newPids!('/proc', 0, 0)!.last;
    expect(second).not.toBe(first);
  });
});
