/**
 * A bounded memo of a pure function of a short text (docs/design.md#hold-read): the SYN gate
 * parses a new client's cgroup file while the client waits in connect(), and on a cold event
 * loop that JS (regular expressions over every line) cost about as much as reading the
 * process's files. One-shot clients repeat the same text (a service's or a session's
 * clients share their cgroup), so a repeated text is parsed once. Never for text that may
 * hold a secret (command lines): the keys stay in memory. Texts longer
 * than `maxText` are not kept; past `maxEntries` the oldest entry goes. `fn` must be pure and
 * its result must not be changed by callers (copy it first when it is an object they own).
 */
export class TextMemo<T> {
  private readonly map = new Map<string, T>();
  hits = 0;

  constructor(
    private readonly fn: (text: string) => T,
    private readonly maxEntries = 256,
    private readonly maxText = 4_096,
  ) {}

  get(text: string): T {
    const known = this.map.get(text);
    if (known !== undefined) {
      this.hits++;
      return known;
    }
    const v = this.fn(text);
    if (text.length <= this.maxText) {
      if (this.map.size >= this.maxEntries) this.map.delete(this.map.keys().next().value as string);
      this.map.set(text, v);
    }
    return v;
  }
}
