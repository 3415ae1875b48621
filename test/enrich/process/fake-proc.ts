import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fake /proc tree: the correlator only reads files and symlinks. */
export function fakeProc(): { root: string; addPid: (pid: number, o: ProcOpts) => void; setNet: (dir: string, tcp: string, tcp6?: string) => void } {
  const root = mkdtempSync(join(tmpdir(), `imw-proc-${process.pid}-`));
  mkdirSync(join(root, 'self', 'ns'), { recursive: true });
  symlinkSync('net:[4026531840]', join(root, 'self', 'ns', 'net'));
  writeFileSync(join(root, 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  const setNet = (dir: string, tcp: string, tcp6 = HEADER6) => {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, 'tcp'), tcp);
    writeFileSync(join(root, dir, 'tcp6'), tcp6);
  };
  const addPid = (pid: number, o: ProcOpts) => {
    const d = join(root, String(pid));
    mkdirSync(join(d, 'fd'), { recursive: true });
    mkdirSync(join(d, 'ns'), { recursive: true });
    writeFileSync(join(d, 'status'), `Name:\t${o.comm}\nTgid:\t${pid}\nPPid:\t${o.ppid}\nUid:\t${o.uid}\t${o.uid}\t${o.uid}\t${o.uid}\n${o.kthread ? '' : 'VmSize:\t100 kB\n'}`);
    writeFileSync(join(d, 'stat'), `${pid} (${o.comm}) ${o.state ?? 'S'} ${o.ppid} 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${o.start ?? 1000} 0 0\n`);
    writeFileSync(join(d, 'cmdline'), o.argv.map((a) => `${a}\0`).join(''));
    writeFileSync(join(d, 'cgroup'), o.cgroup ?? '0::/system.slice/cron.service\n');
    if (o.exe) symlinkSync(o.exe, join(d, 'exe'));
    symlinkSync(`net:[${o.netns ?? 4026531840}]`, join(d, 'ns', 'net'));
    (o.fds ?? []).forEach((inode, i) => symlinkSync(`socket:[${inode}]`, join(d, 'fd', String(i + 3))));
    symlinkSync('/dev/null', join(d, 'fd', '0'));
    if (o.loginuid !== undefined) writeFileSync(join(d, 'loginuid'), o.loginuid);
    if (o.sessionid !== undefined) writeFileSync(join(d, 'sessionid'), o.sessionid);
  };
  return { root, addPid, setNet };
}
export interface ProcOpts { state?: string; comm: string; ppid: number; uid: number; argv: string[]; exe?: string; fds?: number[]; cgroup?: string; kthread?: boolean; netns?: number; start?: number; /** /proc/PID/loginuid and sessionid as the kernel writes them (no newline; 4294967295: unset) */ loginuid?: string; sessionid?: string }

export const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
export const HEADER6 = '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
export const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
// 10.0.2.15:46018 → 169.254.169.254:80 SYN_SENT, uid 1000, inode 777001 (host byte order)
export const ROW = LE
  ? '   1: 0F02000A:B3C2 FEA9FEA9:0050 02 00000001:00000000 01:00000064 00000000  1000        0 777001 2 0\n'
  : '   1: 0A00020F:B3C2 A9FEA9FE:0050 02 00000001:00000000 01:00000064 00000000  1000        0 777001 2 0\n';
export const TUPLE = { srcIp: '10.0.2.15', srcPort: 0xb3c2, dstIp: '169.254.169.254', dstPort: 80, ipVersion: 4 as const };

