import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ImdswatchError } from '../../src/errors/catalogue.js';
import { CliError } from '../../src/cli/exit-codes.js';
import { CaptureFormatError } from '../../src/source/frame.js';

const root = join(import.meta.dirname, '..', '..');

/** rows of docs/errors.md: code → [section, meaning, fix] */
function pageRows(): Map<string, [string, string, string]> {
  const rows = new Map<string, [string, string, string]>();
  let section = '';
  for (const line of readFileSync(join(root, 'docs', 'errors.md'), 'utf8').split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const m = /^\| `(E_[A-Z0-9_]+)` \| (.+) \| (.+) \|$/.exec(line);
    if (m) {
      expect(rows.has(m[1]!), `${m[1]} listed twice`).toBe(false);
      rows.set(m[1]!, [section, m[2]!, m[3]!]);
    }
  }
  return rows;
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
    expect([...rows.keys()].sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
    for (const [code, e] of Object.entries(ERROR_CATALOGUE)) {
      const [section, meaning, fix] = rows.get(code)!;
      expect(section, code).toBe(e.kind === 'error' ? 'Errors' : 'Counters');
      expect(meaning, code).toBe(e.meaning);
      expect(fix, code).toBe(e.fix);
    }
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
