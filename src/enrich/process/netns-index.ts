import { listPids, nsInodeOfLink, readLink } from './proc-fs.js';
import { waitingFirst } from './waiting-first.js';

/**
 * Which network namespaces exist, with a pid living in each (docs/design.md#attribution).
 * A socket row in another namespace is looked up through one of its processes, so a SYN
 * from a namespace that had no process when the list was last read (a container whose
 * entrypoint calls IMDS as its first command, `ip netns exec NS curl`) must never wait for a
 * periodic refresh: on a miss, `discover` reads the namespace of every pid not read before,
 * newest and waiting first (waiting-first.ts), trying each new namespace at once, then reads
 * the known pids again (a pid may have entered another namespace since: setns() in
 * `ip netns exec` or a runtime's init). The answer is found as soon as its namespace is read.
 *
 * `sweep` re-reads everything outside any hold (the correlator's catchUp) and drops dead
 * namespaces, so the list does not keep their sock_diag sockets (and so the namespaces) alive.
 */
export type NetnsTry = (netns: number, pid: number) => boolean;

export class NetnsIndex {
  /** pid → its network namespace as last read */
  private readonly nsOf = new Map<number, number>();
  /** namespace → a pid seen in it; iteration order: least recently useful first */
  private readonly reps = new Map<number, number>();
  private sweptAt = -Infinity;

  constructor(
    private readonly procRoot: string,
    /** the daemon's own namespace (searched by its caller first, never listed here) */
    readonly own: number | null,
    private readonly maxPids = 65_536,
  ) {}

  /** the known namespaces but the daemon's own, most recently useful first */
  known(): Array<[netns: number, pid: number]> {
    const out: Array<[number, number]> = [];
    for (const e of this.reps) if (e[0] !== this.own) out.push(e);
    return out.reverse();
  }

  /** every namespace known (for sock_diag's retainNetns) */
  namespaces(): Set<number> {
    return new Set(this.reps.keys());
  }

  /** a row was found in `netns`: try it first next time */
  hit(netns: number): void {
    const pid = this.reps.get(netns);
    if (pid === undefined) return;
    this.reps.delete(netns);
    this.reps.set(netns, pid);
  }

  /**
   * Read namespaces not known (or not known to be current) and call `tryNs` for each one not
   * in `tried` (which it extends), until it answers true or `deadline` passes. Returns true
   * on a find, 'budget' when time ran out, false when every pid was read.
   */
  discover(tried: Set<number>, tryNs: NetnsTry, deadline: number): boolean | 'budget' {
    const all = listPids(this.procRoot);
    const fresh: number[] = [];
    const seen: number[] = [];
    for (const pid of all) (this.nsOf.has(pid) ? seen : fresh).push(pid);
    for (const list of [waitingFirst(this.procRoot, fresh), seen]) {
      for (const pid of list) {
        if (performance.now() > deadline) return 'budget';
        const ns = this.read(pid);
        if (ns === null || ns === this.own || tried.has(ns)) continue;
        tried.add(ns);
        if (tryNs(ns, pid)) return true;
      }
    }
    if (this.nsOf.size > all.length * 2) this.forget(new Set(all));
    return false;
  }

  /** re-read every pid's namespace (outside holds); returns the pids alive */
  refresh(): Set<number> {
    this.sweptAt = performance.now();
    const alive = new Set<number>();
    for (const pid of listPids(this.procRoot)) {
      alive.add(pid);
      this.read(pid);
    }
    this.forget(alive);
    return alive;
  }

  /** a refresh is due (catchUp does it outside any hold) */
  sweepDue(everyMs: number): boolean {
    return performance.now() - this.sweptAt > everyMs;
  }

  private read(pid: number): number | null {
    const ns = nsInodeOfLink(readLink(`${this.procRoot}/${pid}/ns/net`));
    if (ns === null) {
      this.nsOf.delete(pid);
      return null;
    }
    if (!this.nsOf.has(pid) && this.nsOf.size >= this.maxPids) this.nsOf.delete(this.nsOf.keys().next().value as number);
    this.nsOf.set(pid, ns);
    // the freshest pid seen in a namespace represents it (the order of the list is kept)
    this.reps.set(ns, pid);
    return ns;
  }

  /** drop pids not alive, and namespaces no live pid is in */
  private forget(alive: ReadonlySet<number>): void {
    for (const pid of this.nsOf.keys()) if (!alive.has(pid)) this.nsOf.delete(pid);
    const liveRep = new Map<number, number>();
    for (const [pid, ns] of this.nsOf) if (!liveRep.has(ns)) liveRep.set(ns, pid);
    for (const [ns, pid] of this.reps) {
      const p = liveRep.get(ns);
      if (p === undefined) this.reps.delete(ns);
      else if (!alive.has(pid)) this.reps.set(ns, p);
    }
  }
}
