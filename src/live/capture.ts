import type { Frame, FrameSink } from '../source/frame.js';
import { ImdswatchError, type LiveCaptureErrorCode } from '../errors/catalogue.js';
import { IMDS_BPF } from '../domain/endpoint.js';
import { CAPTURE_BATCH, capLoadError, linkTypeNumber, loadCap, makeClock, openCap, type CapHandle } from './cap-binding.js';
import { isDecodableLinkType } from '../decode/link-types.js';

/**
 * Passive live capture through libpcap (cap) on `any` or the given interfaces, filtered to
 * IMDS TCP. cap opens in immediate mode, or buffered (`bufferMs`, while the SYN gate is on),
 * with non-blocking reads dispatched from the event loop.
 *
 * Each frame owns its bytes (cap reuses one buffer per device; the packet is copied once, here).
 *
 * Limits of cap 0.2.x: no packet timestamp (frames carry the wall-clock time of the
 * callback, taken from one monotonic clock anchored at start), no pcap_stats (kernel drops
 * are not available: `drops` is null), and a snaplen of 65535 unless cap is patched at
 * install to read IMDSWATCH_CAP_SNAPLEN (native/cap-snaplen; CAPTURE_SNAPLEN below).
 */

export interface CaptureOptions {
  interfaces: string[];
  filter: string;
  /** libpcap buffer per interface (the kernel ring) */
  bufferBytes: number;
  /**
   * 0: immediate mode, each packet read as it comes (the passive attribution reads the
   * first byte while the caller's socket exists). N > 0: buffered, the kernel hands packets
   * over at most N ms late, many per event-loop wake-up (SYN_GATED_BUFFER_MS).
   */
  bufferMs: number;
}

/**
 * bufferBytes: cap opens in immediate mode, so libpcap uses a TPACKET_V2 ring of fixed
 * frames sized by the snaplen. Stock cap fixes 65 535 bytes: 64 KiB frames in 128 KiB
 * blocks, so 16 MiB held 256 packets and cost 32 MiB resident (an idle daemon at 96 MiB
 * RSS, 129 MiB under the live SYN flood). With cap patched at install to take its
 * snaplen from IMDSWATCH_CAP_SNAPLEN (native/cap-snaplen) and CAPTURE_SNAPLEN = 8000, a
 * frame fits one 8 KiB block: 16 MiB holds ~2 000 packets in ~16 MiB resident (idle
 * 80 MiB, 113 MiB peak under the same flood, every normal call reported). 12 MiB since the
 * system lane (docs/design.md#system-lane): cap reads a bounded batch per turn, so the ring
 * is read every few ms, and its copies added memory: ~1 500 packets in 12 MiB kept the live
 * floods test at 121-124 MiB (16 MiB: 124-127, at its 128 MiB bound).
 */
export const CAPTURE_SNAPLEN = 8000;

export const DEFAULT_CAPTURE_OPTIONS: CaptureOptions = { interfaces: ['any'], filter: IMDS_BPF, bufferBytes: 12 * 1024 * 1024, bufferMs: 0 };

/**
 * The capture's buffering delay while the SYN gate holds every SYN for its owner lookup: no
 * attribution then depends on reading a packet at once. Buffered, libpcap uses TPACKET_V3: the
 * kernel hands over a block of packets when it is full or this many ms after it opened, one
 * wake-up for all. Frames still carry the time their callback ran (see LiveCapture), so they
 * are up to this much later than immediate ones: far inside every window that compares frame
 * times (dedupe 1 s, gate CLOCK_SLACK_MS 1 s, capture-loss SYN_WAIT_MS 5 s). With the system
 * lane on too since its NFLOG group is batched as well (docs/design.md#lane-batching).
 * Measured, lane off (load 3-4): 100/s 1841/2156 -> 1326/1131 us of CPU per call, 500/s
 * 649/806 -> 588/506. Lane on, alternating with the per-packet lane and immediate capture
 * (load 2-5): 100/s ~1 700 -> ~1 250 us; 20 ms rather than 50: at 1 000/s a 50 ms block
 * (~750 frames at once) left the pipeline seconds behind in most runs.
 */
export const SYN_GATED_BUFFER_MS = 20;

