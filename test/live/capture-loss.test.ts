import { describe, expect, it } from 'vitest';
import { CaptureLossCheck, MAX_MISSED_PROGRAMS, MAX_TRACKED_KEYS, SYN_WAIT_MS, describeMissed } from '../../src/live/capture-loss.js';
import type { GateRecord } from '../../src/live/gate.js';
import type { ProcessInfo } from '../../src/imds/event.js';
import type { FlowInfo } from '../../src/tcp/stream.js';

const proc = (pid: number, exe: string, extra: Partial<ProcessInfo> = {}): ProcessInfo =>
  ({ pid, exe, cmdline: `${exe} --token-file /secret`, uid: 0, user: 'root', unit: 'cron.service', container: null, ancestors: [], ...extra }) as ProcessInfo;
const rec = (port: number, synMs: number, process: ProcessInfo | null): GateRecord =>
  ({ key: `10.0.0.2|${port}|169.254.169.254|80`, tuple: {} as GateRecord['tuple'], synMs, process, netnsInode: null, outcome: 'found', holdMs: 0, lookupMs: 0 }) as GateRecord;
const flow = (port: number): FlowInfo => ({
  key: `10.0.0.2|${port}|169.254.169.254|80`,
  client: { ip: '10.0.0.2', port },
  server: { ip: '169.254.169.254', port: 80 },
  ipVersion: 4,
  sawSyn: true,
  sec: 0,
  nsec: 0,
});

describe('CaptureLossCheck', () => {
  it('a reused 4-tuple: a lost second connection is counted, though the first one showed (keyed by ISN)', () => {
    const c = new CaptureLossCheck();
    const withIsn = (r: GateRecord, isn: number): GateRecord => ({ ...r, isn });
    // two SYNs on one tuple held before the lagging capture shows the first flow
    c.gateRecord(withIsn(rec(5000, 0, proc(1, '/usr/bin/curl')), 111));
    c.gateRecord(withIsn(rec(5000, 10, proc(2, '/usr/bin/node', { user: 'nobody' })), 222));
    c.flowStarted({ ...flow(5000), clientIsn: 111 }, 20);
    c.check(SYN_WAIT_MS * 3);
    expect(c.missedSyns()).toBe(1);
    expect(c.missedByProgram().programs.map((p) => p.exe)).toEqual(['/usr/bin/node']);
  });

  it('a flow joined mid-connection before a SYN does not stand for that SYN\'s connection', () => {
    const c = new CaptureLossCheck();
    c.flowStarted({ ...flow(8000), sawSyn: false, sec: 100 }, 100_000);
    c.gateRecord({ ...rec(8000, 105_000, null), isn: 9 });
    c.check(105_000 + SYN_WAIT_MS);
    expect(c.missedSyns()).toBe(1);
  });

  it('names a shed connection the capture never showed by the uid of its socket', () => {
    const c = new CaptureLossCheck();
    c.gateRecord({ ...rec(7000, 0, null), isn: 1, outcome: 'shed', uid: 65534 });
    c.check(SYN_WAIT_MS);
    expect(describeMissed(c.missedByProgram())).toBe('unattributed (uid 65534) ×1');
  });

  it('past MAX_TRACKED_KEYS waiting SYNs, the oldest are judged missed, never dropped unjudged', () => {
    const c = new CaptureLossCheck();
    for (let i = 0; i < MAX_TRACKED_KEYS + 3; i++) c.gateRecord({ ...rec(i % 60_000, 0, null), isn: i });
    expect(c.missedSyns()).toBe(3);
  });

  it('a shed SYN is awaited like any other; a flow joined mid-connection answers its tuple\'s oldest waiting SYN', () => {
    const c = new CaptureLossCheck();
    c.gateRecord({ ...rec(6000, 0, null), isn: 1, outcome: 'shed' });
    c.gateRecord({ ...rec(6001, 0, null), isn: 2, outcome: 'shed' });
    c.flowStarted({ ...flow(6000), sawSyn: false }, 5);
    c.check(SYN_WAIT_MS * 3);
    expect(c.missedSyns()).toBe(1);
  });

  it('a flow the capture showed, before or after the gate record, is not loss (bridged SYNs come first)', () => {
    const c = new CaptureLossCheck();
    c.gateRecord(rec(1000, 0, proc(1, '/usr/bin/curl')));
    c.flowStarted(flow(1000), 3);
    c.flowStarted(flow(1001), 5); // captured on the bridge before the FORWARD hook's record
    c.gateRecord(rec(1001, 9, proc(2, '/usr/bin/curl')));
    c.check(SYN_WAIT_MS * 3);
    expect(c.missedSyns()).toBe(0);
    expect(c.missedByProgram()).toEqual({ programs: [], otherPrograms: 0 });
  });

  it('names whose connections the capture missed, by program, most first, without command lines', () => {
    const c = new CaptureLossCheck();
    c.gateRecord(rec(2000, 0, proc(10, '/usr/bin/curl')));
    c.gateRecord(rec(2001, 1, proc(11, '/usr/bin/curl')));
    c.gateRecord(rec(2002, 2, proc(12, '/usr/bin/python3.11', { unit: null, container: { runtime: 'docker', id: 'ab'.repeat(32), name: 'billing-api' } })));
    c.gateRecord(rec(2003, 3, null));
    c.gateRecord(rec(2004, SYN_WAIT_MS, proc(13, '/usr/bin/wget')));
    c.check(SYN_WAIT_MS + 3); // the last one has not waited long enough yet
    expect(c.missedSyns()).toBe(4);
    const t = c.missedByProgram();
    expect(t.programs).toEqual([
      { exe: '/usr/bin/curl', unit: 'cron.service', container: null, user: 'root', pid: 11, count: 2 },
      { exe: '/usr/bin/python3.11', unit: null, container: 'billing-api', user: 'root', pid: 12, count: 1 },
      { exe: null, unit: null, container: null, user: null, pid: null, count: 1 },
    ]);
    expect(JSON.stringify(t)).not.toContain('/secret');
    expect(describeMissed(t)).toBe('/usr/bin/curl (pid 11, cron.service) ×2, /usr/bin/python3.11 (pid 12, container billing-api) ×1, unattributed ×1');
    expect(describeMissed(t, 1)).toBe('/usr/bin/curl (pid 11, cron.service) ×2, 2 more');
  });

  it('names at most MAX_MISSED_PROGRAMS programs and counts the rest', () => {
    const c = new CaptureLossCheck();
    for (let i = 0; i < MAX_MISSED_PROGRAMS + 10; i++) c.gateRecord(rec(3000 + i, 0, proc(100 + i, `/opt/p${i}`)));
    c.check(SYN_WAIT_MS);
    const t = c.missedByProgram();
    expect(t.programs).toHaveLength(MAX_MISSED_PROGRAMS);
    expect(t.otherPrograms).toBe(10);
    expect(describeMissed(t, 2)).toBe(`/opt/p0 (pid 100, cron.service) ×1, /opt/p1 (pid 101, cron.service) ×1, ${MAX_MISSED_PROGRAMS - 2 + 10} more`);
  });
});
