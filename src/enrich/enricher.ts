import type { Attribution, ImdsEvent, ProcessInfo, SdkInfo } from '../imds/event.js';
import { identifySdk } from './sdk/user-agent.js';
import { V1ReasonTracker, type V1ReasonStats } from './reason/v1-reasons.js';

/**
 * The enrich stage: its one entry point, `enrich`, fills an IMDS event's `sdk` (from the
 * User-Agent), `process` and `attribution` (the flow's answer, a plain value settled now)
 * and `reason` (why a v1 call was v1). Events must arrive in capture order: the reasons
 * depend on what the same client did before (docs/design.md#v1-reasons).
 */

/** who made a flow's calls, as settled when the event is built */
export interface Who {
  process: ProcessInfo | null;
  attribution: Attribution;
}

/**
 * A flow's pending answer. Live: taken at the flow's first byte (the passive /proc lookup
 * must run while the socket exists), settled when each event is built (a forwarded SYN is
 * captured before the SYN gate holds it: the gate's record exists by the time the flow
 * carries a response). Replay: NO_ATTRIBUTION.
 */
export interface FlowAttribution {
  settle(): Who;
}

export const NO_ATTRIBUTION: FlowAttribution = Object.freeze({ settle: () => ({ process: null, attribution: 'none' as const }) });

/**
 * Distinct User-Agents whose SDK answer is kept. A host runs a handful of SDKs; the cache
 * exists for the flood case (the same agent calling thousands of times). Past the limit the
 * cache is cleared, not grown: 4096 entries of ≤ 8 KiB heads bound it near 32 MiB worst case
 * and, in practice (~200-byte UAs), under 2 MiB.
 */
export const SDK_CACHE_MAX_ENTRIES = 4096;

export interface EnrichStats {
  /** events enriched, by attribution */
  attribution: Record<Attribution, number>;
  /** SDK answers cached now, and times the cache was cleared at SDK_CACHE_MAX_ENTRIES */
  sdkCache: { entries: number; clears: number };
  /** the v1-reason tracker: clients followed, evicted, events with a bad time */
  reasons: V1ReasonStats;
}

export class Enricher {
  private readonly reasons = new V1ReasonTracker();
  private readonly sdkCache = new Map<string, SdkInfo | null>();
  private sdkCacheClears = 0;
  private readonly attributed: Record<Attribution, number> = { gate: 0, passive: 0, none: 0 };

  /** fill sdk, process, attribution and reason of `ev` (in place, in capture order) */
  enrich(ev: ImdsEvent, flow: FlowAttribution): ImdsEvent {
    ev.sdk = this.sdkFor(ev.userAgent);
    const who = flow.settle();
    ev.process = who.process;
    ev.attribution = who.attribution;
    this.attributed[who.attribution]++;
    this.reasons.observe(ev);
    return ev;
  }

  stats(): EnrichStats {
    return {
      attribution: { ...this.attributed },
      sdkCache: { entries: this.sdkCache.size, clears: this.sdkCacheClears },
      reasons: this.reasons.stats(),
    };
  }

  private sdkFor(ua: string | null): SdkInfo | null {
    if (ua === null) return null;
    let s = this.sdkCache.get(ua);
    if (s === undefined) {
      s = identifySdk(ua);
      if (this.sdkCache.size >= SDK_CACHE_MAX_ENTRIES) {
        this.sdkCache.clear();
        this.sdkCacheClears++;
      }
      this.sdkCache.set(ua, s);
    }
    return s;
  }
}
