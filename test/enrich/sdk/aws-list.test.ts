import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIN_V2 } from '../../../src/enrich/sdk/min-v2-versions.js';
import { fillMins } from '../../../src/enrich/sdk/fix.js';
import { REPO_ROOT } from '../../support/repo-root.js';

/**
 * AWS's list of the minimum SDK versions with IMDSv2 support, as copied in
 * docs/imds-facts.md#sdk-minimum-versions, and the rows of src/enrich/sdk/min-v2-versions.ts
 * that say they are on it (`awsList`): the same products and the same versions, both ways.
 * A row whose own minimum differs from AWS's says so in `awsListed` (with its evidence).
 */
function awsListInDocs(): Map<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'docs', 'imds-facts.md'), 'utf8');
  const section = text.split(/^## /m).find((s) => s.startsWith('SDK minimum versions'));
  if (!section) throw new Error('docs/imds-facts.md has no "## SDK minimum versions" section');
  const lines = section.split('\n');
  const head = lines.findIndex((l) => /^\|\s*Product\s*\|\s*Minimum version\s*\|/.test(l));
  if (head < 0) throw new Error('no "| Product | Minimum version |" table in that section');
  const out = new Map<string, string>();
  for (const l of lines.slice(head + 2)) {
    if (!l.startsWith('|')) break;
    const m = /^\|\s*(.+?)\s*\|\s*\*\*([^*]+)\*\*\s*\|\s*$/.exec(l);
    if (!m) throw new Error(`cannot read the row ${JSON.stringify(l)}`);
    out.set(m[1], m[2]);
  }
  return out;
}

describe('the SDK table and AWS list in docs/imds-facts.md', () => {
  const docs = awsListInDocs();
  const rows = Object.values(MIN_V2).filter((r) => r.awsList !== undefined);

  it('reads a list of the expected size', () => {
    expect(docs.size).toBeGreaterThanOrEqual(14);
  });

  it('every product AWS lists has a row with the same version', () => {
    for (const [name, version] of docs) {
      const row = rows.find((r) => r.awsList === name);
      expect(row, `no row of min-v2-versions.ts has awsList "${name}"`).toBeDefined();
      expect(row!.awsListed ?? row!.minV2Version, `${row!.product}: AWS lists ${version}`).toBe(version);
    }
  });

  it('every row that claims the list is on it', () => {
    for (const r of rows) expect(docs.has(r.awsList!), `${r.product}: "${r.awsList}" is not in docs/imds-facts.md`).toBe(true);
  });

  it("a row that differs from AWS's value gives another basis than AWS's list", () => {
    for (const r of rows.filter((x) => x.awsListed !== undefined && x.awsListed !== x.minV2Version)) {
      expect(r.source, r.product).not.toBe('aws-docs');
      expect(r.basis.some((b) => b !== 'aws-docs'), r.product).toBe(true);
    }
  });

  it("a row with AWS's value as its source is on the list, or AWS says all its releases support IMDSv2", () => {
    for (const r of Object.values(MIN_V2).filter((x) => x.source === 'aws-docs')) {
      expect(r.awsList !== undefined || r.allVersions === true, r.product).toBe(true);
    }
  });
});

describe('advice data on the rows', () => {
  it('every {min:PRODUCT} in fixed text names a row with a minimum', () => {
    for (const r of Object.values(MIN_V2)) {
      for (const text of [r.scriptFix, r.tokenlessEntryPoint?.fix, r.remark]) {
        if (text === undefined) continue;
        expect(fillMins(text), r.product).not.toMatch(/\{min:/);
      }
    }
  });

  it('decidedBy and upgradeTo name rows of the table', () => {
    for (const r of Object.values(MIN_V2)) {
      if (r.decidedBy) expect(MIN_V2[r.decidedBy], `${r.product}.decidedBy`).toBeDefined();
      const u = r.upgradeTo;
      if (!u) continue;
      for (const id of [u.minOf, u.alongside?.minOf].filter((x): x is string => x !== undefined)) {
        expect(MIN_V2[id]?.minV2Version, `${r.product}.upgradeTo names ${id}`).toBeTruthy();
      }
    }
  });

  it('only generic HTTP clients carry a script fix', () => {
    for (const r of Object.values(MIN_V2)) if (r.scriptFix) expect(r.kind, r.product).toBe('http-client');
  });
});

describe('fix.ts names no product', () => {
  it('reads product words from the table only', () => {
    const code = readFileSync(join(REPO_ROOT, 'src', 'enrich', 'sdk', 'fix.ts'), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    // 'unknown' is the row of an unrecognised User-Agent, not a product
    for (const id of Object.keys(MIN_V2).filter((x) => x !== 'unknown')) {
      expect(code.includes(`'${id}'`) || code.includes(`"${id}"`) || code.includes(`.${id.replace(/-/g, '_')}`), id).toBe(false);
    }
  });
});
