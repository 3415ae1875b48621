import type { ImdsEvent, V1Reason } from '../../imds/event.js';
import { isForeignCloudPath } from './foreign-probe.js';

/**
 * Why did this IMDSv1 call happen? Fed with every classified exchange (token PUTs, v2
 * and v1 calls) in capture order, the tracker remembers per client what it did with
 * tokens and explains each v1 call:
 *
 * | precedence | reason | evidence from the same client |
 * | --- | --- | --- |
 * | 1 | `foreign-cloud-probe` | the path is outside the EC2 tree (`/metadata/instance`, `/computeMetadata/v1/`) |
 * | 2 | `token-put-unanswered` | its latest token PUT got no response (status null) within `fallbackWindowSec` before, or it has been calling v1 ever since (sticky SDKs) |
 * | 2 | `token-put-rejected` | same, but the PUT was answered with an error other than 400, 404 and 405 (403: a proxy added X-Forwarded-For, or the endpoint is off) |
 * | 2 | `token-put-not-found` | same, but the PUT was answered 404 or 405: not by IMDS, which always serves /latest/api/token (an emulator, a metadata proxy without tokens, another cloud's metadata service) |
 * | 3 | `token-expired` | it had a v2 session, then a 401 to a v2 call or the PUT's TTL ran out, within `expiredWindowSec` before |
 * | 4 | `v2-unsupported-client` | its User-Agent names an SDK/tool version older than the first with IMDSv2 |
 * | 5 | `no-token-attempt` | none of the above: it never asked for a token |
 *
 * A 400 to a PUT is not fallback evidence: SDKs never fall back on 400 (docs/imds-facts.md#hop-limit-and-fallback).
 *
 * Who is "the same client": in live capture the process is known, so the key is
 * ip + pid; in replay only the address and the User-Agent are, so the key is
 * ip + User-Agent (or ip alone when there is no User-Agent). Several processes may
 * share an address; keying by User-Agent keeps them apart when they identify
 * themselves. One exception, measured with aws-sdk 2.1693.0: the JavaScript SDK v2
 * sends its token PUT and token-bearing GETs without a User-Agent and its v1 fallback
 * GETs with `aws-sdk-nodejs/...`, so a JS v2 v1 call also looks at the
 * no-User-Agent state of its address.
 *
 * Time is the events' packet time (`ts`), never the wall clock. State is bounded:
 * at most `maxClients` clients, least recently seen evicted first (counted).
 */
export interface V1ReasonOptions {
  /** seconds after a failed or unanswered token PUT during which a v1 call is explained by it (default 60) */
  fallbackWindowSec?: number;
  /** a client that fell back keeps that reason for later v1 calls (no new PUT, no v2 in between) no further apart than this (default 21600) */
  stickySec?: number;
  /** seconds after a 401 to a v2 call, or after the token's TTL ran out, during which a v1 call is `token-expired` (default 300) */
  expiredWindowSec?: number;
  /** most clients remembered (default 10000) */
  maxClients?: number;
}

export const V1_REASON_DEFAULTS: Required<V1ReasonOptions> = Object.freeze({
  fallbackWindowSec: 60,
  stickySec: 21600,
  expiredWindowSec: 300,
  maxClients: 10_000,
});

export interface V1ReasonStats {
  clients: number;
  evicted: number;
  /** events whose `ts` did not parse (the last good time was used) */
  badTime: number;
}

interface PutRecord {
  t: number;
  status: number | null;
}

interface ClientState {
  pid: number | null;
  lastPut: PutRecord | null;
  /** when the token from the latest successful PUT runs out (ms), null when the TTL is unknown */
  expiresAt: number | null;
  /** a v2 call or a successful PUT was seen */
  hadSession: boolean;
  /** time of the latest 401 to a v2 call since the latest successful PUT */
  v2Rejected: number | null;
  /** time of the latest successful v2 call */
  lastV2Ok: number | null;
  /** a fallback already explained a v1 call: keeps it for the next ones */
  sticky: { reason: V1Reason; t: number } | null;
}

/** Longest User-Agent prefix used in a key. */
const UA_KEY_CHARS = 256;

function fallbackReason(status: number | null): V1Reason | null {
  if (status === null) return 'token-put-unanswered';
  // what the wire showed: 404/405 is not IMDS refusing the PUT (docs/imds-facts.md#status-codes)
  if (status === 404 || status === 405) return 'token-put-not-found';
  if (status >= 300 && status !== 400) return 'token-put-rejected';
  return null;
}

export class V1ReasonTracker {
  private readonly opts: Required<V1ReasonOptions>;
  private readonly clients = new Map<string, ClientState>();
  private evicted = 0;
  private badTime = 0;
  private lastT = 0;

  constructor(opts: V1ReasonOptions = {}) {
    this.opts = { ...V1_REASON_DEFAULTS, ...opts };
  }

