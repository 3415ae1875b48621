import { describe, expect, it } from 'vitest';
import { OrderedEmitter } from '../../src/imds/ordered-emitter.js';

describe('OrderedEmitter', () => {
  it('releases in first-byte order although resolved out of order', () => {
    const out: string[] = [];
    const em = new OrderedEmitter<string>((v) => out.push(v), 1);
    const a = em.open(10, 5);
    const b = em.open(10, 1);
    const c = em.open(11, 0);
    em.resolve(c, 'c');
    em.resolve(a, 'a');
    em.release(100);
    expect(out).toEqual([]); // b (earliest) still open
    em.resolve(b, 'b');
    em.release(100);
    expect(out).toEqual(['b', 'a', 'c']);
    expect(em.pending).toBe(0);
  });

  it('holds resolved events for the grace period of packet time', () => {
    const out: string[] = [];
    const em = new OrderedEmitter<string>((v) => out.push(v), 2);
    em.resolve(em.open(10, 0), 'x');
    em.release(11);
    expect(out).toEqual([]);
    em.release(12);
    expect(out).toEqual(['x']);
  });

  it('drops tickets resolved with null, drains the rest at the end', () => {
    const out: string[] = [];
    const em = new OrderedEmitter<string>((v) => out.push(v));
    em.resolve(em.open(1, 0), null);
    const open = em.open(2, 0);
    em.resolve(em.open(3, 0), 'z');
    em.drain();
    expect(out).toEqual(['z']);
    expect(em.pending).toBe(0);
    void open;
  });

  it('keeps order over many random tickets', () => {
    const out: number[] = [];
    const em = new OrderedEmitter<number>((v) => out.push(v), 0);
    const tickets = Array.from({ length: 500 }, (_, i) => ({ t: em.open(Math.floor(i / 7), (i * 7919) % 1000), i }));
    for (const { t } of [...tickets].sort(() => Math.random() - 0.5)) em.resolve(t, t.sec * 1e9 + t.nsec);
    em.drain();
    expect(out).toHaveLength(500);
    expect([...out].sort((a, b) => a - b)).toEqual(out);
  });
});
