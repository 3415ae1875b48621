/**
 * Every counterexample the fuzzer ever saved (test/fuzz/regressions/*.json, written by
 * `npm run fuzz`) and the hand-written hard cases beside them, replayed through the
 * property that found them.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
// @ts-expect-error plain ESM module shared with the long runner, no type declarations
import { makeProperties } from '../../bench/lib/fuzz-properties.mjs';
// @ts-expect-error plain ESM module shared with the long runner, no type declarations
import { decodeValue, encodeValue, loadRegressions } from '../../bench/lib/regressions.mjs';
import { srcModules } from './modules.js';

interface Property {
  name: string;
  check: (v: unknown) => void;
}
const props = new Map((makeProperties(srcModules, fc) as Property[]).map((p) => [p.name, p]));
const cases = loadRegressions() as Array<{ file: string; property: string; value: unknown }>;

describe('fuzz regressions', () => {
  it('there are saved cases and each names a known property', () => {
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) expect(props.has(c.property), c.file).toBe(true);
  });

  for (const c of cases) {
    it(c.file, () => {
      props.get(c.property)!.check(c.value);
    });
  }

  it('values survive the JSON encoding bytes-exact', () => {
    const v = { a: new Uint8Array([0, 255, 7]), b: [1, null, 'x'], c: undefined, d: -0.5 };
    expect(decodeValue(JSON.parse(JSON.stringify(encodeValue(v))))).toEqual(v);
  });
});
