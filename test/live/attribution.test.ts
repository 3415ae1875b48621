import { describe, expect, it } from 'vitest';
import { FlowAttributor } from '../../src/live/attribution.js';
import { tupleKey } from '../../src/live/gate.js';
import type { ProcCorrelator } from '../../src/enrich/process/proc-correlator.js';
import type { ProcessInfo } from '../../src/imds/event.js';
import type { FlowInfo } from '../../src/tcp/stream.js';

/**
 * A keep-alive connection opened before the capture started carries no SYN, and its owner
 * may exit before the capture's first byte of it is processed (CI saw exactly this: a python
 * client's four calls came out unattributed). The owner read at start must answer then.
 */
const owner = { pid: 4242, exe: '/usr/bin/python3.11', uid: 1000, user: 'alice' } as unknown as ProcessInfo;
const gone = { findSocketOwner: () => ({ process: null, netnsInode: null, elapsedMs: 0, outcome: 'no-socket', socket: null }) } as unknown as ProcCorrelator;
const flow = (port: number, sawSyn: boolean): FlowInfo => ({
  key: `10.0.0.2|${port}|169.254.169.254|80`,
  client: { ip: '10.0.0.2', port },
  server: { ip: '169.254.169.254', port: 80 },
  ipVersion: 4,
  sawSyn,
  sec: 1_700_000_000,
  nsec: 0,
});

describe('FlowAttributor: connections open at start', () => {
  const atStart = new Map([[tupleKey({ srcIp: '10.0.0.2', srcPort: 40000, dstIp: '169.254.169.254', dstPort: 80 }), owner]]);

  it('names the owner read at start when the socket has gone since', () => {
    const a = new FlowAttributor(gone, null, 10, atStart);
    expect(a.who(flow(40000, false))).toEqual({ process: owner, attribution: 'passive' });
    expect(a.stats().flows).toEqual({ gate: 0, passive: 1, none: 0 });
  });

  it('does not use it for a flow whose SYN was captured (the 4-tuple was reused) or another tuple', () => {
    const a = new FlowAttributor(gone, null, 10, atStart);
    expect(a.who(flow(40000, true))).toEqual({ process: null, attribution: 'none' });
    expect(a.who(flow(40001, false))).toEqual({ process: null, attribution: 'none' });
    expect(a.stats().flows).toEqual({ gate: 0, passive: 0, none: 2 });
  });

  it('prefers the live owner when the socket is still there', () => {
    const now = { pid: 77, exe: '/usr/bin/ruby' } as unknown as ProcessInfo;
    const live = { findSocketOwner: () => ({ process: now, netnsInode: null, elapsedMs: 0, outcome: 'found', socket: null }) } as unknown as ProcCorrelator;
    const a = new FlowAttributor(live, null, 10, atStart);
    expect(a.who(flow(40000, false))).toEqual({ process: now, attribution: 'passive' });
  });
});
