/**
 * #16: when IMDS traffic could not be read (fragments not reassembled, conflicting fragment
 * overlaps, gaps, unsupported link types) replay says so in every output format and on
 * stderr, the verdict is UNKNOWN rather than "no IMDSv1 call seen", and `--fail-on unknown`
 * fails on it; a capture of nothing but an unsupported link type is an error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failOnMatched, parseFailOn } from '../../src/cli/fail-on.js';
import { describeUnread, unreadImds, unreadImdsPackets, unsupportedLinkTypeError } from '../../src/decode/unread-imds.js';
import { REPO_ROOT } from '../support/testkit/make-edge-pcaps.js';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'replay', '--no-progress', ...args], { encoding: 'utf8', cwd: REPO_ROOT });
const MISSING = 'pcaps/edge/ipv4-fragments-missing.pcap';
const OVERLAP = 'pcaps/edge/ipv4-fragments-overlap.pcap';
const WHOLE = 'pcaps/edge/ipv6-fragments.pcap';
const TOTALS = { requests: 1, v1: 0, v2: 1, token: 0, v1Rejected: 0, tokenRejected: 0, unanswered: 0 };

describe('unread IMDS traffic: which counters, and --fail-on unknown', () => {
  it('names only the counters that may hide a request', () => {
    const skipped = {
      'ip-fragments': 8, 'tcp-gap-bytes': 375, 'tcp-response-gap-bytes': 242, 'E_HTTP_GAP': 3, 'unknown-linktype': 9, 'ip-fragment-duplicate': 2, 'ipv4-bad-header': 1, 'tcp-flows-evicted': 0,
    };
    expect(unreadImds(skipped)).toEqual({ 'ip-fragments': 8, 'tcp-gap-bytes': 375, 'unknown-linktype': 9 });
    expect(describeUnread(unreadImds(skipped), [147])).toBe(
      '8 IMDS fragment(s) not reassembled, 375 byte(s) missing from the client side of IMDS connections, 9 packet(s) of a link type imdswatch cannot read (147 (USER0))',
    );
    expect(describeUnread({})).toBe('');
  });

  it('--fail-on unknown matches UNKNOWN only when no v1 call was seen', () => {
    expect(parseFailOn('v1, unknown')).toEqual(['v1', 'unknown']);
    const unread = { unclassified: 0, unread: { 'ip-fragments': 1 } };
    expect(failOnMatched(['unknown'], TOTALS, unread)).toBe(true);
    expect(failOnMatched(['unknown'], TOTALS, { unclassified: 2, unread: {} })).toBe(true);
    expect(failOnMatched(['unknown'], TOTALS, { unclassified: 0, unread: {} })).toBe(false);
    expect(failOnMatched(['v1'], TOTALS, unread)).toBe(false);
    // a v1 call makes the verdict NOT READY, not UNKNOWN
    expect(failOnMatched(['unknown'], { ...TOTALS, v1: 1 }, unread)).toBe(false);
    expect(() => parseFailOn('unkown')).toThrow(/v1, rejected and\/or unknown/);
  });

  it("the daemon's count: unreassembled fragments, conflicting overlaps and unknown link types, not TCP gaps", () => {
    expect(unreadImdsPackets({ fragments: 2, skipped: { 'ip-fragment-overlap-conflict': 1, 'unknown-linktype': 4, 'ipv4-bad-header': 9 } })).toBe(7);
    expect(unreadImdsPackets({ fragments: 0, skipped: {} })).toBe(0);
  });

  it('every frame of an unsupported link type is an error naming it; some are not', () => {
    const decode = (n: number) => ({ skipped: { 'unknown-linktype': n }, unknownLinkTypes: { '147': n } });
    expect(unsupportedLinkTypeError({ frames: 5, decode: decode(5) })).toMatch(/^no packet could be read: link type 147 \(USER0\) is not supported \(E_LINKTYPE_UNSUPPORTED\)/);
    expect(unsupportedLinkTypeError({ frames: 6, decode: decode(5) })).toBeNull();
    expect(unsupportedLinkTypeError({ frames: 0, decode: decode(0) })).toBeNull();
  });
});

describe.skipIf(!existsSync(CLI))('imdswatch replay when IMDS traffic could not be read', () => {
  it('text: Result UNKNOWN naming the cause; stderr names it too; exit 0 without --fail-on', () => {
    const r = run(MISSING);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Result: UNKNOWN — no IMDSv1 call seen, but IMDS traffic could not be read \(1 IMDS fragment\(s\) not reassembled.*\): an IMDSv1 call may be hidden there\.$/m);
    expect(r.stdout).not.toMatch(/every request used a session token/);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^imdswatch: IMDS traffic could not be read: 1 IMDS fragment\(s\) not reassembled.*verdict is UNKNOWN/)]);
  });

  it("a token PUT's reply dropped by the hop limit (a gap on the server's side) is counted, but is not unread traffic", () => {
    // real capture: the container's PUT /latest/api/token got no answer (hop limit 1), no call followed
    const r = run('pcaps/real/ec2-metadata-container-hop-limit.pcap');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Skipped: tcp-response-gap-bytes 242, E_HTTP_GAP 1$/m);
    expect(r.stdout).toMatch(/^Result: no IMDSv1 call seen/m);
    expect(r.stderr).toBe('');
    const j = JSON.parse(run('--format', 'json', 'pcaps/real/ec2-metadata-container-hop-limit.pcap').stdout) as { input: { unread: Record<string, number>; skipped: Record<string, number> } };
    expect(j.input.unread).toEqual({});
    expect(j.input.skipped['tcp-response-gap-bytes']).toBe(242);
    expect(j.input.skipped['tcp-gap-bytes']).toBeUndefined();
  });

  it('json: input.unread holds the counters', () => {
    const r = run('--format', 'json', OVERLAP);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { input: { unread: Record<string, number> }; totals: { v2: number } };
    expect(j.input.unread).toEqual({ 'ip-fragment-overlap-conflict': 1 });
    expect(j.totals.v2).toBe(1);
    // the json verdict agrees with the text Result line and --fail-on unknown
    const r2 = JSON.parse(run('--format', 'json', MISSING).stdout) as { readiness: { verdict: string; why: string[]; hosts: Array<{ verdict: string }> } };
    expect(r2.readiness.verdict).toBe('UNKNOWN');
    expect(r2.readiness.why).toEqual([expect.stringMatching(/^IMDS traffic could not be read \(1 IMDS fragment\(s\) not reassembled/)]);
    expect(r2.readiness.hosts.map((h) => h.verdict)).toEqual(['UNKNOWN']);
  });

  it('ndjson: events only on stdout, the cause on stderr', () => {
    const r = run('--format', 'ndjson', MISSING);
    expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { version: string }).version)).toEqual(['v2']);
    expect(r.stderr).toMatch(/IMDS traffic could not be read/);
  });

  it('--fail-on unknown exits 1; --fail-on v1 still exits 0 (with the warning)', () => {
    expect(run('--fail-on', 'unknown', MISSING).status).toBe(1);
    expect(run('--fail-on', 'v1,unknown', OVERLAP).status).toBe(1);
    const v1Only = run('--fail-on', 'v1', MISSING);
    expect(v1Only.status).toBe(0);
    expect(v1Only.stderr).toMatch(/--fail-on unknown/);
  });

  it('a capture read whole: no warning, the usual result, --fail-on unknown exits 0', () => {
    const r = run('--fail-on', 'unknown', WHOLE);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Result: no IMDSv1 call seen — every request used a session token\.$/m);
  });

  it('nothing but an unsupported link type: exit 2, one line naming it', () => {
    const r = run('pcaps/malformed/unknown-linktype.pcap');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['imdswatch: pcaps/malformed/unknown-linktype.pcap: no packet could be read: link type 147 (USER0) is not supported (E_LINKTYPE_UNSUPPORTED); imdswatch reads Ethernet, Linux cooked (SLL, SLL2), raw IP, BSD loopback and NFLOG captures']);
    expect(r.stdout).toMatch(/^Result: UNKNOWN/m); // the error itself is printed once, on stderr (#13)
  });
});
