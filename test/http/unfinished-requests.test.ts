/**
 * A request seen but not fully parsed is still a request (docs/design.md#unfinished-requests):
 * a head over the 8 KiB or 200-header limit, a control byte in the target, a request line
 * that cannot be read. Each capture goes through `replay --fail-on v1,unknown` and
 * `--format json` (the CLI in dist/): the verdict is never READY with "no IMDS request seen".
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/testkit/make-edge-pcaps.js';
import { classicPcap } from '../support/testkit/capture-files.js';
import { LINKTYPE, ethernet } from '../support/testkit/packet-builders.js';
import { httpResponse } from '../support/testkit/http-text.js';
import { tcpConversation, toRecords } from '../support/testkit/tcp-conversation.js';
import { CREDENTIALS_BODY, TOKEN } from '../support/testkit/fake-values.js';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'imdswatch-unfinished-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CREDS = '/latest/meta-data/iam/security-credentials/fake-role';
/** a header value that must never reach any output */
const SECRET_VALUE = 'NEVERPRINTED';

/** one connection to IMDS carrying `requests` (split into 1448-byte segments), each answered by `responses[i]` */
function capture(name: string, requests: Array<string | Buffer>, responses: Array<string | null>): string {
  const total = requests.reduce((n, r) => n + Buffer.byteLength(r as string, 'latin1'), 0);
  const split = Array.from({ length: Math.floor(total / 1448) }, (_, i) => (i + 1) * 1448);
  const pk = tcpConversation({ client: { ip: '10.0.3.9', port: 46000 }, startSec: 1_700_000_000, requests, responses, split: requests.length === 1 ? split : undefined });
  const path = join(dir, `${name}.pcap`);
  writeFileSync(path, classicPcap(toRecords(pk, (ip) => ethernet(ip)), { linkType: LINKTYPE.ETHERNET }));
  return path;
}

function head(target: string, headers: Array<[string, string]>): string {
  return [`GET ${target} HTTP/1.1`, 'Host: 169.254.169.254', 'User-Agent: curl/7.88.1', ...headers.map(([k, v]) => `${k}: ${v}`)].join('\r\n') + '\r\n\r\n';
}

const big = (n: number): Array<[string, string]> => Array.from({ length: n }, (_, i) => [`X-Pad-${i}`, `${SECRET_VALUE}${'a'.repeat(2988)}`]);
const many = (n: number): Array<[string, string]> => Array.from({ length: n }, (_, i) => [`X-H${i}`, SECRET_VALUE]);

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  json: {
    input: { skipped: Record<string, number>; unread: Record<string, number>; unclassified: number };
    totals: { v1: number; v2: number; token: number; requests: number };
    readiness: { verdict: string };
    v1Calls?: unknown;
  };
  events: Array<Record<string, unknown>>;
}

function replay(path: string): Run {
  const opts = { encoding: 'utf8' as const, cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 };
  const text = spawnSync(process.execPath, [CLI, 'replay', '--no-progress', '--fail-on', 'v1,unknown', path], opts);
  const json = spawnSync(process.execPath, [CLI, 'replay', '--no-progress', '--format', 'json', path], opts);
  const nd = spawnSync(process.execPath, [CLI, 'replay', '--no-progress', '--format', 'ndjson', path], opts);
  for (const out of [text.stdout, text.stderr, json.stdout, json.stderr, nd.stdout, nd.stderr]) {
    expect(out).not.toContain(SECRET_VALUE);
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain('AKIA');
  }
  const events = nd.stdout.trim() === '' ? [] : nd.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: text.status, stdout: text.stdout, stderr: text.stderr, json: JSON.parse(json.stdout) as Run['json'], events };
}

const OK = httpResponse(200, CREDENTIALS_BODY);

