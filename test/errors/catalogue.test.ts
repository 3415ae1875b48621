import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ImdswatchError, SKIP_REASONS } from '../../src/errors/catalogue.js';
import { replayFiles } from '../../src/pipeline/replay.js';
import { summarize } from '../../src/sinks/input-summary.js';
import { CliError } from '../../src/cli/exit-codes.js';
import { CaptureFormatError } from '../../src/source/frame.js';

const root = join(import.meta.dirname, '..', '..');

/** rows of docs/errors.md: code → [section, meaning, fix]; skip reasons → [section, stage | meaning, fix] */
function pageRows(): Map<string, [string, string, string]> {
  const rows = new Map<string, [string, string, string]>();
  let section = '';
  for (const line of readFileSync(join(root, 'docs', 'errors.md'), 'utf8').split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const m = /^\| `(E_[A-Z0-9_]+|[a-z0-9]+(?:-[a-z0-9]+)+)` \| (.+) \| (.+) \|$/.exec(line);
    if (m) {
      expect(rows.has(m[1]!), `${m[1]} listed twice`).toBe(false);
      rows.set(m[1]!, [section, m[2]!, m[3]!]);
    }
  }
  return rows;
}

/** every quoted string of src/ outside the catalogue, by file */
function quotedInSource(): Map<string, string> {
  const seen = new Map<string, string>();
  for (const f of sourceFiles(join(root, 'src'))) {
    if (f.endsWith(join('errors', 'catalogue.ts'))) continue;
    for (const m of readFileSync(f, 'utf8').matchAll(/'([A-Za-z0-9_-]+)'/g)) if (!seen.has(m[1]!)) seen.set(m[1]!, f);
  }
  return seen;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('error catalogue', () => {
  it('docs/errors.md lists every code of the catalogue, with the same meaning and fix, and nothing else', () => {
    const rows = pageRows();
    expect([...rows.keys()].sort()).toEqual([...Object.keys(ERROR_CATALOGUE), ...Object.keys(SKIP_REASONS)].sort());
    for (const [code, e] of Object.entries(ERROR_CATALOGUE)) {
      const [section, meaning, fix] = rows.get(code)!;
      expect(section, code).toBe(e.kind === 'error' ? 'Errors' : 'Counters');
      expect(meaning, code).toBe(e.meaning);
      expect(fix, code).toBe(e.fix);
    }
    for (const [reason, e] of Object.entries(SKIP_REASONS)) {
      const [section, stageAndMeaning, fix] = rows.get(reason)!;
      expect(section, reason).toBe('Skip reasons');
      expect(stageAndMeaning, reason).toBe(`${e.stage} | ${e.meaning}`);
      expect(fix, reason).toBe(e.fix);
    }
  });

  it('every code and skip reason of the catalogue is raised or counted somewhere in src/ (none is dead)', () => {
    const used = quotedInSource();
    const dead = [...Object.keys(ERROR_CATALOGUE), ...Object.keys(SKIP_REASONS)].filter((c) => !used.has(c));
    expect(dead).toEqual([]);
  });

  it('the check above can fail: a code that no source file names is reported', () => {
    const used = quotedInSource();
    expect(used.has('E_INPUT_NOT_FOUND')).toBe(false);
    expect(used.has('E_HTTP_GAP')).toBe(true);
  });

  it('every reason the bundled captures are counted under is in the catalogue', { timeout: 300_000 }, async () => {
    const known = new Set<string>([...Object.keys(ERROR_CATALOGUE), ...Object.keys(SKIP_REASONS)]);
    const unknown = new Set<string>();
    for (const dir of ['edge', 'malformed', 'real']) {
      const files = readdirSync(join(root, 'pcaps', dir)).filter((n) => /\.pcap(ng)?$/.test(n)).map((n) => join(root, 'pcaps', dir, n));
      for (const f of files) {
        const r = await replayFiles([f], { onEvent: () => {} });
        const input = summarize([f], r.stats, [], r.read.skipped);
        const keys = [...Object.keys(input.skipped), ...Object.keys(r.stats.decode.skipped), ...Object.keys(r.stats.http.errors), ...Object.keys(r.stats.imds.skipped)];
        for (const k of keys) if (!known.has(k)) unknown.add(`${k} (${f})`);
      }
    }
    expect([...unknown]).toEqual([]);
  });

  it('every E_ code written in src/ is in the catalogue', () => {
    const known = new Set(Object.keys(ERROR_CATALOGUE));
    const unknown: string[] = [];
    for (const f of sourceFiles(join(root, 'src'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/'(E_[A-Z0-9_]+)'/g)) if (!known.has(m[1]!)) unknown.push(`${f}: ${m[1]}`);
    }
    expect(unknown).toEqual([]);
  });

  it('stage errors are ImdswatchErrors with their code', () => {
    const e = new CaptureFormatError('E_CAPTURE_TRUNCATED', 'x: truncated', 3, 100);
    expect(e).toBeInstanceOf(ImdswatchError);
    expect(e.code).toBe('E_CAPTURE_TRUNCATED');
    expect(e.packetsRead).toBe(3);
    const c = new CliError('bad flag');
    expect(c).toBeInstanceOf(ImdswatchError);
    expect(c.code).toBe('E_USAGE');
  });
});
