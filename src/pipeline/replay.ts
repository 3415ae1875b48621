import { statSync } from 'node:fs';
import { readCaptureFile } from '../source/capture-file.js';
import { CaptureFormatError } from '../source/frame.js';
import type { ImdsEvent } from '../imds/event.js';
import type { FlowLimits } from '../tcp/stream.js';
import type { HttpLimits } from '../http/message.js';
import { createPipeline } from './create-pipeline.js';
import { sumStats, type PipelineStats } from './stats.js';

export interface ReplayError {
  file: string;
  code: string;
  message: string;
  packetsRead: number;
}

export interface ReplayResult {
  /** the events, when no onEvent callback was given */
  events: ImdsEvent[];
  /** per-file pipeline statistics, merged */
  stats: PipelineStats;
  errors: ReplayError[];
  /** packets read per file */
  packets: Record<string, number>;
  /** what the readers skipped, over all files (e.g. pcapng blocks of an unknown interface) */
  read: { packets: number; bytes: number; skipped: Record<string, number> };
}

export interface ReplayOptions {
  /** receive events as they come (then `events` stays empty: memory stays flat) */
  onEvent?: (ev: ImdsEvent) => void;
  /** progress over all files: bytes done, total bytes (null when a source has no size) */
  onProgress?: (done: number, total: number | null) => void;
  flowLimits?: Partial<FlowLimits>;
  httpLimits?: Partial<HttpLimits>;
}

/** Read capture files one after another; each file is its own capture (flows do not span files). */
export async function replayFiles(paths: string[], opts: ReplayOptions = {}): Promise<ReplayResult> {
  const events: ImdsEvent[] = [];
  const onEvent = opts.onEvent ?? ((ev: ImdsEvent) => events.push(ev));
  const errors: ReplayError[] = [];
  const packets: Record<string, number> = {};
  const read = { packets: 0, bytes: 0, skipped: {} as Record<string, number> };
  let merged: PipelineStats | null = null;
  const sizes = paths.map((p) => {
    if (p === '-') return null;
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  });
  const total = sizes.includes(null) ? null : (sizes as number[]).reduce((a, b) => a + b, 0);
  let before = 0;

  for (let i = 0; i < paths.length; i++) {
    const file = paths[i];
    const pipeline = createPipeline({ onEvent, flowLimits: opts.flowLimits, httpLimits: opts.httpLimits });
    let count = 0;
    try {
      const st = readCaptureFile(file, (frame) => pipeline.pushFrame(frame), {
        onProgress: opts.onProgress ? (done) => opts.onProgress!(before + done, total) : undefined,
      });
      count = st.packets;
      read.bytes += st.bytes;
      read.skipped = addCounts(read.skipped, st.skipped);
    } catch (err) {
      if (err instanceof CaptureFormatError) {
        count = err.packetsRead;
        errors.push({ file, code: err.code, message: err.message, packetsRead: err.packetsRead });
      } else {
        // not the file's fault (the reader wraps its own I/O errors): e.g. EPIPE from a sink
        throw err;
      }
    }
    pipeline.finish();
    packets[file] = count;
    read.packets += count;
    const st = pipeline.stats();
    merged = merged === null ? st : sumStats(merged, st);
    before += sizes[i] ?? 0;
    // let timers (progress bar, signals) run between files
    await new Promise((r) => setImmediate(r));
  }
  // no file: the snapshot of a pipeline that saw nothing (every counter present, at zero)
  return { events, stats: merged ?? createPipeline({ onEvent }).stats(), errors, packets, read };
}

function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}
