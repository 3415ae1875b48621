/**
 * Live: each client's events in the order its requests began (docs/design.md#live-session).
 *
 * The live pipeline emits an event as its exchange completes, but the v1 reasons
 * (src/enrich/reason/v1-reasons.ts) follow each client's calls in capture order: a token PUT
 * left unanswered (hop limit) ends only when its connection does, after the v1 fallback
 * calls on new connections have completed; in completion order those calls were explained
 * as `no-token-attempt`, in replay as `token-put-unanswered`. So a client's event waits
 * while an earlier request of the same client is still open, at most `maxHoldSec` of packet
 * time; other clients' events are never held. A client is an address and User-Agent (the
 * caller's key; the tracker's own keys): every local program shares the host's address, and
 * one program's unanswered request or flood must not hold the others'. A request still open
 * past the hold stops blocking (counted in `released`); its event, when it comes, leaves at
 * once. Reasons depend only on a client's own calls, so this order gives replay's reasons —
 * except for the JavaScript SDK v2, whose token PUT has no User-Agent and whose fallback v1
 * calls do (the tracker joins them by address): those keep completion order.
 */
export interface Slot<T> {
  readonly client: string;
  readonly sec: number;
  value: T | null;
  resolved: boolean;
  /** no longer blocks later events (released by the hold limit, or emitted) */
  gone: boolean;
}

export interface ClientOrderStats {
  /** events that waited for an earlier request of their client */
  held: number;
  /** open requests that stopped blocking their client after maxHoldSec */
  released: number;
}

export class ClientOrder<T> {
  private readonly queues = new Map<string, Array<Slot<T>>>();
  private readonly counters: ClientOrderStats = { held: 0, released: 0 };

  constructor(
    private readonly emit: (value: T) => void,
    private readonly maxHoldSec = 5,
  ) {}

  /** a request of `client` (address and User-Agent) began at packet time `sec` */
  open(client: string, sec: number): Slot<T> {
    const slot: Slot<T> = { client, sec, value: null, resolved: false, gone: false };
    let q = this.queues.get(client);
    if (!q) this.queues.set(client, (q = []));
    q.push(slot);
    return slot;
  }

  /** the request's exchange completed (value null: it made no event) */
  resolve(slot: Slot<T>, value: T | null): void {
    slot.value = value;
    slot.resolved = true;
    if (slot.gone) {
      // released by the hold limit: nothing waits for it any more
      if (value !== null) this.emit(value);
      return;
    }
    const q = this.queues.get(slot.client);
    if (q && q[0] !== slot && value !== null) this.counters.held++;
    this.flush(slot.client);
  }

  /** packet time moved on: open requests older than the hold stop blocking */
  tick(nowSec: number): void {
    for (const [client, q] of this.queues) {
      let changed = false;
      for (const s of q) {
        if (s.resolved || s.sec + this.maxHoldSec > nowSec) break;
        s.gone = true;
        this.counters.released++;
        changed = true;
      }
      if (changed) this.flush(client);
    }
  }

  /** end of input: everything resolved leaves, in order */
  finish(): void {
    for (const q of this.queues.values()) {
      for (const s of q) {
        s.gone = true;
        if (s.resolved && s.value !== null) this.emit(s.value);
      }
    }
    this.queues.clear();
  }

  stats(): ClientOrderStats {
    return { ...this.counters };
  }

  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private flush(client: string): void {
    const q = this.queues.get(client);
    if (!q) return;
    let i = 0;
    for (; i < q.length; i++) {
      const s = q[i]!;
      if (s.gone) continue;
      if (!s.resolved) break;
      s.gone = true;
      if (s.value !== null) this.emit(s.value);
    }
    if (i > 0) q.splice(0, i);
    if (q.length === 0) this.queues.delete(client);
  }
}
