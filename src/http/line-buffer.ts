import { UNCOUNTED, type MemoryAccount } from '../tcp/memory-budget.js';

/**
 * The unfinished line of a parser: one growable copy (not a list of pieces, so a line fed
 * one byte at a time costs its length, not an object per byte). It never grows past what
 * the line limit allows (`maxBytes` + 1 for the LF): the parser checks the limit first.
 * Its capacity is charged to the flow's memory account while held.
 */
export class LineBuffer {
  private buf: Buffer | null = null;
  /** bytes held */
  length = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly memory: MemoryAccount = UNCOUNTED,
  ) {}

  append(data: Buffer, from: number, to: number): void {
    const need = this.length + (to - from);
    let buf = this.buf;
    if (buf === null || buf.length < need) {
      // grow by doubling, never past what the line limit allows (+1 for its LF)
      const cap = Math.min(Math.max(256, need, buf === null ? 0 : buf.length * 2), Math.max(need, this.maxBytes + 1));
      const grown = Buffer.allocUnsafeSlow(cap);
      if (buf !== null) buf.copy(grown, 0, 0, this.length);
      this.memory.charge(cap - (buf === null ? 0 : buf.length));
      this.buf = buf = grown;
    }
    data.copy(buf, this.length, from, to);
    this.length = need;
  }

  /** the line held (a view valid until the next append) and forget it */
  take(): Buffer {
    const line = this.buf!.subarray(0, this.length);
    this.memory.release(this.buf!.length);
    this.buf = null;
    this.length = 0;
    return line;
  }

  /** the first `n` bytes held (fewer when fewer are held), as latin1 text */
  peek(n: number): string {
    return this.buf === null ? '' : this.buf.toString('latin1', 0, Math.min(n, this.length));
  }

  /** forget the line; how many bytes it held */
  clear(): number {
    const n = this.length;
    if (this.buf !== null) this.memory.release(this.buf.length);
    this.buf = null;
    this.length = 0;
    return n;
  }
}
