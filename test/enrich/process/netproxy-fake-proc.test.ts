import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findBehindProxy } from '../../../src/enrich/process/netproxy.js';

/**
 * findBehindProxy on a fake /proc (#10 item 3): slirp4netns (uid 995) in the host netns; a
 * rootless container (netns 900, uid_map owned by 995, tap0) whose curl has a SYN_SENT socket
 * to IMDS; conmon as the container's ancestor. Then two such sockets: the container is named,
 * the process is not guessed.
 */
const ID = '7ac34999b608d09a25cb2ea362df1ef088ae65916d0a3f01a5ac3533dd57cb00';
const IMDS_HEX = 'FEA9FEA9:0050'; // 169.254.169.254:80, little-endian
const root = mkdtempSync(join(tmpdir(), 'iw-fakeproc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function proc(base: string, pid: number, o: { comm: string; ppid: number; uid: number; netns: number; cmdline?: string[]; uidMap?: string; fds?: number[]; dev?: string; tcp?: string[] }): void {
  const d = join(base, String(pid));
  mkdirSync(join(d, 'ns'), { recursive: true });
  mkdirSync(join(d, 'net'), { recursive: true });
  mkdirSync(join(d, 'fd'), { recursive: true });
  writeFileSync(join(d, 'stat'), `${pid} (${o.comm}) S ${o.ppid} 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0`);
  writeFileSync(join(d, 'status'), `Name:\t${o.comm}\nUid:\t${o.uid}\t${o.uid}\t${o.uid}\t${o.uid}\n`);
  writeFileSync(join(d, 'cmdline'), (o.cmdline ?? [o.comm]).join('\0') + '\0');
  writeFileSync(join(d, 'uid_map'), o.uidMap ?? '         0          0 4294967295\n');
  symlinkSync(`net:[${o.netns}]`, join(d, 'ns', 'net'));
  writeFileSync(join(d, 'net', 'dev'), o.dev ?? 'Inter-|   Receive\n    lo: 0 0\n');
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  writeFileSync(join(d, 'net', 'tcp'), header + (o.tcp ?? []).join('\n') + '\n');
  writeFileSync(join(d, 'net', 'tcp6'), header);
  for (const fd of o.fds ?? []) symlinkSync(`socket:[${fd}]`, join(d, 'fd', String(fd % 100)));
}

const row = (port: number, inode: number) => `   0: 6402000A:${port.toString(16).toUpperCase().padStart(4, '0')} ${IMDS_HEX} 02 00000001:00000000 01:00000050 00000002 400999        0 ${inode} 2 0000000000000000 100 0 0 1 -1`;
const USERNS = '         0        995          1\n         1     400000      65536\n';
const DEV = 'Inter-|   Receive\n    lo: 0 0\n  tap0: 10 1\n';

function tree(name: string, sockets: number): string {
  const base = join(root, name);
  proc(base, 100, { comm: 'slirp4netns', ppid: 1, uid: 995, netns: 1, cmdline: ['/usr/bin/slirp4netns', '--mtu=65520', '-c', '-e', '3', '-r', '4', '--netns-type=path', '/run/user/995/netns/netns-x', 'tap0'] });
  proc(base, 200, { comm: 'conmon', ppid: 1, uid: 995, netns: 1, cmdline: ['/usr/bin/conmon', '--api-version', '1', '-c', ID, '-u', ID, '-n', 'billing-api'] });
  const tcp = [row(40000, 5551), ...(sockets > 1 ? [row(40001, 5552)] : [])];
  proc(base, 201, { comm: 'sh', ppid: 200, uid: 400999, netns: 900, uidMap: USERNS, dev: DEV, tcp });
  proc(base, 202, { comm: 'curl', ppid: 201, uid: 400999, netns: 900, uidMap: USERNS, dev: DEV, tcp, fds: [5551] });
  if (sockets > 1) proc(base, 203, { comm: 'curl', ppid: 201, uid: 400999, netns: 900, uidMap: USERNS, dev: DEV, tcp, fds: [5552] });
  // a rootful container with a socket to IMDS: another user's namespace, never a candidate
  proc(base, 300, { comm: 'curl', ppid: 1, uid: 0, netns: 901, dev: DEV, tcp: [row(41000, 7777)], fds: [7777] });
  return base;
}

describe('findBehindProxy (fake /proc)', () => {
  it('finds the one process inside the rootless container with a SYN to IMDS, and its container from conmon', () => {
    const r = findBehindProxy(tree('one', 1), 100, { ip: '169.254.169.254', port: 80 }, performance.now() + 5_000);
    expect(r).toEqual({ pid: 202, container: { runtime: 'podman', id: ID, name: 'billing-api' }, candidates: 1 });
  });

  it('with two calls in flight: the container, not a guessed process', () => {
    const r = findBehindProxy(tree('two', 2), 100, { ip: '169.254.169.254', port: 80 }, performance.now() + 5_000);
    expect(r).toEqual({ pid: null, container: { runtime: 'podman', id: ID, name: 'billing-api' }, candidates: 2 });
  });

  it('nothing for another port, or an exhausted deadline', () => {
    const base = tree('three', 1);
    expect(findBehindProxy(base, 100, { ip: '169.254.169.254', port: 81 }, performance.now() + 5_000)).toEqual({ pid: null, container: null, candidates: 0 });
    expect(findBehindProxy(base, 100, { ip: '169.254.169.254', port: 80 }, performance.now() - 1)).toEqual({ pid: null, container: null, candidates: 0 });
  });
});
