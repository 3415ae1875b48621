import { describe, expect, it } from 'vitest';
import { V1ReasonTracker } from '../../../src/enrich/reason/v1-reasons.js';
import { identifySdk } from '../../../src/enrich/sdk/user-agent.js';
import type { ImdsEvent, V1Reason } from '../../../src/imds/event.js';

/**
 * Request sequences recorded from real clients installed here, each pointed (through
 * AWS_EC2_METADATA_SERVICE_ENDPOINT) at a loopback stand-in for IMDS that answered the
 * token PUT with 200 ("ok"), 403 ("reject", what IMDS does to a PUT carrying
 * X-Forwarded-For) or never ("hang", what a container sees with hop limit 1).
 * Columns: seconds since the first request, method, path, User-Agent, token header sent.
 * Clients: Debian python3-botocore 1.29.27, Debian awscli 2.9.19, aws-sdk (JS v2)
 * 2.1693.0, @smithy/credential-provider-imds 4.5.2 (JS v3). Note the JS v2 SDK: no
 * User-Agent on the PUT, one on its v1 fallback; 4 PUT attempts before falling back.
 */
const BOTOCORE = 'Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v782 awscrt/1.0.0.dev0';
const CLI2 = 'aws-cli/2.9.19';
const JSV2 = 'aws-sdk-nodejs/2.1693.0 linux/v20.20.2';

type Row = [sec: number, method: string, path: string, ua: string | null, token: boolean];
interface Recording {
  client: string;
  mode: 'ok' | 'reject' | 'hang';
  rows: Row[];
}

const RECORDED: Recording[] = [
  { client: 'botocore', mode: 'ok', rows: [
    [0, 'PUT', '/latest/api/token', BOTOCORE, false],
    [0.006, 'GET', '/latest/meta-data/iam/security-credentials/', BOTOCORE, true],
    [0.008, 'GET', '/latest/meta-data/iam/security-credentials/role', BOTOCORE, true],
  ] },
  { client: 'cli2', mode: 'ok', rows: [
    [0, 'PUT', '/latest/api/token', CLI2, false],
    [0.003, 'GET', '/latest/meta-data/iam/security-credentials/', CLI2, true],
    [0.005, 'GET', '/latest/meta-data/iam/security-credentials/role', CLI2, true],
  ] },
  { client: 'jsv2', mode: 'ok', rows: [
    [0, 'PUT', '/latest/api/token', null, false],
    [0.019, 'GET', '/latest/meta-data/iam/security-credentials/', null, true],
    [0.022, 'GET', '/latest/meta-data/iam/security-credentials/role', null, true],
  ] },
  { client: 'jsv3', mode: 'ok', rows: [
    [0, 'PUT', '/latest/api/token', null, false],
    [0.011, 'GET', '/latest/meta-data/iam/security-credentials/', null, true],
    [0.017, 'GET', '/latest/meta-data/iam/security-credentials/role', null, true],
  ] },
  { client: 'botocore', mode: 'reject', rows: [
    [0, 'PUT', '/latest/api/token', BOTOCORE, false],
    [0.003, 'GET', '/latest/meta-data/iam/security-credentials/', BOTOCORE, false],
    [0.005, 'GET', '/latest/meta-data/iam/security-credentials/role', BOTOCORE, false],
  ] },
  { client: 'cli2', mode: 'reject', rows: [
    [0, 'PUT', '/latest/api/token', CLI2, false],
    [0.003, 'GET', '/latest/meta-data/iam/security-credentials/', CLI2, false],
    [0.004, 'GET', '/latest/meta-data/iam/security-credentials/role', CLI2, false],
  ] },
  { client: 'jsv2', mode: 'reject', rows: [
    [0, 'PUT', '/latest/api/token', null, false],
    [0.013, 'GET', '/latest/meta-data/iam/security-credentials/', JSV2, false],
    [0.017, 'GET', '/latest/meta-data/iam/security-credentials/role', JSV2, false],
  ] },
  { client: 'jsv3', mode: 'reject', rows: [
    [0, 'PUT', '/latest/api/token', null, false],
    [0.008, 'GET', '/latest/meta-data/iam/security-credentials/', null, false],
    [0.015, 'GET', '/latest/meta-data/iam/security-credentials/role', null, false],
  ] },
  { client: 'botocore', mode: 'hang', rows: [
    [0, 'PUT', '/latest/api/token', BOTOCORE, false],
    [0.996, 'GET', '/latest/meta-data/iam/security-credentials/', BOTOCORE, false],
    [0.999, 'GET', '/latest/meta-data/iam/security-credentials/role', BOTOCORE, false],
  ] },
  { client: 'cli2', mode: 'hang', rows: [
    [0, 'PUT', '/latest/api/token', CLI2, false],
    [1.005, 'GET', '/latest/meta-data/iam/security-credentials/', CLI2, false],
    [1.01, 'GET', '/latest/meta-data/iam/security-credentials/role', CLI2, false],
  ] },
  { client: 'jsv2', mode: 'hang', rows: [
    [0, 'PUT', '/latest/api/token', null, false],
    [1.106, 'PUT', '/latest/api/token', null, false],
    [2.302, 'PUT', '/latest/api/token', null, false],
    [3.461, 'PUT', '/latest/api/token', null, false],
    [4.486, 'GET', '/latest/meta-data/iam/security-credentials/', JSV2, false],
    [4.5, 'GET', '/latest/meta-data/iam/security-credentials/role', JSV2, false],
  ] },
  { client: 'jsv3', mode: 'hang', rows: [
    [0, 'PUT', '/latest/api/token', null, false],
    [1.032, 'GET', '/latest/meta-data/iam/security-credentials/', null, false],
    [1.083, 'GET', '/latest/meta-data/iam/security-credentials/role', null, false],
  ] },
];