export interface CaptureStats {
  packets: number;
  bytes: number;
  /** packets longer than the 64 KiB copy buffer (cut) */
  truncated: number;
  /** kernel drops; null: cap does not expose pcap_stats */
  drops: number | null;
  interfaces: Array<{ name: string; linkType: number; packets: number; bufferMs: number }>;
}

export type { LiveCaptureErrorCode };

/** libpcap's words for a refused packet socket (EPERM / EACCES) */
export function isPermissionError(message: string): boolean {
  return /operation not permitted|permission denied|don't have permission/i.test(message);
}

export class LiveCaptureError extends ImdswatchError<LiveCaptureErrorCode> {
  constructor(code: LiveCaptureErrorCode, message: string) {
    super(code, message);
    this.name = 'LiveCaptureError';
  }
}

export class LiveCapture {
  private readonly opts: CaptureOptions;
  private readonly handles: Array<{ name: string; cap: CapHandle; linkType: number; packets: number }> = [];
  private readonly clock = makeClock();
  private packets = 0;
  private bytes = 0;
  private truncated = 0;

  constructor(
    private readonly sink: FrameSink,
    opts: Partial<CaptureOptions> = {},
  ) {
    this.opts = { ...DEFAULT_CAPTURE_OPTIONS, ...opts };
  }

  /** open every interface; on any failure closes what was opened and throws LiveCaptureError */
  start(): void {
    const mod = loadCap();
    if (!mod) throw new LiveCaptureError('E_CAPTURE_NO_CAP', `cannot load the libpcap binding (cap): ${capLoadError()}`);
    try {
      this.opts.interfaces.forEach((name, iface) => {
        const cap = new mod.Cap();
        const buf = Buffer.alloc(65_535);
        let lt: string;
        try {
          // cap as patched at install (native/cap-snaplen) reads its snaplen from here: 8000
          // bytes keep every IMDS head (< 8 KiB) and fit a ring frame in one 8 KiB block
          process.env.IMDSWATCH_CAP_SNAPLEN ??= String(CAPTURE_SNAPLEN);
          lt = openCap(cap, name, this.opts.filter, this.opts.bufferBytes, buf, CAPTURE_BATCH, undefined, this.opts.bufferMs);
        } catch (err) {
          const msg = (err as Error).message;
          if (isPermissionError(msg)) {
            throw new LiveCaptureError(
              'E_CAPTURE_NO_PRIVILEGE',
              `cannot capture on ${name}: missing privilege CAP_NET_RAW (${msg}); run as root, or with CAP_NET_RAW, CAP_NET_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH as the systemd unit grants`,
            );
          }
          throw new LiveCaptureError('E_CAPTURE_OPEN_FAILED', `cannot capture on ${name}: ${msg}`);
        }
        const linkType = linkTypeNumber(lt);
        // an interface the decoder cannot read would give no packet at all: an error, not a
        // silent scan (E_CAPTURE_LINKTYPE, docs/errors.md#errors)
        if (linkType === null || !isDecodableLinkType(linkType)) {
          cap.close();
          throw new LiveCaptureError('E_CAPTURE_LINKTYPE', `unsupported link type on ${name}: ${lt}`);
        }
        const h = { name, cap, linkType, packets: 0 };
        cap.on('packet', (nbytes: number, trunc: boolean) => {
          const t = this.clock();
          h.packets++;
          this.packets++;
          this.bytes += nbytes;
          if (trunc) this.truncated++;
          // the one copy of the packet (cap reuses `buf`): the frame owns its bytes (docs/design.md#capture-copy)
          const data = Buffer.allocUnsafe(nbytes);
          buf.copy(data, 0, 0, nbytes);
          const frame: Frame = { sec: t.sec, nsec: t.nsec, linkType, data, origLen: nbytes, iface };
          this.sink(frame);
        });
        this.handles.push(h);
      });
    } catch (err) {
      this.stop();
      throw err;
    }
  }

  stop(): void {
    for (const h of this.handles.splice(0)) {
      h.cap.removeAllListeners('packet');
      h.cap.close();
    }
  }

  stats(): CaptureStats {
    return {
      packets: this.packets,
      bytes: this.bytes,
      truncated: this.truncated,
      drops: null,
      interfaces: this.handles.map((h) => ({ name: h.name, linkType: h.linkType, packets: h.packets, bufferMs: this.opts.bufferMs })),
    };
  }
}
