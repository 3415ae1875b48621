import { describe, expect, it } from 'vitest';
import { V1ReasonTracker } from '../../../src/enrich/reason/v1-reasons.js';
import { isForeignCloudPath } from '../../../src/enrich/reason/foreign-probe.js';
import { identifySdk } from '../../../src/enrich/sdk/user-agent.js';
import type { ImdsEvent, ImdsVersion, ProcessInfo, V1Reason } from '../../../src/imds/event.js';

const T0 = Date.parse('2024-05-01T10:00:00.000Z');

interface Step {
  /** seconds after T0 */
  at: number;
  v: ImdsVersion;
  status?: number | null;
  ip?: string;
  ua?: string | null;
  pid?: number;
  ttl?: number;
  path?: string;
}

function ev(s: Step): ImdsEvent {
  const ua = s.ua === undefined ? 'Botocore/1.29.27 Python/3.11.2 Linux/6.1.0' : s.ua;
  const proc: ProcessInfo | null =
    s.pid === undefined
      ? null
      : { pid: s.pid, exe: '/usr/bin/python3', cmdline: null, uid: 0, user: 'root', unit: null, container: null, ancestors: [] };
  const e: ImdsEvent = {
    ts: new Date(T0 + s.at * 1000).toISOString(),
    version: s.v,
    method: s.v === 'token' ? 'PUT' : 'GET',
    path: s.path ?? (s.v === 'token' ? '/latest/api/token' : '/latest/meta-data/iam/security-credentials/'),
    status: s.status === undefined ? 200 : s.status,
    client: { ip: s.ip ?? '10.0.0.5', port: 40000 },
    server: { ip: '169.254.169.254', port: 80 },
    userAgent: ua,
    sdk: identifySdk(ua),
    process: proc,
    attribution: proc ? 'gate' : 'none',
    reason: null,
    httpVersion: 'HTTP/1.1',
  };
  if (s.v === 'token') e.tokenTtl = s.ttl ?? 21600;
  return e;
}

/** Feed steps in order; return the reasons given to the v1 events (null entries for others dropped). */
function run(steps: Step[], opts = {}): Array<V1Reason | null> {
  const t = new V1ReasonTracker(opts);
  const out: Array<V1Reason | null> = [];
  for (const s of steps) {
    const e = ev(s);
    const r = t.observe(e);
    expect(e.reason).toBe(r);
    if (s.v === 'v1') out.push(r);
    else expect(r).toBeNull();
  }
  return out;
}

const OLD_JAVA = 'aws-sdk-java/1.11.500 Linux/4.14 OpenJDK_64-Bit_Server_VM/25.232-b09 java/1.8.0_232';
const JSV2 = 'aws-sdk-nodejs/2.1693.0 linux/v20.20.2';

describe('V1ReasonTracker: each reason', () => {
  const rows: Array<[string, Step[], Array<V1Reason | null>]> = [
    ['legacy client, no PUT ever', [{ at: 0, v: 'v1' }], ['no-token-attempt']],
    ['curl script without a token', [{ at: 0, v: 'v1', ua: 'curl/7.88.1' }], ['no-token-attempt']],
    ['no User-Agent at all', [{ at: 0, v: 'v1', ua: null }], ['no-token-attempt']],
    [
      'hop limit: PUT unanswered, then token-less GETs (botocore, 1 s timeout)',
      [{ at: 0, v: 'token', status: null }, { at: 1, v: 'v1' }, { at: 1.01, v: 'v1' }],
      ['token-put-unanswered', 'token-put-unanswered'],
    ],
    [
      'proxy added X-Forwarded-For: PUT 403, then v1',
      [{ at: 0, v: 'token', status: 403 }, { at: 0.01, v: 'v1' }],
      ['token-put-rejected'],
    ],
    // what the wire showed: IMDS never answers PUT /latest/api/token with 404/405, so it is not "rejected 403 (X-Forwarded-For)"
    ['old emulator: PUT 405, then v1', [{ at: 0, v: 'token', status: 405 }, { at: 0.1, v: 'v1' }], ['token-put-not-found']],
    ['look-alike endpoint or own probing: PUT 404, then v1 (sticky)', [{ at: 0, v: 'token', status: 404 }, { at: 0.1, v: 'v1' }, { at: 90, v: 'v1' }], ['token-put-not-found', 'token-put-not-found']],
    ['any other error to the PUT stays rejected', [{ at: 0, v: 'token', status: 503 }, { at: 0.1, v: 'v1' }], ['token-put-rejected']],
    ['PUT 400 is not fallback evidence (SDKs never fall back on 400)', [{ at: 0, v: 'token', status: 400 }, { at: 0.1, v: 'v1' }], ['no-token-attempt']],
    [
      'token with 1 s TTL used after expiry: 401 to the v2 call, then v1',
      [{ at: 0, v: 'token', ttl: 1 }, { at: 0.1, v: 'v2' }, { at: 3, v: 'v2', status: 401 }, { at: 3.1, v: 'v1' }],
      ['token-expired'],
    ],
    [
      'TTL ran out without a 401 seen, then v1',
      [{ at: 0, v: 'token', ttl: 5 }, { at: 1, v: 'v2' }, { at: 10, v: 'v1' }],
      ['token-expired'],
    ],
    ['SDK too old for IMDSv2', [{ at: 0, v: 'v1', ua: OLD_JAVA }], ['v2-unsupported-client']],
    ["another cloud's metadata path", [{ at: 0, v: 'v1', ua: 'Go-http-client/1.1', path: '/computeMetadata/v1/instance/id' }], ['foreign-cloud-probe']],
  ];
  it.each(rows)('%s', (_l, steps, want) => {
    expect(run(steps)).toEqual(want);
  });
});