const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const PUT_STATUS = { ok: 200, reject: 403, hang: null } as const;
const WANT: Record<Recording['mode'], V1Reason | null> = { ok: null, reject: 'token-put-rejected', hang: 'token-put-unanswered' };

function toEvent(r: Row, mode: Recording['mode']): ImdsEvent {
  const [sec, method, path, ua, token] = r;
  const isPut = method === 'PUT';
  return {
    ts: new Date(T0 + sec * 1000).toISOString(),
    version: isPut ? 'token' : token ? 'v2' : 'v1',
    method,
    path,
    status: isPut ? PUT_STATUS[mode] : 200,
    client: { ip: '127.0.0.1', port: 50000 },
    server: { ip: '127.0.0.1', port: 18254 },
    userAgent: ua,
    sdk: identifySdk(ua),
    process: null,
    attribution: 'none',
    reason: null,
    httpVersion: 'HTTP/1.1',
    ...(isPut ? { tokenTtl: 21600 } : {}),
  };
}

describe('V1ReasonTracker on sequences recorded from real clients', () => {
  it.each(RECORDED.map((r) => [`${r.client} / PUT ${r.mode}`, r] as const))('%s', (_l, rec) => {
    const t = new V1ReasonTracker();
    const v1Reasons: Array<V1Reason | null> = [];
    for (const row of rec.rows) {
      const ev = toEvent(row, rec.mode);
      const r = t.observe(ev);
      if (ev.version === 'v1') v1Reasons.push(r);
    }
    if (rec.mode === 'ok') expect(v1Reasons).toEqual([]);
    else {
      expect(v1Reasons.length).toBeGreaterThan(0);
      expect(new Set(v1Reasons)).toEqual(new Set([WANT[rec.mode]]));
    }
  });

  it('the same clients as one replay on one address (interleaved) keep their reasons apart', () => {
    // botocore got 403, the CLI timed out, JS v3 (no User-Agent) succeeded: all on 127.0.0.1
    const pick = (client: string, mode: Recording['mode']) => RECORDED.find((r) => r.client === client && r.mode === mode)!;
    const merged: Array<{ row: Row; mode: Recording['mode']; who: string }> = [];
    for (const [who, mode, offset] of [['botocore', 'reject', 0], ['cli2', 'hang', 0.001], ['jsv3', 'ok', 0.002]] as const) {
      for (const row of pick(who, mode).rows) merged.push({ row: [row[0] + offset, ...row.slice(1)] as Row, mode, who });
    }
    merged.sort((a, b) => a.row[0] - b.row[0]);
    const t = new V1ReasonTracker();
    const got: Record<string, Set<V1Reason | null>> = {};
    for (const m of merged) {
      const ev = toEvent(m.row, m.mode);
      const r = t.observe(ev);
      if (ev.version === 'v1') (got[m.who] ??= new Set()).add(r);
    }
    expect(got).toEqual({ botocore: new Set(['token-put-rejected']), cli2: new Set(['token-put-unanswered']) });
  });
});
