/**
 * Releases events in capture order (order of each request's first byte) although
 * they complete in another order: a request is "opened" when its head is parsed and
 * "resolved" when its response (or the end of its flow) arrives. An event leaves when
 * every earlier request has resolved and packet time has moved `graceSec` past it
 * (a request head still arriving in pieces is opened late; the grace covers that).
 *
 * A value waits with its context beside it (no pair object per value) and is handed out with
 * its ticket's time: what waits is kept small, since on a busy capture over a thousand values
 * wait through several young-generation collections (docs/design.md#pending-events).
 */
interface Ticket<T, C = undefined> {
  sec: number;
  nsec: number;
  id: number;
  value: T | null;
  context: C | undefined;
  resolved: boolean;
}

export class OrderedEmitter<T, C = undefined> {
  private heap: Ticket<T, C>[] = [];
  private nextId = 0;

  constructor(
    /** a released value, its context and its ticket's time (the time `open` was given) */
    private readonly emit: (value: T, context: C, sec: number, nsec: number) => void,
    private readonly graceSec = 1,
  ) {}

  get pending(): number {
    return this.heap.length;
  }

  open(sec: number, nsec: number): Ticket<T, C> {
    const t: Ticket<T, C> = { sec, nsec, id: this.nextId++, value: null, context: undefined, resolved: false };
    this.push(t);
    return t;
  }

  /** value null: the request produced no event (not IMDS by the rules); it only stops blocking */
  resolve(ticket: Ticket<T, C>, value: T | null, context?: C): void {
    ticket.value = value;
    ticket.context = context;
    ticket.resolved = true;
  }

  /** release what is ready at packet time `nowSec` */
  release(nowSec: number): void {
    while (this.heap.length > 0) {
      const top = this.heap[0];
      if (!top.resolved || top.sec + this.graceSec > nowSec) return;
      this.pop();
      if (top.value !== null) this.emit(top.value, top.context as C, top.sec, top.nsec);
    }
  }

  /** end of input: release everything resolved, in order */
  drain(): void {
    while (this.heap.length > 0) {
      const top = this.pop();
      if (top.resolved && top.value !== null) this.emit(top.value, top.context as C, top.sec, top.nsec);
    }
  }

  private less(a: Ticket<T, C>, b: Ticket<T, C>): boolean {
    return a.sec !== b.sec ? a.sec < b.sec : a.nsec !== b.nsec ? a.nsec < b.nsec : a.id < b.id;
  }

  private push(t: Ticket<T, C>): void {
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

  private pop(): Ticket<T, C> {
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