describe('V1ReasonTracker: precedence and limits', () => {
  const rows: Array<[string, Step[], Array<V1Reason | null>, object?]> = [
    [
      'foreign path beats a failed PUT',
      [{ at: 0, v: 'token', status: null }, { at: 1, v: 'v1', path: '/metadata/instance' }],
      ['foreign-cloud-probe'],
    ],
    [
      'observed PUT failure beats "SDK too old" (traffic over User-Agent)',
      [{ at: 0, v: 'token', status: null, ua: OLD_JAVA }, { at: 1, v: 'v1', ua: OLD_JAVA }],
      ['token-put-unanswered'],
    ],
    [
      'a failed PUT after a session beats token-expired',
      [{ at: 0, v: 'token', ttl: 1 }, { at: 0.5, v: 'v2' }, { at: 5, v: 'token', status: 403 }, { at: 5.1, v: 'v1' }],
      ['token-put-rejected'],
    ],
    [
      'token-expired beats "SDK too old"',
      [{ at: 0, v: 'token', ua: OLD_JAVA, ttl: 1 }, { at: 0.1, v: 'v2', ua: OLD_JAVA }, { at: 2, v: 'v2', status: 401, ua: OLD_JAVA }, { at: 2.1, v: 'v1', ua: OLD_JAVA }],
      ['token-expired'],
    ],
    [
      'a successful PUT after the failed one clears it',
      [{ at: 0, v: 'token', status: null }, { at: 1, v: 'token', status: 200 }, { at: 1.1, v: 'v1' }],
      ['no-token-attempt'],
    ],
    [
      'outside the fallback window and never fell back: no-token-attempt',
      [{ at: 0, v: 'token', status: null }, { at: 61, v: 'v1' }],
      ['no-token-attempt'],
    ],
    [
      'sticky fallback (Go v2, JS): later v1 calls, no new PUT, keep the reason',
      [{ at: 0, v: 'token', status: null }, { at: 1, v: 'v1' }, { at: 600, v: 'v1' }, { at: 4000, v: 'v1' }],
      ['token-put-unanswered', 'token-put-unanswered', 'token-put-unanswered'],
    ],
    [
      'sticky fallback ends when the client does v2 again',
      [{ at: 0, v: 'token', status: null }, { at: 1, v: 'v1' }, { at: 100, v: 'v2' }, { at: 700, v: 'v1' }],
      ['token-put-unanswered', 'no-token-attempt'],
    ],
    [
      'sticky fallback ends when a token PUT succeeds',
      [{ at: 0, v: 'token', status: null }, { at: 1, v: 'v1' }, { at: 100, v: 'token', status: 200 }, { at: 700, v: 'v1' }],
      ['token-put-unanswered', 'no-token-attempt'],
    ],
    [
      'sticky fallback ends after stickySec of silence',
      [{ at: 0, v: 'token', status: null }, { at: 1, v: 'v1' }, { at: 200, v: 'v1' }],
      ['token-put-unanswered', 'no-token-attempt'],
      { stickySec: 100 },
    ],
    [
      'token still valid (v2 ok after the asked TTL): no token-expired',
      [{ at: 0, v: 'token', ttl: 5 }, { at: 6, v: 'v2' }, { at: 7, v: 'v1' }],
      ['no-token-attempt'],
    ],
    [
      'token-expired only within expiredWindowSec of the expiry',
      [{ at: 0, v: 'token', ttl: 1 }, { at: 0.5, v: 'v2' }, { at: 1000, v: 'v1' }],
      ['no-token-attempt'],
    ],
    [
      'a v1 before the PUT is not explained by it',
      [{ at: 0, v: 'v1' }, { at: 1, v: 'token', status: null }],
      ['no-token-attempt'],
    ],
  ];
  it.each(rows)('%s', (_l, steps, want, opts) => {
    expect(run(steps, opts)).toEqual(want);
  });
});

