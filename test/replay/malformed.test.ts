/**
 * The hostile corpus in pcaps/malformed/: each file ends in a clean error code or a
 * counted skip, the good call after the hostile part is still reported, and the CLI
 * stays within bounded memory. Time is bounded by the vitest timeout (no timing assertion).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MALFORMED_DIR, REPO_ROOT } from '../support/testkit/make-edge-pcaps.js';
import { counterValue, expectEventsMatch, loadCaptures } from './label-helpers.js';
import { unreadNotes } from '../../src/cli/fail-on.js';

const REPLAY_TS = join(REPO_ROOT, 'src', 'pipeline', 'replay.ts');
const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const TIME = '/usr/bin/time';
const MAX_RSS_KIB = 256 * 1024;
const caps = loadCaptures(MALFORMED_DIR);

/**
 * Files whose labels the pipeline does not meet yet, keyed "api:NAME" (replayFiles) or
 * "cli:NAME". They run as it.fails: once fixed, the test fails until the entry is removed.
 */
const KNOWN_GAPS: Record<string, string> = {};

function testFor(kind: 'api' | 'cli', name: string): typeof it {
  return (KNOWN_GAPS[`${kind}:${name}`] ? it.fails : it) as typeof it;
}

function codes(e: { error?: string; alsoAccepted?: string[] }): string[] {
  return [e.error ?? '', ...(e.alsoAccepted ?? [])];
}

it('the corpus covers what issue #7 lists', () => {
  const names = caps.map((c) => c.name);
  for (const n of ['bad-magic', 'record-length-past-eof', 'record-length-4g', 'zero-length-records', 'record-256k-claims', 'ipv4-ihl-short', 'tcp-offset-past-packet', 'ipv6-ext-loop', 'http-header-1mib', 'http-100k-headers', 'http-nul-bytes', 'http-invalid-utf8', 'http-no-version']) {
    expect(names).toContain(n);
  }
});

describe.skipIf(!existsSync(REPLAY_TS))('replayFiles on pcaps/malformed', async () => {
  const { replayFiles } = await import('../../src/pipeline/replay.js');

  for (const c of caps) {
    testFor('api', c.name)(c.name, { timeout: 120_000 }, async () => {
      const r = await replayFiles([c.path]);
      const e = c.labels.expect;
      if (e.error === 'E_LINKTYPE_UNSUPPORTED') {
        // not the reader's error: the replay command makes it when no frame could be decoded (#16)
        expect(r.errors).toEqual([]);
        const line = unreadNotes([c.path], r);
        expect(line).toBeNull();
        expect(r.errors.map((x) => x.code)).toEqual(['E_LINKTYPE_UNSUPPORTED']);
        expect(r.errors[0].message).toMatch(/link type 147 \(USER0\) is not supported/);
        expect(r.errors[0].packetsRead).toBe(e.packetsRead);
      } else if (e.exitCode === 2) {
        expect(r.errors).toHaveLength(1);
        expect(codes(e)).toContain(r.errors[0].code);
        if (e.packetsRead !== undefined) expect(r.errors[0].packetsRead).toBe(e.packetsRead);
        expect(r.errors[0].message).not.toContain('\n');
      } else {
        expect(r.errors).toEqual([]);
      }
      if (e.skip) {
        const stats = { ...r.stats, read: (r as unknown as { read?: unknown }).read };
        expect(counterValue(stats, e.skip.counter), `counter ${e.skip.counter} (${e.skip.reasonHint ?? ''})`).toBeGreaterThan(0);
      }
      expectEventsMatch(r.events as unknown as Array<Record<string, unknown>>, c.labels.events, c.name);
    });
  }
});

describe.skipIf(!existsSync(CLI) || !existsSync(TIME))('imdswatch replay on pcaps/malformed: exit code, one-line message, max RSS', () => {
  for (const c of caps) {
    testFor('cli', c.name)(c.name, { timeout: 120_000 }, () => {
      const r = spawnSync(TIME, ['-f', 'maxrss=%M', process.execPath, CLI, 'replay', c.path, '--format', 'ndjson', '--no-progress'], { encoding: 'utf8', timeout: 110_000, maxBuffer: 64 * 1024 * 1024 });
      const errLines = r.stderr.trim().split('\n');
      const rssLine = errLines.pop() ?? '';
      const rss = Number(/maxrss=(\d+)/.exec(rssLine)?.[1]);
      expect(rss, rssLine).toBeGreaterThan(0);
      expect(rss, 'max RSS KiB').toBeLessThan(MAX_RSS_KIB);
      expect(r.status, r.stderr).toBe(c.labels.expect.exitCode);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      if (c.labels.expect.exitCode === 2) {
        const msg = errLines.filter((l) => !l.startsWith('Command exited with non-zero status'));
        expect(msg, 'one line on stderr').toHaveLength(1);
        expect(codes(c.labels.expect).some((code) => msg[0].includes(code)), msg[0]).toBe(true);
      }
      const events = r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      expectEventsMatch(events, c.labels.events, c.name);
    });
  }
});