describe.skipIf(!existsSync(CLI))('a request the parser could not finish is still a request', () => {
  it('a token-less GET whose head is over 8 KiB (three 3 000-byte headers) is an IMDSv1 call', () => {
    const r = replay(capture('too-large', [head(CREDS, big(3))], [OK]));
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).not.toMatch(/no IMDS request seen/);
    expect(r.json.readiness.verdict).toBe('NOT READY');
    expect(r.json.totals.v1).toBe(1);
    expect(r.json.input.skipped['E_HTTP_HEADERS_TOO_LARGE']).toBe(1);
    expect(r.events).toHaveLength(1);
    expect(r.events[0]).toMatchObject({ version: 'v1', method: 'GET', path: CREDS, status: 200, userAgent: 'curl/7.88.1' });
  });

  it('a token-less GET with 201 headers is an IMDSv1 call', () => {
    const r = replay(capture('too-many', [head(CREDS, many(199))], [OK]));
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.json.readiness.verdict).toBe('NOT READY');
    expect(r.json.input.skipped['E_HTTP_TOO_MANY_HEADERS']).toBe(1);
    expect(r.events.map((e) => [e.version, e.path, e.status])).toEqual([['v1', CREDS, 200]]);
  });

  it('a head over the limit whose token header comes after the limit is IMDSv2, not v1', () => {
    const r = replay(capture('token-after', [head(CREDS, [...big(3), ['X-aws-ec2-metadata-token', TOKEN]])], [OK]));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.json.readiness.verdict).toBe('READY');
    expect(r.events.map((e) => [e.version, e.path, e.status])).toEqual([['v2', CREDS, 200]]);
  });

  it('an empty token header after the limit does not make the call v2', () => {
    const r = replay(capture('empty-token-after', [head(CREDS, [...many(205), ['X-aws-ec2-metadata-token', '']])], [OK]));
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.events.map((e) => [e.version, e.emptyTokenHeader])).toEqual([['v1', true]]);
  });

  it('a token header line too long to read: the call cannot be classified, the verdict is UNKNOWN', () => {
    const r = replay(capture('token-unreadable', [head(CREDS, [['X-aws-ec2-metadata-token', `${SECRET_VALUE}${'b'.repeat(9000)}`]])], [OK]));
    // replay's rule for requests it could not classify: exit 2 under --fail-on (src/cli/replay-command.ts)
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stdout).toMatch(/^Result: UNKNOWN/m);
    expect(r.json.readiness.verdict).toBe('UNKNOWN');
    expect(r.json.input.unclassified).toBe(1);
    expect(r.events).toEqual([]);
  });

  it('a control byte in the request target: an IMDSv1 call, the byte percent-encoded in the path', () => {
    const r = replay(capture('control-byte', [Buffer.from(head('/latest/meta-data/iam/security-credentials/fake\x01role', []), 'latin1')], [OK]));
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.json.readiness.verdict).toBe('NOT READY');
    expect(r.events.map((e) => [e.version, e.path, e.status])).toEqual([['v1', '/latest/meta-data/iam/security-credentials/fake%01role', 200]]);
  });

  it('a request line over 8 KiB: unread IMDS traffic, verdict UNKNOWN', () => {
    const r = replay(capture('long-line', [head(`${CREDS}?${'c'.repeat(9000)}`, [])], [OK]));
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).not.toMatch(/no IMDS request seen/);
    expect(r.stdout).toMatch(/^Result: UNKNOWN/m);
    expect(r.json.readiness.verdict).toBe('UNKNOWN');
    expect(r.json.input.unread['request-unreadable']).toBe(1);
  });

  it('a request line that is not one (a control byte in the method): unread IMDS traffic, verdict UNKNOWN', () => {
    const r = replay(capture('bad-line', [Buffer.from(`G\x01T ${CREDS} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n`, 'latin1')], [httpResponse(400, '')]));
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.json.readiness.verdict).toBe('UNKNOWN');
    expect(r.json.input.unread['request-unreadable']).toBe(1);
  });

  it('responses still pair after an over-limit head and an unreadable request line on the same connection', () => {
    const r = replay(
      capture(
        'pairing',
        [head(CREDS, big(3)), `B\x01D / HTTP/1.1\r\nHost: x\r\n\r\n`, head('/latest/meta-data/instance-id', many(250)), head('/latest/meta-data/ami-id', [])],
        [OK, httpResponse(400, ''), httpResponse(404, ''), httpResponse(200, 'ami-0fake')],
      ),
    );
    expect(r.events.map((e) => [e.version, e.path, e.status])).toEqual([
      ['v1', CREDS, 200],
      ['v1', '/latest/meta-data/instance-id', 404],
      ['v1', '/latest/meta-data/ami-id', 200],
    ]);
    expect(r.json.input.unread['request-unreadable']).toBe(1);
    expect(r.json.readiness.verdict).toBe('NOT READY');
  });
});
