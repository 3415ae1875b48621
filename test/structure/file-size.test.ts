import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** docs/design.md#layers: small modules, one job each; a file past this is split along its seams. */
export const MAX_LINES = 400;
const SRC = fileURLToPath(new URL('../../src', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('src/ file sizes', () => {
  it(`no file under src/ is over ${MAX_LINES} lines`, () => {
    const all = files(SRC);
    expect(all.length).toBeGreaterThan(100);
    const over = all
      .map((f) => ({ f: relative(SRC, f), n: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((x) => x.n > MAX_LINES)
      .map((x) => `${x.f}: ${x.n} lines`);
    expect(over).toEqual([]);
  });
});
