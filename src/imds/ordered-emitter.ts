/**
 * Releases events in capture order (order of each request's first byte) although
 * they complete in another order: a request is "opened" when its head is parsed and
 * "resolved" when its response (or the end of its flow) arrives. An event leaves when
 * every earlier request has resolved and packet time has moved `graceSec` past it
 * (a request head still arriving in pieces is opened late; the grace covers that).
 */
interface Ticket<T> {
  sec: number;
  nsec: number;
  id: number;
  value: T | null;
  resolved: boolean;
}

export class OrderedEmitter<T> {
  private heap: Ticket<T>[] = [];
  private nextId = 0;

  constructor(
    private readonly emit: (value: T) => void,
    private readonly graceSec = 1,
  ) {}

  get pending(): number {
    return this.heap.length;
  }

  open(sec: number, nsec: number): Ticket<T> {
    const t: Ticket<T> = { sec, nsec, id: this.nextId++, value: null, resolved: false };
    this.push(t);
    return t;
  }

  /** value null: the request produced no event (not IMDS by the rules); it only stops blocking */
  resolve(ticket: Ticket<T>, value: T | null): void {
    ticket.value = value;
    ticket.resolved = true;
  }

  /** release what is ready at packet time `nowSec` */
  release(nowSec: number): void {
    while (this.heap.length > 0) {
      const top = this.heap[0];
      if (!top.resolved || top.sec + this.graceSec > nowSec) return;
      this.pop();
      if (top.value !== null) this.emit(top.value);
    }
  }

  /** end of input: release everything resolved, in order */
  drain(): void {
    while (this.heap.length > 0) {
      const top = this.pop();
      if (top.resolved && top.value !== null) this.emit(top.value);
    }
  }

  private less(a: Ticket<T>, b: Ticket<T>): boolean {
    return a.sec !== b.sec ? a.sec < b.sec : a.nsec !== b.nsec ? a.nsec < b.nsec : a.id < b.id;
  }

  private push(t: Ticket<T>): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      const t = h[i];
      h[i] = h[p];
      h[p] = t;
      i = p;
    }
  }

  private pop(): Ticket<T> {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        const t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
      }
    }
    return top;
  }
}

export type { Ticket };
