import { describe, expect, it } from 'vitest';
import { atLeast, compareVersions, parseVersion } from '../../../src/enrich/sdk/version.js';

describe('compareVersions', () => {
  const rows: Array<[string, string, -1 | 0 | 1 | null]> = [
    ['1.29.0', '1.13.25', 1],
    ['1.13.25', '1.13.25', 0],
    ['1.13.24', '1.13.25', -1],
    ['1.9.0', '1.13.0', -1], // numeric, not lexical
    ['1.11.678', '1.11.677', 1],
    ['1.11.1000', '1.11.678', 1],
    ['3.7.300.0', '3.3.634.1', 1],
    ['3.3.634.0', '3.3.634.1', -1],
    ['3.3.634', '3.3.634.0', 0], // missing trailing numbers count as 0
    ['2.0.0dev', '2.0.0', -1], // pre-release before release
    ['2.0.0dev', '1.99.0', 1],
    ['1.0.0.dev0', '1.0.0', -1],
    ['2.0.0rc1', '2.0.0', -1],
    ['1.2.3-beta', '1.2.3', -1],
    ['1.8.0_372', '1.8.0_371', 1], // Java's update number
    ['17.0.7+7-LTS', '17.0.7', 0], // build metadata ignored
    ['23.4.4-0ubuntu1~22.04.1', '23.4.4', 0], // packaging suffix ignored
    ['v1.2.0', '1.2.0', 0],
    ['abc', '1.0.0', null],
    ['', '1.0.0', null],
  ];
  it.each(rows)('%s vs %s → %s', (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
    if (want !== null) expect(compareVersions(b, a)).toBe(want === 0 ? 0 : -want);
  });

  it('atLeast is >= and null on garbage', () => {
    expect(atLeast('1.16.289', '1.16.289')).toBe(true);
    expect(atLeast('1.16.288', '1.16.289')).toBe(false);
    expect(atLeast('x', '1.0')).toBeNull();
  });

  it('parses the numbers and marks pre-releases', () => {
    expect(parseVersion('3.7.300.0')).toEqual({ nums: [3, 7, 300, 0], pre: false });
    expect(parseVersion('2.0.0dev')).toEqual({ nums: [2, 0, 0], pre: true });
  });
});