describe('V1ReasonTracker: who is the same client', () => {
  const rows: Array<[string, Step[], Array<V1Reason | null>]> = [
    [
      'another address is another client',
      [{ at: 0, v: 'token', status: null, ip: '10.0.0.5' }, { at: 1, v: 'v1', ip: '10.0.0.6' }],
      ['no-token-attempt'],
    ],
    [
      'same address, another User-Agent (replay: several processes share the IP)',
      [{ at: 0, v: 'token', status: null }, { at: 1, v: 'v1', ua: 'curl/7.88.1' }],
      ['no-token-attempt'],
    ],
    [
      'JS SDK v2: PUT without User-Agent, fallback GETs with aws-sdk-nodejs (recorded with aws-sdk 2.1693.0)',
      [{ at: 0, v: 'token', status: 403, ua: null }, { at: 0.01, v: 'v1', ua: JSV2 }, { at: 0.02, v: 'v1', ua: JSV2 }],
      ['token-put-rejected', 'token-put-rejected'],
    ],
    [
      'a UA-less PUT does not explain a curl v1 on the same address',
      [{ at: 0, v: 'token', status: null, ua: null }, { at: 0.5, v: 'v1', ua: 'curl/7.88.1' }],
      ['no-token-attempt'],
    ],
    [
      'JS SDK v3: no User-Agent anywhere, same address',
      [{ at: 0, v: 'token', status: null, ua: null }, { at: 1, v: 'v1', ua: null }],
      ['token-put-unanswered'],
    ],
    [
      'live: same UA but another pid is another client',
      [{ at: 0, v: 'token', status: null, pid: 100 }, { at: 1, v: 'v1', pid: 200 }],
      ['no-token-attempt'],
    ],
    [
      'live: same pid',
      [{ at: 0, v: 'token', status: null, pid: 100 }, { at: 1, v: 'v1', pid: 100 }],
      ['token-put-unanswered'],
    ],
    [
      'live: PUT unattributed, v1 attributed: the UA key still joins them',
      [{ at: 0, v: 'token', status: null }, { at: 1, v: 'v1', pid: 100 }],
      ['token-put-unanswered'],
    ],
  ];
  it.each(rows)('%s', (_l, steps, want) => {
    expect(run(steps)).toEqual(want);
  });
});

describe('V1ReasonTracker: bounded state and packet time', () => {
  it('keeps at most maxClients and counts evictions (least recently seen first)', () => {
    const t = new V1ReasonTracker({ maxClients: 3 });
    t.observe(ev({ at: 0, v: 'token', status: null, ip: '10.0.0.1' }));
    for (let i = 2; i <= 6; i++) t.observe(ev({ at: 0, v: 'token', status: null, ip: `10.0.0.${i}` }));
    expect(t.stats()).toMatchObject({ clients: 3, evicted: 3 });
    // 10.0.0.1 was evicted: its failed PUT is forgotten
    expect(t.observe(ev({ at: 1, v: 'v1', ip: '10.0.0.1' }))).toBe('no-token-attempt');
    expect(t.observe(ev({ at: 1, v: 'v1', ip: '10.0.0.6' }))).toBe('token-put-unanswered');
  });

  it('uses packet time: a replay of an old capture gives the same reasons as a live run', () => {
    const steps: Step[] = [{ at: 0, v: 'token', status: null }, { at: 30, v: 'v1' }];
    expect(run(steps)).toEqual(['token-put-unanswered']);
    // the same exchange spaced 90 s apart in packet time is outside the window, whatever the wall clock says
    expect(run([{ at: 0, v: 'token', status: null }, { at: 90, v: 'v1' }])).toEqual(['no-token-attempt']);
  });

  it('an unparsable ts is counted and the last good time used', () => {
    const t = new V1ReasonTracker();
    t.observe(ev({ at: 0, v: 'token', status: null }));
    const bad = ev({ at: 1, v: 'v1' });
    bad.ts = 'not a time';
    expect(t.observe(bad)).toBe('token-put-unanswered');
    expect(t.stats().badTime).toBe(1);
  });
});

describe('isForeignCloudPath', () => {
  it.each([
    ['/latest/meta-data/', false],
    ['/latest', false],
    ['/', false],
    ['/1.0/meta-data/', false],
    ['/2021-03-23/meta-data/instance-id', false],
    ['/metadata/instance', true],
    ['/computeMetadata/v1/', true],
    ['/openstack/latest/meta_data.json', true],
    ['/opc/v2/instance/', true],
    ['/metadata/v1.json', true],
    ['/latestx', true],
    // @aws-sdk/ec2-metadata-service 3.1164.0 sends a doubled slash (pcaps/real/js-v3-ec2-metadata-service.pcap)
    ['//latest/meta-data/instance-id', false],
    ['///2021-03-23/', false],
    ['//openstack', true],
    ['/openstack', true],
  ])('%s → %s', (p, want) => expect(isForeignCloudPath(p)).toBe(want));
});
