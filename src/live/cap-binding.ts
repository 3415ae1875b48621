import { createRequire } from 'node:module';

/**
 * Typed access to the `cap` libpcap binding (CommonJS, native). cap 0.2.x opens a device with
 * snaplen 65535, promiscuous mode, immediate mode (where libpcap has it) and non-blocking
 * reads; per packet it copies the bytes into the caller's buffer and emits
 * ('packet', nbytes, truncated). It gives no packet timestamp and no pcap_stats.
 */
export interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  on(event: 'packet', cb: (nbytes: number, truncated: boolean) => void): this;
  removeAllListeners(event?: string): this;
}

interface CapModule {
  Cap: new () => CapHandle;
}

let cached: CapModule | null | undefined;
let loadError = '';

/** the binding, or null (with the reason in `capLoadError()`) when it cannot be loaded */
export function loadCap(): CapModule | null {
  if (cached !== undefined) return cached;
  try {
    cached = createRequire(import.meta.url)('cap') as CapModule;
  } catch (err) {
    loadError = (err as Error).message.split('\n')[0] ?? 'cannot load cap';
    cached = null;
  }
  return cached;
}

export function capLoadError(): string {
  return loadError;
}

/**
 * cap 0.2.x initializes its libuv poll handle only at the end of a successful open(), but
 * close() (which its destructor also runs when the object is garbage-collected) stops that
 * handle whenever a pcap handle exists, and a failed open() leaves one: a Cap whose open()
 * threw crashes the process with SIGSEGV when collected or closed (measured: a non-root scan
 * without CAP_NET_RAW died with SIGSEGV in about half of the runs instead of exiting 2).
 * Such handles are kept referenced here and never closed. A successfully opened Cap is kept
 * too: its close() only uv_poll_stop()s the poll handle and never uv_close()s it, so once the
 * object is collected the loop's handle queue points into freed memory (the daemon died with
 * SIGSEGV at shutdown about one run in three under test load). Opens happen only at start
 * (one per interface plus the gate's queue), so this holds a few small objects at most.
 */
const retained: CapHandle[] = [];

/**
 * cap.open(); the Cap object is kept alive for the life of the process (see retained).
 * `batch`: most reads per event-loop turn (cap as patched at install, native/cap-snaplen:
 * IMDSWATCH_CAP_BATCH is read at open); 0 reads until the device is empty. The gate's queues
 * and the captures share one event loop: bounded reads give each device its turn, so a
 * flood's queue cannot hold the system lane's SYN for a whole drain (docs/design.md#system-lane).
 * `bufferMs`: 0 opens in immediate mode (each packet wakes the event loop); N > 0 opens a
 * packet socket buffered (TPACKET_V3: the kernel hands over a block of packets when it is
 * full or N ms after it opened: one wake-up for all of them; cap as patched at install reads
 * IMDSWATCH_CAP_TIMEOUT_MS). NFQUEUE and NFLOG devices are netlink sockets, no ring: on an NFLOG
 * device (`nflog:G`), N > 0 sets the kernel's flush timeout of the group's instance to N ms
 * (IMDSWATCH_CAP_NFLOG_FLUSH_MS; docs/design.md#lane-batching): one read for up to N ms of packets
 * instead of one per packet. No effect on an NFQUEUE device.
 */
export function openCap(cap: CapHandle, device: string, filter: string, bufSize: number, buffer: Buffer, batch = 0, snaplen?: number, bufferMs = 0): string {
  retained.push(cap);
  const savedSnaplen = process.env.IMDSWATCH_CAP_SNAPLEN;
  process.env.IMDSWATCH_CAP_BATCH = String(batch);
  process.env.IMDSWATCH_CAP_TIMEOUT_MS = String(bufferMs);
  process.env.IMDSWATCH_CAP_NFLOG_FLUSH_MS = String(bufferMs);
  if (snaplen !== undefined) process.env.IMDSWATCH_CAP_SNAPLEN = String(snaplen);
  try {
    return cap.open(device, filter, bufSize, buffer);
  } finally {
    delete process.env.IMDSWATCH_CAP_BATCH;
    delete process.env.IMDSWATCH_CAP_TIMEOUT_MS;
    delete process.env.IMDSWATCH_CAP_NFLOG_FLUSH_MS;
    if (snaplen !== undefined) {
      if (savedSnaplen === undefined) delete process.env.IMDSWATCH_CAP_SNAPLEN;
      else process.env.IMDSWATCH_CAP_SNAPLEN = savedSnaplen;
    }
  }
}

/** reads per turn: a gate queue (each read: the SYNs one receive buffer holds, each a verdict) */
export const QUEUE_BATCH = 16;
/**
 * the gate's copy of each queued packet: a SYN's headers (IPv6 40 + TCP with options 60
 * bytes). libpcap sizes the queue's receive buffer from it, so one read takes a couple of
 * SYNs, not the ~400 a 64 KiB buffer held: QUEUE_BATCH then bounds a turn's verdicts.
 */
export const QUEUE_SNAPLEN = 256;
/** reads per turn: a capture (each read: one packet from the ring) */
export const CAPTURE_BATCH = 256;

/**
 * cap reports the link type as a name for a few types and as "Unknown linktype N" otherwise;
 * map it to the LINKTYPE_* number the decode stage expects.
 */
export function linkTypeNumber(name: string): number | null {
  switch (name) {
    case 'NULL':
      return 0;
    case 'ETHERNET':
      return 1;
    case 'IEEE802_11_RADIO':
      return 127;
    case 'LINKTYPE_LINUX_SLL':
      return 113;
    case 'RAW':
      return 101;
  }
  const m = /^Unknown linktype (\d+)$/.exec(name);
  if (!m) return null;
  const dlt = Number(m[1]);
  // DLT_RAW is 12 (or 14) in the DLT space, LINKTYPE_RAW 101 in files; the rest coincide
  if (dlt === 12 || dlt === 14) return 101;
  return dlt;
}

/**
 * wall-clock time with sub-microsecond resolution (cap gives no packet timestamp): the wall
 * clock at start plus the monotonic time since, in doubles (docs/design.md#capture-copy):
 * ~0.25 µs steps at today's epoch, finer than the µs the event times print; the BigInt
 * arithmetic this replaced allocated five BigInts per packet.
 */
export function makeClock(): () => { sec: number; nsec: number } {
  const base = Date.now() - performance.now();
  return () => {
    const ms = base + performance.now();
    const sec = Math.floor(ms / 1000);
    return { sec, nsec: Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6)) };
  };
}
