import { describe, expect, it } from 'vitest';
import { parsePasswd, parseStat, parseStatus } from '../../../src/enrich/process/status.js';

const STATUS = `Name:\tcurl
Umask:\t0022
State:\tS (sleeping)
Tgid:\t4242
Ngid:\t0
Pid:\t4242
PPid:\t4100
TracerPid:\t0
Uid:\t1000\t1000\t1000\t1000
Gid:\t1000\t1000\t1000\t1000
VmSize:\t   12345 kB
`;
const KTHREAD = `Name:\tkworker/0:1-events
State:\tI (idle)
Tgid:\t57
Pid:\t57
PPid:\t2
Uid:\t0\t0\t0\t0
`;

describe('parseStatus', () => {
  it('reads name, ppid and real uid', () => {
    expect(parseStatus(STATUS)).toEqual({ name: 'curl', ppid: 4100, uid: 1000, tgid: 4242, kthread: false });
  });
  it('recognizes kernel threads', () => {
    expect(parseStatus(KTHREAD).kthread).toBe(true);
    expect(parseStatus(`${STATUS}Kthread:\t0\n`).kthread).toBe(false);
    expect(parseStatus('Name:\tx\nPPid:\t1\nKthread:\t1\n').kthread).toBe(true);
  });
  it('tolerates empty text', () => {
    expect(parseStatus('')).toEqual({ name: null, ppid: null, uid: null, tgid: null, kthread: false });
  });
});

describe('parseStat', () => {
  it('handles a comm with spaces and parentheses', () => {
    const text = '4242 (my (weird) prog) S 4100 4242 4100 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 12345 1 18446744073709551615\n';
    expect(parseStat(text)).toEqual({ comm: 'my (weird) prog', ppid: 4100, startTime: 987654 });
  });
  it('returns null for truncated text', () => {
    expect(parseStat('4242 (curl')).toBeNull();
    expect(parseStat('4242 (curl) S 1')).toBeNull();
  });
});

describe('parsePasswd', () => {
  it('maps uid to the first name', () => {
    const m = parsePasswd('root:x:0:0:root:/root:/bin/bash\n# comment\nbad\nalice:x:1000:1000::/home/alice:/bin/sh\ntoor:x:0:0::/:/bin/sh\n');
    expect(m.get(0)).toBe('root');
    expect(m.get(1000)).toBe('alice');
    expect(m.size).toBe(2);
  });
});
