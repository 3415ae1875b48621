// The boot watch's parsing and the start window it yields (src/live/boot-watch.ts,
// docs/design.md#boot-watch). Fixtures: `iptables -t mangle -S -v` after
// systemd/imdswatch-generator armed the chain in a private network namespace and curl made
// IMDS SYNs as uid 0 (twice), 65534 and 4242 (not in /etc/passwd: the catch-all rule).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeStart, kernelBootTime, parseActiveOpens, parseArming, parseEarlyListing, startWindowFields, takeOverBootWatch, type EarlyReading } from '../../src/live/boot-watch.js';
import type { Runner } from '../../src/live/gate-rules.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const BOOT = '73e22275-1285-474d-bcc1-718db29d3ece';
const OTHER_BOOT = '11111111-2222-3333-4444-555555555555';

describe('parseEarlyListing', () => {
  it('iptables-nft: counts per uid, the catch-all as uid null, the arming comment', () => {
    const r = parseEarlyListing(fixture('early-chain-iptables-nft.txt'));
    expect(r.present).toBe(true);
    expect([...r.byUid.entries()]).toEqual([[0, 2], [65534, 1], [null, 1]]);
    expect(r.arming).toEqual({ kind: 'boot', bootId: BOOT, uptimeSec: 1687.83, armedAt: new Date(1796566925 * 1000).toISOString(), activeOpensBefore: 0 });
  });

  it('iptables-legacy: the same format; an arming after a failed run is a restart', () => {
    const r = parseEarlyListing(fixture('early-chain-iptables-legacy.txt'));
    expect([...r.byUid.entries()]).toEqual([[0, 1], [null, 1]]);
    expect(r.arming?.kind).toBe('restart');
  });

  it('the jumps of OUTPUT/FORWARD and other chains are not counted', () => {
    const r = parseEarlyListing([
      '-N IMDSWATCH',
      '-A OUTPUT -c 99 5940 -j IMDSWATCH-EARLY',
      '-A IMDSWATCH -d 169.254.169.254/32 -p tcp -m tcp --dport 80 -c 7 420 -j NFQUEUE --queue-num 7419 --queue-bypass',
    ].join('\n'));
    expect(r.present).toBe(false);
    expect(r.byUid.size).toBe(0);
  });

  it('forwarded SYNs (a container at early boot) count with uid unknown', () => {
    const r = parseEarlyListing('-N IMDSWATCH-EARLY-FWD\n-A IMDSWATCH-EARLY-FWD -d 169.254.169.254/32 -p tcp -m tcp --dport 80 --tcp-flags FIN,SYN,RST,ACK SYN -c 3 180 -j RETURN\n');
    expect(r.present).toBe(true);
    expect([...r.byUid.entries()]).toEqual([[null, 3]]);
  });

  it('no chain: nothing armed', () => {
    const r = parseEarlyListing('-P OUTPUT ACCEPT -c 0 0\n');
    expect(r).toEqual({ present: false, arming: null, byUid: new Map() });
  });
});

describe('parseArming / parseActiveOpens / kernelBootTime', () => {
  it('reads the comment; unknown fields are null; a foreign comment is not an arming', () => {
    expect(parseArming('imdswatch-early v1 kind=boot boot=unknown up=unknown at=1700000000 opens=unknown')).toEqual({
      kind: 'boot', bootId: null, uptimeSec: null, armedAt: '2023-11-14T22:13:20.000Z', activeOpensBefore: null,
    });
    expect(parseArming('something else opens=0')).toBeNull();
  });

  it('ActiveOpens from /proc/net/snmp', () => {
    const snmp = 'Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens\nTcp: 1 200 120000 -1 17 3\nUdp: InDatagrams\nUdp: 4\n';
    expect(parseActiveOpens(snmp)).toBe(17);
    expect(parseActiveOpens('Tcp: ActiveOpens\n')).toBeNull();
  });

  it('btime', () => {
    expect(kernelBootTime('cpu  1 2 3\nbtime 1796565000\nprocesses 9\n')).toBe(new Date(1796565000 * 1000).toISOString());
    expect(kernelBootTime('cpu 1\n')).toBeNull();
  });
});

