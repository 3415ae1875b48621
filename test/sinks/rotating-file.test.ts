import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RotatingFile } from '../../src/sinks/rotating-file.js';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'imw-rot-'));
  dirs.push(d);
  return join(d, 'x.log');
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');

describe('RotatingFile batching (#14)', () => {
  it('holds lines for at most flushMs, then writes them in one batch; close() writes what is pending', async () => {
    const p = fresh();
    const f = new RotatingFile({ path: p, maxBytes: 1e6, maxFiles: 1, onError: () => undefined, flushMs: 30 });
    f.write('a\n');
    f.write('b\n');
    expect(read(p)).toBe('');
    await new Promise((r) => setTimeout(r, 80));
    expect(read(p)).toBe('a\nb\n');
    f.write('c\n');
    f.close();
    expect(read(p)).toBe('a\nb\nc\n');
    expect(f.dropped).toBe(0);
  });

  it('rotates between the lines of one batch exactly where unbatched writes would', () => {
    const p = fresh();
    const f = new RotatingFile({ path: p, maxBytes: 10, maxFiles: 2, onError: () => undefined, flushMs: 1000 });
    for (const l of ['1111\n', '2222\n', '3333\n', '4444\n', '5555\n']) f.write(l);
    f.flush();
    expect([read(`${p}.2`), read(`${p}.1`), read(p)]).toEqual(['1111\n2222\n', '3333\n4444\n', '5555\n']);
    f.close();
  });

  it('one timer serves every batch (docs/design.md#log-batch): lines after an early write, and after each timer, still go within flushMs', async () => {
    const p = fresh();
    const f = new RotatingFile({ path: p, maxBytes: 1e6, maxFiles: 1, onError: () => undefined, flushMs: 30 });
    f.write('a\n');
    f.flush();
    f.write('b\n');
    expect(read(p)).toBe('a\n');
    await new Promise((r) => setTimeout(r, 80));
    expect(read(p)).toBe('a\nb\n');
    for (const l of ['c\n', 'd\n']) {
      f.write(l);
      await new Promise((r) => setTimeout(r, 80));
    }
    expect(read(p)).toBe('a\nb\nc\nd\n');
    f.reopen();
    f.write('e\n');
    await new Promise((r) => setTimeout(r, 80));
    expect(read(p)).toBe('a\nb\nc\nd\ne\n');
    f.close();
  });

  it('counts the file in bytes, not characters, when it rotates within a batch', () => {
    const p = fresh();
    const f = new RotatingFile({ path: p, maxBytes: 12, maxFiles: 2, onError: () => undefined, flushMs: 1000 });
    // 5 bytes each: two fit in 12 bytes, three do not (15 characters would be 9)
    for (const l of ['éé\n', 'ëë\n', 'üü\n', 'öö\n']) f.write(l);
    f.flush();
    expect([read(`${p}.1`), read(p)]).toEqual(['éé\nëë\n', 'üü\nöö\n']);
    f.close();
  });

  it('flushMs 0 writes each line at once', () => {
    const p = fresh();
    const f = new RotatingFile({ path: p, maxBytes: 1e6, maxFiles: 1, onError: () => undefined, flushMs: 0 });
    f.write('now\n');
    expect(read(p)).toBe('now\n');
    f.close();
  });

  it('a batch that cannot be written counts every line as dropped, with one error', () => {
    const p = fresh();
    const errors: string[] = [];
    const f = new RotatingFile({ path: p, maxBytes: 1e6, maxFiles: 1, onError: (m) => errors.push(m), flushMs: 1000 });
    f.write('a\n');
    f.write('b\n');
    // a descriptor that is not open: the batch's write fails
    (f as unknown as { fd: number | null }).fd = 987_654;
    f.flush();
    expect(f.dropped).toBe(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/cannot write .*EBADF/);
    f.write('c\n');
    expect(f.dropped).toBe(3);
  });
});
