import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/repo-root.js';

// Code cites docs by anchor (docs/imds-facts.md#status-codes) instead of issue numbers: every
// cited anchor must be a heading of that page (GitHub's slug: lower case, punctuation
// dropped, spaces to hyphens).

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');

function anchors(doc: string): Set<string> {
  const text = readFileSync(join(REPO_ROOT, 'docs', doc), 'utf8');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));
}

describe('doc anchors cited from src/', () => {
  it('name headings that exist', () => {
    const known = new Map<string, Set<string>>();
    const bad: string[] = [];
    let cited = 0;
    for (const f of files(join(REPO_ROOT, 'src'))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/docs\/([a-z0-9-]+\.md)#([a-z0-9-]+)/g)) {
        cited++;
        if (!known.has(m[1])) known.set(m[1], anchors(m[1]));
        if (!known.get(m[1])!.has(m[2])) bad.push(`${relative(REPO_ROOT, f)}: docs/${m[1]}#${m[2]}`);
      }
    }
    expect(cited).toBeGreaterThan(10);
    expect(bad).toEqual([]);
  });
});
