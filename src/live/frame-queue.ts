import type { Frame } from '../source/frame.js';

/**
 * Between the live capture and the pipeline (docs/design.md#syn-gate, "the event loop"). cap
 * reads a capture's ring in one loop until it is empty, calling back per packet; with the
 * whole pipeline in that callback, a flood that arrives as fast as it is processed keeps the
 * loop inside cap, and the SYN gate's queue — served by the same event loop — waits: root's
 * connect() took seconds under one user's flood. So the capture callback only copies the
 * frame here; the pipeline takes frames in slices of at most `sliceMs` from setImmediate, and
 * between two slices the event loop polls again: the gate's verdicts wait one slice at most.
 *
 * Each new frame is first offered to `shed` with whether the queue is near its bound — at
 * least `shedFrames` frames or `shedBytes` bytes wait (docs/design.md#unread-near-bound): the
 * live session then leaves whole connections unread whose SYN the gate shed
 * (src/live/unread-connections.ts), so the work a flood makes is cut before the queue
 * overflows and other users' calls are still read. Leaving calls unread is a loss the daemon
 * chooses: it is chosen only when the alternative is near — an overflow, which loses anyone's
 * frames — never for a backlog the pipeline works off (at 1 000 one-shot calls/s on a busy
 * machine the queue lagged by age for most of a 3-minute soak, and ~13 % of the calls were
 * left unread while the daemon used ~55 % of a core). Past `maxBytes` or `maxFrames` waiting,
 * new frames are dropped (`overflow`; the TCP stage sees their gaps, the loss check their
 * missing SYNs).
 *
 * `lagging` (at least `lagFrames` wait AND the oldest was read at least `lagMs` before the
 * newest; docs/design.md#lane-batching: a buffered block is hundreds of frames read at one
 * moment) says only that answers may still wait here: the half-closed check and the gate-rule
 * check wait for it to clear.
 *
 * The system lane's frames (docs/design.md#system-lane) wait apart and are taken first, before
 * any other frame of the slice: a flood's backlog never delays them, never crowds them out.
 */
export interface FrameQueueOptions {
  maxBytes: number;
  maxFrames: number;
  sliceMs: number;
  lagFrames: number;
  /** and the oldest waiting frame was read this long before the newest (capture clock, ms) */
  lagMs: number;
  /** from this many frames waiting the queue is near its bound: shed connections are left unread */
  shedFrames: number;
  /** or from this many bytes waiting */
  shedBytes: number;
}

/** shedFrames and shedBytes: a quarter of the bound (at 1 000 one-shot calls/s, ~8 frames each, 8 192 frames are ~1 s of traffic) */
export const DEFAULT_FRAME_QUEUE: FrameQueueOptions = {
  maxBytes: 8 * 1024 * 1024,
  maxFrames: 32_768,
  sliceMs: 2,
  lagFrames: 256,
  lagMs: 100,
  shedFrames: 8_192,
  shedBytes: 2 * 1024 * 1024,
};

export interface FrameQueueStats {
  /** frames handed to the pipeline */
  passed: number;
  /** frames of connections left unread (their SYN shed while the pipeline was near its bound) */
  shed: number;
  /** frames dropped because `maxBytes` or `maxFrames` were waiting */
  overflow: number;
  /** most frames waiting at once */
  peakFrames: number;
  /** system lane frames handed to the pipeline */
  lanePassed: number;
  /** system lane frames dropped because MAX_LANE_FRAMES waited */
  laneOverflow: number;
}

/** most system lane frames waiting (a few system services' calls; bounded all the same) */
export const MAX_LANE_FRAMES = 2048;

export class FrameQueue {
  private readonly o: FrameQueueOptions;
  private q: Array<Frame | undefined> = [];
  private lane: Frame[] = [];
  private head = 0;
  private bytes = 0;
  private scheduled = false;
  /** capture time (ms) of the newest frame pushed */
  private newestMs = 0;
  private readonly counters: FrameQueueStats = { passed: 0, shed: 0, overflow: 0, peakFrames: 0, lanePassed: 0, laneOverflow: 0 };

  constructor(
    private readonly sink: (f: Frame) => void,
    /** true: leave this frame unread (its whole connection is: src/live/unread-connections.ts); `nearBound`: see `nearBound` */
    private readonly shed: (f: Frame, nearBound: boolean) => boolean = () => false,
    o: Partial<FrameQueueOptions> = {},
    /** where the system lane's frames go (default: the same sink) */
    private readonly laneSink: (f: Frame) => void = sink,
  ) {
    this.o = { ...DEFAULT_FRAME_QUEUE, ...o };
  }

  /** the capture's sink: keep and schedule (the frame owns its bytes: LiveCapture copies each packet once, docs/design.md#capture-copy) */
  push(f: Frame): void {
    const len = f.data.length;
    this.newestMs = f.sec * 1000 + f.nsec / 1e6;
    // near the bound: the frames of shed connections never take a place (root's frames would
    // be the ones dropped at maxFrames otherwise)
    if (this.shed(f, this.nearBound)) {
      this.counters.shed++;
      return;
    }
    if (this.bytes + len > this.o.maxBytes || this.q.length - this.head >= this.o.maxFrames) {
      this.counters.overflow++;
      return;
    }
    this.q.push(f);
    this.bytes += len;
    const waiting = this.q.length - this.head;
    if (waiting > this.counters.peakFrames) this.counters.peakFrames = waiting;
    this.schedule();
  }

  /** the system lane capture's sink: waits apart, taken first */
  pushLane(f: Frame): void {
    if (this.lane.length >= MAX_LANE_FRAMES) {
      this.counters.laneOverflow++;
      return;
    }
    this.lane.push(f);
    this.schedule();
  }

  private schedule(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  /** hand every waiting frame to the pipeline now (stop) */
  drain(): void {
    this.take(Infinity);
  }

  get waiting(): number {
    return this.q.length - this.head;
  }

  /** at least `lagFrames` wait, the oldest read `lagMs` before the newest: the pipeline is behind (answers may still wait here) */
  get lagging(): boolean {
    if (this.q.length - this.head < this.o.lagFrames) return false;
    const head = this.q[this.head];
    return head === undefined || this.newestMs - (head.sec * 1000 + head.nsec / 1e6) >= this.o.lagMs;
  }

  /** at least `shedFrames` frames or `shedBytes` bytes wait: an overflow is near (the shed rule is on) */
  get nearBound(): boolean {
    return this.q.length - this.head >= this.o.shedFrames || this.bytes >= this.o.shedBytes;
  }

  stats(): FrameQueueStats {
    return { ...this.counters };
  }

  private readonly run = (): void => {
    this.scheduled = false;
    this.take(performance.now() + this.o.sliceMs);
    if ((this.head < this.q.length || this.lane.length > 0) && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  };

  private take(deadline: number): void {
    if (this.lane.length > 0) {
      const lane = this.lane;
      this.lane = [];
      for (const f of lane) {
        this.counters.lanePassed++;
        this.laneSink(f);
      }
    }
    let n = 0;
    while (this.head < this.q.length) {
      const f = this.q[this.head]!;
      this.q[this.head++] = undefined;
      this.bytes -= f.data.length;
      this.counters.passed++;
      this.sink(f);
      if ((++n & 15) === 0 && performance.now() > deadline) break;
    }
    if (this.head === this.q.length) {
      this.q = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.q.length) {
      this.q = this.q.slice(this.head);
      this.head = 0;
    }
  }
}
