/**
 * Keys of recently closed flows with their close time, so late ACK/FIN/RST or
 * retransmissions of a closed connection do not start a new flow. Bounded: a ring of
 * `capacity` entries, the oldest forgotten first; no iteration over a Map.
 */
export class Tombstones {
  private readonly keys: Array<string | undefined>;
  private readonly secs: Float64Array;
  private readonly index = new Map<string, number>();
  private head = 0;
  private count = 0;

  constructor(private readonly capacity: number) {
    this.keys = new Array<string | undefined>(capacity);
    this.secs = new Float64Array(capacity);
  }

  get size(): number {
    return this.index.size;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  add(key: string, sec: number): void {
    this.delete(key);
    if (this.count === this.capacity) this.dropOldest();
    const slot = (this.head + this.count) % this.capacity;
    this.keys[slot] = key;
    this.secs[slot] = sec;
    this.index.set(key, slot);
    this.count++;
  }

  delete(key: string): void {
    const slot = this.index.get(key);
    if (slot === undefined) return;
    this.keys[slot] = undefined;
    this.index.delete(key);
  }

  /** forget entries closed before `sec` */
  expire(sec: number): void {
    while (this.count > 0 && (this.keys[this.head] === undefined || this.secs[this.head] < sec)) this.dropOldest();
  }

  clear(): void {
    this.index.clear();
    this.keys.fill(undefined);
    this.head = 0;
    this.count = 0;
  }

  private dropOldest(): void {
    const key = this.keys[this.head];
    if (key !== undefined) {
      this.index.delete(key);
      this.keys[this.head] = undefined;
    }
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }
}