describe('startWindowFields', () => {
  const reading = (over: Partial<EarlyReading> = {}): EarlyReading => ({ ...parseEarlyListing(fixture('early-chain-iptables-nft.txt')), ...over });
  const none: EarlyReading = { present: false, arming: null, byUid: new Map() };
  const bootStart = '2026-12-06T13:00:00.000Z';

  it('first start of a boot, armed before any TCP connection: watched from boot; the counted SYNs are unwatched connections by uid', () => {
    const f = startWindowFields({ bootId: BOOT, earlier: [], bootStart }, [reading(), none]);
    expect(f).toEqual({
      startKind: 'boot',
      bootStart,
      fromBoot: true,
      unwatched: {
        count: 4,
        source: 'early-rule',
        makers: [
          { uid: 0, pid: null, exe: null, unit: null, count: 2, firstTs: null },
          { uid: 65534, pid: null, exe: null, unit: null, count: 1, firstTs: null },
          { uid: null, pid: null, exe: null, unit: null, count: 1, firstTs: null },
        ],
      },
    });
    expect(describeStart(f)).toMatch(/watched from the boot's start; 4 IMDS connection\(s\) made before imdswatch watched \(2 by uid 0, 1 by uid 65534, 1 by uid unknown\)/);
  });

  it('armed after TCP connections were opened: not from boot (an IMDS call may have gone before the chain)', () => {
    const r = reading();
    const f = startWindowFields({ bootId: BOOT, earlier: [], bootStart }, [{ ...r, arming: { ...r.arming!, activeOpensBefore: 3 } }]);
    expect(f.fromBoot).toBe(false);
    expect(f.unwatched?.count).toBe(4);
  });

  it('no chain at all (generator not run: installed mid-boot, or no iptables): not from boot, unwatched unknown', () => {
    const f = startWindowFields({ bootId: BOOT, earlier: [], bootStart }, [none, none]);
    expect(f).toEqual({ startKind: 'boot', bootStart, fromBoot: false });
    expect(describeStart(f)).toMatch(/NOT watched from the boot's start; no early count/);
  });

  it('a window of this boot exists already: a restart (the chain armed after the failure counts the gap)', () => {
    const earlier = [{ start: 'a', end: 'b', bootId: BOOT }];
    const f = startWindowFields({ bootId: BOOT, earlier, bootStart }, [reading({ byUid: new Map([[0, 1]]) })]);
    expect(f.startKind).toBe('restart');
    expect(f.fromBoot).toBe(true); // counted between the windows: the gap is accounted for
    expect(f.bootStart).toBeUndefined();
    expect(f.unwatched).toEqual({ count: 1, source: 'early-rule', makers: [{ uid: 0, pid: null, exe: null, unit: null, count: 1, firstTs: null }] });
  });

  it('a restart with no chain present (stopped by hand, or no iptables): the gap is not accounted for', () => {
    const earlier = [{ start: 'a', end: 'b', bootId: BOOT }];
    const f = startWindowFields({ bootId: BOOT, earlier, bootStart }, [none, none]);
    expect(f).toEqual({ startKind: 'restart', fromBoot: false });
  });

  it('windows of another boot only: a boot; an arming that names another boot id (a container: the sandboxed daemon sees the host\'s) counts all the same', () => {
    const earlier = [{ start: 'a', end: 'b', bootId: OTHER_BOOT }];
    const f = startWindowFields({ bootId: OTHER_BOOT.replace('1', '9'), earlier, bootStart }, [reading()]);
    expect(f.startKind).toBe('boot');
    expect(f.fromBoot).toBe(true);
    expect(f.unwatched?.count).toBe(4);
  });

  it('an arming whose ActiveOpens is unknown is not from boot', () => {
    const r = reading();
    const f = startWindowFields({ bootId: BOOT, earlier: [], bootStart }, [{ ...r, arming: { ...r.arming!, activeOpensBefore: null } }]);
    expect(f.fromBoot).toBe(false);
  });

  it('armed but nothing counted: an empty unwatched record (counted, none)', () => {
    const f = startWindowFields({ bootId: BOOT, earlier: [], bootStart }, [reading({ byUid: new Map() })]);
    expect(f.fromBoot).toBe(true);
    expect(f.unwatched).toEqual({ count: 0, makers: [], source: 'early-rule' });
  });
});

describe('takeOverBootWatch', () => {
  it('reads both families, then removes the chains and their jumps', () => {
    const calls: string[] = [];
    const listing = fixture('early-chain-iptables-nft.txt');
    const plain = listing.split('\n').map((l) => l.replace(/ -c \d+ \d+/, '')).join('\n');
    const run: Runner = (cmd, args) => {
      calls.push(`${cmd} ${args.join(' ')}`);
      if (args.includes('-S')) return { ok: true, stdout: cmd === 'iptables' ? (args.includes('-v') ? listing : plain) : '', stderr: '' };
      return { ok: true, stdout: '', stderr: '' };
    };
    const { fields: f, arming } = takeOverBootWatch({ bootId: BOOT, earlier: [] }, run);
    expect(f.unwatched?.count).toBe(4);
    expect(arming?.activeOpensBefore).toBe(0);
    expect(calls.filter((c) => / -(D|F|X) /.test(c))).toEqual([
      'iptables -w 5 -t mangle -D FORWARD -j IMDSWATCH-EARLY-FWD',
      'iptables -w 5 -t mangle -D OUTPUT -j IMDSWATCH-EARLY',
      'iptables -w 5 -t mangle -F IMDSWATCH-EARLY',
      'iptables -w 5 -t mangle -X IMDSWATCH-EARLY',
      'iptables -w 5 -t mangle -F IMDSWATCH-EARLY-FWD',
      'iptables -w 5 -t mangle -X IMDSWATCH-EARLY-FWD',
    ]);
    // read before removal
    expect(calls.findIndex((c) => c.includes('-S -v'))).toBeLessThan(calls.findIndex((c) => c.includes(' -D ')));
  });
});
