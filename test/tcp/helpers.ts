import type { EndReason, StreamConsumer } from '../../src/tcp/stream.js';

/** What a consumer saw, normalised: adjacent data runs joined, adjacent gaps summed. */
export type Run = { data: string } | { gap: number };

export class Recorder implements StreamConsumer {
  runs: Run[] = [];
  ends: EndReason[] = [];
  /** calls after onEnd (must stay 0) */
  afterEnd = 0;
  times: Array<[number, number]> = [];

  onData(data: Buffer, sec: number, nsec: number): void {
    if (this.ends.length) this.afterEnd++;
    this.times.push([sec, nsec]);
    const last = this.runs[this.runs.length - 1];
    // copy: the reassembler hands over views it may reuse
    const text = Buffer.from(data).toString('latin1');
    if (last && 'data' in last) last.data += text;
    else this.runs.push({ data: text });
  }

  onGap(bytes: number): void {
    if (this.ends.length) this.afterEnd++;
    const last = this.runs[this.runs.length - 1];
    if (last && 'gap' in last) last.gap += bytes;
    else this.runs.push({ gap: bytes });
  }

  onEnd(reason: EndReason): void {
    if (this.ends.length) this.afterEnd++;
    this.ends.push(reason);
  }

  get text(): string {
    return this.runs.map((r) => ('data' in r ? r.data : `<gap ${r.gap}>`)).join('');
  }
}

/** a MemoryAccount that only adds up (held must come back to 0 once a stream ended) */
export class TestAccount {
  held = 0;
  peak = 0;
  charge(n: number): void {
    this.held += n;
    if (this.held > this.peak) this.peak = this.held;
  }
  release(n: number): void {
    this.held -= n;
  }
}
