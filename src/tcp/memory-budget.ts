/**
 * One byte budget over every flow (docs/design.md#bounds): what the chain holds for a flow
 * while it waits for more bytes — out-of-order segments in the reassembler, the unfinished
 * line and the stored header lines of an HTTP head, parsed requests waiting for their
 * response, and the fixed cost of a flow's two HTTP parsers — is charged to the flow's
 * account. When the total passes the budget, the flow table ends the least recently active
 * flows that hold anything ('evicted', counted in `evictedFlows` and `budgetEvictedFlows`)
 * until it fits again. Per-flow limits alone multiply by the number of flows
 * (16 384 × 8 KiB of head = 128 MiB); the budget bounds the sum.
 *
 * Charges are estimates of heap held (bytes plus a fixed cost per object), not exact: the
 * constants below were measured with heap snapshots (docs/design.md#bounds).
 */

/** what a stage charges for what it holds of one flow */
export interface MemoryAccount {
  charge(bytes: number): void;
  release(bytes: number): void;
}

/** an account that holds nothing (a stage used on its own, in tests and tools) */
export const UNCOUNTED: MemoryAccount = {
  charge() {},
  release() {},
};

/** heap of one out-of-order piece beyond its bytes (Piece object, Buffer and ArrayBuffer) */
export const PIECE_COST = 160;
/** heap of one stored header line beyond its characters (two strings, a [name, value] pair) */
export const HEADER_COST = 112;
/** heap of one parsed message beyond its header lines (message object, start-line strings) */
export const MESSAGE_COST = 256;
/** heap of a flow's HTTP exchange: two parsers, their line buffers, pairing state, closures */
export const EXCHANGE_COST = 2560;

/**
 * One flow's account, linked into the budget's list while it holds anything. The flow
 * table's flows extend it (no extra object per flow: a SYN flood's flows stay small).
 */
export class FlowAccount implements MemoryAccount {
  held = 0;
  /** budget list in order of last activity (older first) */
  budgetPrev: FlowAccount | null = null;
  budgetNext: FlowAccount | null = null;
  linked = false;

  constructor(private readonly budget: MemoryBudget) {}

  charge(bytes: number): void {
    if (bytes <= 0) return;
    this.held += bytes;
    this.budget.held += bytes;
    if (this.budget.held > this.budget.peak) this.budget.peak = this.budget.held;
    if (!this.linked) this.budget.link(this);
  }

  release(bytes: number): void {
    if (bytes <= 0) return;
    this.held -= bytes;
    this.budget.held -= bytes;
    if (this.held <= 0 && this.linked) this.budget.unlink(this);
  }
}

/** the budget: a total and the accounts that hold something, least recently active first */
export class MemoryBudget {
  /** bytes charged over all accounts right now */
  held = 0;
  /** most bytes charged at once */
  peak = 0;
  private head: FlowAccount | null = null;
  private tail: FlowAccount | null = null;

  constructor(
    readonly maxBytes: number,
    /** ends the account's flow (the flow table's eviction); must release everything charged */
    private readonly evict: (a: FlowAccount) => void,
  ) {}

  /** the account's flow was active: it becomes the last to be evicted */
  touch(a: FlowAccount): void {
    if (!a.linked || this.tail === a) return;
    this.unlink(a);
    this.link(a);
  }

  /**
   * Over the budget: evict the least recently active accounts until the total fits.
   * Returns how many were evicted and the bytes they held.
   */
  enforce(): { flows: number; bytes: number } {
    let flows = 0;
    let bytes = 0;
    while (this.held > this.maxBytes && this.head !== null) {
      const a = this.head;
      const before = a.held;
      this.evict(a);
      flows++;
      bytes += before;
      // an eviction must release everything; never loop on an account that did not
      if (a.linked) {
        this.held -= a.held;
        a.held = 0;
        this.unlink(a);
      }
    }
    return { flows, bytes };
  }

  link(a: FlowAccount): void {
    a.linked = true;
    a.budgetPrev = this.tail;
    a.budgetNext = null;
    if (this.tail !== null) this.tail.budgetNext = a;
    else this.head = a;
    this.tail = a;
  }

  unlink(a: FlowAccount): void {
    if (a.budgetPrev !== null) a.budgetPrev.budgetNext = a.budgetNext;
    else this.head = a.budgetNext;
    if (a.budgetNext !== null) a.budgetNext.budgetPrev = a.budgetPrev;
    else this.tail = a.budgetPrev;
    a.budgetPrev = a.budgetNext = null;
    a.linked = false;
  }
}