  /**
   * Feed one event (any version), in capture order. Sets and returns `ev.reason`:
   * the reason for a v1 call, null for token requests and v2 calls.
   */
  observe(ev: ImdsEvent): V1Reason | null {
    const t = this.timeOf(ev.ts);
    let reason: V1Reason | null = null;
    if (ev.version === 'token') this.onPut(ev, t);
    else if (ev.version === 'v2') this.onV2(ev, t);
    else reason = this.onV1(ev, t);
    ev.reason = reason;
    return reason;
  }

  stats(): V1ReasonStats {
    return { clients: this.clients.size, evicted: this.evicted, badTime: this.badTime };
  }

  private timeOf(ts: string): number {
    const t = Date.parse(ts);
    if (Number.isFinite(t)) {
      if (t > this.lastT) this.lastT = t;
      return t;
    }
    this.badTime++;
    return this.lastT;
  }

  /** keys under which this event's client state lives (written) */
  private ownKeys(ev: ImdsEvent): string[] {
    const ip = ev.client.ip;
    const keys: string[] = [];
    if (ev.process) keys.push(`${ip}|pid:${ev.process.pid}`);
    if (ev.userAgent) keys.push(`${ip}|ua:${ev.userAgent.slice(0, UA_KEY_CHARS)}`);
    else keys.push(`${ip}|`);
    return keys;
  }

  /** keys consulted for a v1 call, most specific first */
  private lookupKeys(ev: ImdsEvent): string[] {
    const keys = this.ownKeys(ev);
    if (ev.userAgent && (ev.sdk?.name === 'aws-sdk-js-v2' || /\baws-sdk-nodejs\//.test(ev.userAgent))) {
      keys.push(`${ev.client.ip}|`);
    }
    return keys;
  }

  private touch(key: string, pid: number | null): ClientState {
    let s = this.clients.get(key);
    if (s) {
      this.clients.delete(key);
    } else {
      s = { pid, lastPut: null, expiresAt: null, hadSession: false, v2Rejected: null, lastV2Ok: null, sticky: null };
      while (this.clients.size >= this.opts.maxClients) {
        const oldest = this.clients.keys().next().value as string;
        this.clients.delete(oldest);
        this.evicted++;
      }
    }
    if (pid !== null) s.pid = pid;
    this.clients.set(key, s);
    return s;
  }

  private onPut(ev: ImdsEvent, t: number): void {
    const pid = ev.process?.pid ?? null;
    for (const key of this.ownKeys(ev)) {
      const s = this.touch(key, pid);
      s.lastPut = { t, status: ev.status };
      if (ev.status === 200) {
        const ttl = ev.tokenTtl ?? null;
        s.expiresAt = ttl !== null && ttl > 0 ? t + ttl * 1000 : null;
        s.hadSession = true;
        s.v2Rejected = null;
        s.sticky = null;
      }
    }
  }

  private onV2(ev: ImdsEvent, t: number): void {
    const pid = ev.process?.pid ?? null;
    for (const key of this.ownKeys(ev)) {
      const s = this.touch(key, pid);
      s.hadSession = true;
      if (ev.status === 401) {
        s.v2Rejected = t;
      } else if (ev.status !== null && ev.status < 500) {
        s.lastV2Ok = t;
        s.sticky = null;
      }
    }
  }

  private onV1(ev: ImdsEvent, t: number): V1Reason {
    if (isForeignCloudPath(ev.path)) return 'foreign-cloud-probe';
    const pid = ev.process?.pid ?? null;
    for (const key of this.lookupKeys(ev)) {
      const s = this.clients.get(key);
      if (!s) continue;
      if (pid !== null && s.pid !== null && s.pid !== pid) continue;
      const r = this.explain(s, t);
      if (r) {
        s.sticky = { reason: r, t };
        this.touch(key, pid);
        return r;
      }
    }
    if (ev.sdk?.supportsV2 === false) return 'v2-unsupported-client';
    return 'no-token-attempt';
  }

  private explain(s: ClientState, t: number): V1Reason | null {
    const { fallbackWindowSec, stickySec, expiredWindowSec } = this.opts;
    // 2. a failed/unanswered token PUT just before, or a fallback still in force
    const put = s.lastPut;
    if (put && t >= put.t) {
      const r = fallbackReason(put.status);
      if (r && t - put.t <= fallbackWindowSec * 1000) return r;
    }
    if (s.sticky && t >= s.sticky.t && t - s.sticky.t <= stickySec * 1000) return s.sticky.reason;
    // 3. a v2 session whose token was refused or ran out
    if (s.hadSession) {
      if (s.v2Rejected !== null && t >= s.v2Rejected && t - s.v2Rejected <= expiredWindowSec * 1000) {
        return 'token-expired';
      }
      const exp = s.expiresAt;
      if (exp !== null && t >= exp && t - exp <= expiredWindowSec * 1000 && (s.lastV2Ok === null || s.lastV2Ok < exp)) {
        return 'token-expired';
      }
    }
    return null;
  }
}
