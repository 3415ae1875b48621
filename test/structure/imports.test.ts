import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The import graph of src/ (docs/design.md#layers): no cycle between files, and no import
 * from a stage folder to a folder above it. Every `import … from`, `export … from` and
 * `import('…')` of a relative path counts, type-only imports included (a type cycle is
 * still two modules that cannot be understood one without the other).
 */
const SRC = resolve(__dirname, '../../src');

/** lowest first; a folder may import its own files and folders of a lower rank only */
export const LAYERS: string[][] = [
  ['domain', 'errors', 'text'],
  ['source'],
  ['decode'],
  ['tcp'],
  ['http'],
  ['imds'],
  ['enrich'],
  ['pipeline'],
  ['ledger'],
  ['readiness'],
  ['sinks'],
  ['live', 'service'],
  ['doctor'],
  ['cli'],
];

const rank = new Map<string, number>();
LAYERS.forEach((folders, i) => folders.forEach((f) => rank.set(f, i)));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"](\.[^'"]+)['"]/g;

export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    out.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
  }
  return out;
}

const stage = (file: string) => relative(SRC, file).split('/')[0];

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of files(SRC)) g.set(f, importsOf(f, readFileSync(f, 'utf8')));
  return g;
}

/** every cycle's files, one cycle per strongly connected component (Tarjan) */
export function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.map((f) => relative(SRC, f)).sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('src/ import structure', () => {
  const g = graph();

  it('reads the import lines it should (the parser is not blind)', () => {
    expect(g.size).toBeGreaterThan(50);
    const edges = [...g.values()].reduce((n, e) => n + e.length, 0);
    expect(edges).toBeGreaterThan(100);
    expect(importsOf('/x/a.ts', "import type { A } from './b.js';\nexport { C } from '../c/d.js';\nconst m = await import('./e.js');")).toEqual(['/x/b.ts', '/c/d.ts', '/x/e.ts']);
    expect(cycles(new Map([['/a', ['/b']], ['/b', ['/a']], ['/c', ['/a']]])).length).toBe(1);
  });

  it('every import resolves to a file under src/', () => {
    const missing = [...g.entries()].flatMap(([f, deps]) => deps.filter((d) => !g.has(d)).map((d) => `${relative(SRC, f)} → ${relative(SRC, d)}`));
    expect(missing).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(g)).toEqual([]);
  });

  it('every stage folder is in the layer table', () => {
    expect([...new Set([...g.keys()].map(stage))].filter((s) => !s.endsWith('.ts') && !rank.has(s))).toEqual([]);
  });

  it('no folder imports a folder of the same or a higher layer', () => {
    const upward: string[] = [];
    for (const [f, deps] of g) {
      const from = stage(f);
      for (const d of deps) {
        const to = stage(d);
        if (from === to || !rank.has(from) || !rank.has(to)) continue;
        if (rank.get(to)! >= rank.get(from)!) upward.push(`${relative(SRC, f)} → ${relative(SRC, d)}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
