/**
 * Counterexamples found by the fuzzer, saved as JSON under test/fuzz/regressions/ and
 * replayed by test/fuzz/regressions.test.ts (each file: the property name and the value
 * its `check` failed on; bytes as {"$bytes": base64}).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REGRESSION_DIR = path.resolve(here, '../../test/fuzz/regressions');

export function encodeValue(v) {
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return v.map(encodeValue);
  if (v === undefined) return { $undefined: true };
  if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeValue(x)]));
  return v;
}

export function decodeValue(v) {
  if (Array.isArray(v)) return v.map(decodeValue);
  if (v && typeof v === 'object') {
    if (typeof v.$bytes === 'string') return new Uint8Array(Buffer.from(v.$bytes, 'base64'));
    if (v.$undefined === true) return undefined;
    if (typeof v.$number === 'string') return Number(v.$number);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decodeValue(x)]));
  }
  return v;
}

/** Save a counterexample; returns the file written (the same value twice gives the same file). */
export function saveRegression({ property, value, error, seed, path: fcPath, dir = REGRESSION_DIR }) {
  fs.mkdirSync(dir, { recursive: true });
  const encoded = encodeValue(value);
  const body = JSON.stringify(encoded);
  const id = createHash('sha256').update(property + body).digest('hex').slice(0, 12);
  const file = path.join(dir, `${property}-${id}.json`);
  const record = { property, found: new Date().toISOString(), seed, path: fcPath, error: String(error ?? '').split('\n')[0].slice(0, 300), value: encoded };
  fs.writeFileSync(file, JSON.stringify(record, null, 2) + '\n');
  return file;
}

/** Every saved regression: [{file, property, value}]. */
export function loadRegressions(dir = REGRESSION_DIR) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
      return { file: f, property: r.property, value: decodeValue(r.value) };
    });
}
