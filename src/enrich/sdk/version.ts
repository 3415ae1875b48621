/**
 * Version strings as SDKs and tools print them: `1.29.0`, `2.0.0dev`, `1.0.0.dev0`,
 * `1.11.678`, `3.7.300.0`, `1.8.0_372`, `17.0.7+7-LTS`, `23.4.4-0ubuntu1~22.04.1`.
 *
 * A version is its leading run of numbers (separated by `.` or `_`) plus a suffix.
 * Numbers compare numerically, missing trailing numbers count as 0 (`1.2` == `1.2.0`).
 * When the numbers are equal, a pre-release suffix (`dev`, `rc1`, `-alpha`, `.dev0`,
 * `b2`) sorts before the release; build metadata (`+7-LTS`) and packaging suffixes that
 * start with a digit or `-<digit>` (`-0ubuntu1`) are ignored.
 */
export interface ParsedVersion {
  nums: number[];
  /** true when the suffix marks a pre-release */
  pre: boolean;
}

const LEAD = /^v?(\d{1,12}(?:[._]\d{1,12})*)(.*)$/;
const PRE = /^[.-]?(?:dev|alpha|beta|pre|preview|rc|a|b|snapshot)/i;

/** null when the string does not start with a number (optionally after `v`). */
export function parseVersion(text: string): ParsedVersion | null {
  const m = LEAD.exec(text.trim());
  if (!m) return null;
  const nums = m[1].split(/[._]/).map(Number);
  const rest = m[2];
  return { nums, pre: PRE.test(rest) };
}

/** -1, 0 or 1; null when either side does not parse. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 | null {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) return null;
  const n = Math.max(pa.nums.length, pb.nums.length);
  for (let i = 0; i < n; i++) {
    const x = pa.nums[i] ?? 0;
    const y = pb.nums[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  if (pa.pre !== pb.pre) return pa.pre ? -1 : 1;
  return 0;
}

/** true when `version` >= `min`; null when either does not parse. */
export function atLeast(version: string, min: string): boolean | null {
  const c = compareVersions(version, min);
  return c === null ? null : c >= 0;
}
