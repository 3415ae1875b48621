import { canonicalIp } from '../domain/address.js';
import { IMDS_PORT, IMDS_V4_TEXT, IMDS_V6_TEXT } from '../domain/endpoint.js';
import type { ImdsEvent } from '../imds/event.js';
import type { OwnerHint } from './events.js';

/**
 * The daemon's owner hints for enforce (docs/design.md#enforce): a call the responder passes
 * on to IMDS leaves this host from the responder's own socket, so the capture (and the SYN
 * gate, which holds that SYN too) sees imdswatch as its process. The responder says, when it
 * opens such a connection, whose call it carries; an event on that connection (same client
 * address and port, to IMDS) is then the workload's process's, as it would be without enforce.
 * A hint is kept for `ttlMs` after it was given (longer than a flow lives in the flow table
 * between calls), at most `max` of them; a port the kernel gives again replaces its hint.
 */
export class OwnerHints {
  private readonly hints = new Map<string, { hint: OwnerHint; atMs: number }>();
  private rewritten = 0;

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly max = 16_384,
  ) {}

  add(h: OwnerHint, nowMs = Date.now()): void {
    const key = `${canonicalIp(h.localIp)}|${h.localPort}`;
    this.hints.delete(key); // re-insert: insertion order = time order
    this.hints.set(key, { hint: h, atMs: nowMs });
    this.expire(nowMs);
  }

  /** the event as it is: with the workload's process when it is a call the responder passed on */
  apply(ev: ImdsEvent, nowMs = Date.now()): ImdsEvent {
    if (ev.server.port !== IMDS_PORT || (ev.server.ip !== IMDS_V4_TEXT && canonicalIp(ev.server.ip) !== IMDS_V6_TEXT)) return ev;
    const h = this.hints.get(`${canonicalIp(ev.client.ip)}|${ev.client.port}`);
    if (!h || nowMs - h.atMs > this.ttlMs) return ev;
    this.rewritten++;
    // the responder read the caller from /proc at the connection (a passive lookup)
    return { ...ev, process: h.hint.process, attribution: h.hint.process ? 'passive' : 'none' };
  }

  /** events given to the workload's process so far */
  get count(): number {
    return this.rewritten;
  }

  private expire(nowMs: number): void {
    for (const [key, h] of this.hints) {
      if (this.hints.size <= this.max && nowMs - h.atMs <= this.ttlMs) break;
      this.hints.delete(key);
    }
  }
}
