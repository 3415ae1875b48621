import { createRequire } from 'node:module';
import { findAddonPath } from '../enrich/process/addon-path.js';
import { setFlagsFromString } from 'node:v8';

/**
 * Imported first by the CLI entry point (a side-effect module), before anything allocates.
 *
 * With V8's defaults a flow-table churn — 100 000 half-open flows, a million short
 * connections — leaves a live heap of ~25 MiB but peaks at 170–370 MiB RSS: the young
 * generation grows to 16 MiB semi-spaces and the old generation may grow to ~4x its live
 * size before a full collection. Both growth heuristics are read at each collection, so they
 * can be set here at run time; no hard heap limit is set (that would turn a burst into an
 * out-of-memory crash). Measured on the replay floods: 92 MiB and 82 MiB peak RSS instead of
 * 209 MiB and 174 MiB, and no slower. IMDSWATCH_V8_DEFAULTS=1 keeps V8's defaults (these and JIT_FLAGS).
 */
export const MEMORY_FLAGS = ['--semi-space-growth-factor=1', '--heap-growing-percent=20'];

/**
 * Less inlining into one optimised function (V8 lets 920 bytes of bytecode by default): replay's
 * hot loop inlined the chain from the pcap reader down to the HTTP parsers, and each
 * deoptimisation of a path first taken late recompiled all of it. Replay of the 1 GiB bench
 * capture under callgrind: 3.70–3.76 G instructions instead of 4.05–4.09 G (the optimising
 * compiler's 1.21 G → 0.89 G; the compiled code +3 %); 20 alternating runs on the shared
 * machine (load 2.7–3.5): 1.06–1.40 s mean CPU instead of 1.17–1.60 s. 150 instead of 300
 * (session 7, the same capture under callgrind, --format json): 3.59–3.61 G instead of
 * 3.655–3.664 G (the compiler 0.88 G instead of 0.955–0.963 G; the compiled code +1 %); 100 gave
 * 3.70 G (slower code), 200 3.60 G, 60 3.82 G, no inlining 3.95 G.
 */
export const JIT_FLAGS = ['--max-inlined-bytecode-size-cumulative=150'];

if (process.env.IMDSWATCH_V8_DEFAULTS !== '1') {
  for (const f of [...MEMORY_FLAGS, ...JIT_FLAGS]) setFlagsFromString(f);
}

/**
 * glibc's trim threshold for `imdswatch replay` (docs/design.md#malloc-trim): glibc gives the top
 * of a heap back to the kernel once more than 128 KiB lies free there, and V8's optimising
 * compiler allocates and frees several MiB per compilation on its worker threads, so every
 * compilation faulted that memory in again (6–10 µs per page fault on the lab VM). With a few
 * MiB kept free the next compilation reuses them. Set through the sockdiag addon's mallocTune
 * (mallopt(M_TRIM_THRESHOLD), native/sockdiag/src/malloc-tuning.c); the daemon keeps glibc's
 * default (its RSS limit is tight), as does a run with IMDSWATCH_V8_DEFAULTS=1.
 */
export const REPLAY_MALLOC_TRIM_THRESHOLD = 8 * 1024 * 1024;

/**
 * Set glibc's trim threshold for this process; false (and nothing changed) when the addon is
 * not built, has no mallocTune (an older build), fails to load, or the C library is not glibc.
 * Never throws: replay runs the same without it, only slower.
 */
export function tuneMallocForReplay(addonPath: string | null = findAddonPath()): boolean {
  if (process.env.IMDSWATCH_V8_DEFAULTS === '1' || process.platform !== 'linux' || !addonPath) return false;
  try {
    const addon = createRequire(import.meta.url)(addonPath) as { mallocTune?: (trim: number, mmap: number) => boolean };
    return typeof addon.mallocTune === 'function' && addon.mallocTune(REPLAY_MALLOC_TRIM_THRESHOLD, 0) === true;
  } catch {
    return false;
  }
}
