/**
 * Which of the chain's skip counters mean that IMDS traffic went unread, so that a request
 * (an IMDSv1 call) may be hidden in it: the verdict is then UNKNOWN, never "no IMDSv1 call".
 * The counters are the keys of the report's `input.skipped` (decode, read, tcp, http).
 *
 * Not in the list: traffic that is not IMDS (other hosts, UDP), malformed headers a receiver
 * drops too, duplicates, copies of a datagram already read, bytes missing from the server's
 * side of a connection (`tcp-response-gap-bytes`: an answer unread, e.g. a token PUT's reply
 * dropped by the hop limit, never a request), and requests whose head was cut
 * (`unclassifiable-truncated-head`, which has its own UNKNOWN: `input.unclassified`).
 */
import { linkTypeText } from './link-types.js';

/** skip counter → what it means for a reader (n is the count) */
const UNREAD_REASONS: Record<string, (n: number) => string> = {
  'ip-fragments': (n) => `${n} IMDS fragment(s) not reassembled`,
  'ip-fragment-overlap-conflict': (n) => `${n} IMDS fragment(s) overlapping held bytes with other bytes (the receiver may have read those)`,
  'tcp-gap-bytes': (n) => `${n} byte(s) missing from the client side of IMDS connections`,
  'tcp-flows-evicted': (n) => `${n} IMDS connection(s) evicted under load`,
  // live (scan): connections the SYN gate held whose packets the capture never showed
  'gate-syn-not-captured': (n) => `${n} IMDS connection(s) the SYN gate held but the capture missed`,
  'unknown-linktype': (n) => `${n} packet(s) of a link type imdswatch cannot read`,
  'pcapng-unknown-interface': (n) => `${n} packet(s) of an undefined pcapng interface`,
  // the IMDS stage: requests sent to IMDS whose request line could not be read (docs/design.md#unfinished-requests)
  'request-unreadable': (n) => `${n} IMDS request(s) whose request line could not be read`,
  'request-without-version': (n) => `${n} IMDS request(s) without an HTTP version`,
};

/** The skip counters that may hide IMDS requests, from a report's `input.skipped`. */
export function unreadImds(skipped: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(UNREAD_REASONS)) if ((skipped[k] ?? 0) > 0) out[k] = skipped[k];
  return out;
}

/**
 * The decode stage's part of that list as one count, for the daemon's state: IMDS
 * fragments not reassembled, conflicting overlaps, frames of an unknown link type. The TCP
 * counters are left out live: capture loss there is measured by the gate cross-check, and
 * the gap counter does not tell a lost response from a lost request.
 */
export function unreadImdsPackets(decode: { fragments: number; skipped: Record<string, number> }): number {
  return decode.fragments + (decode.skipped['ip-fragment-overlap-conflict'] ?? 0) + (decode.skipped['unknown-linktype'] ?? 0);
}

/**
 * The IMDS stage's part, for the daemon's state: requests sent to IMDS whose request line
 * could not be read, had no HTTP version, or whose head was cut before a token header could
 * be seen (docs/design.md#unfinished-requests). Each keeps the verdict from READY.
 */
export function unreadImdsRequests(imds: { skipped: Partial<Record<string, number>> }): number {
  const s = imds.skipped;
  return (s['request-unreadable'] ?? 0) + (s['request-without-version'] ?? 0) + (s['unclassifiable-truncated-head'] ?? 0);
}

/** "8 IMDS fragment(s) not reassembled, 375 byte(s) missing inside IMDS connections" ('' when nothing) */
export function describeUnread(unread: Record<string, number> | undefined, linkTypes: number[] = []): string {
  if (!unread) return '';
  return Object.entries(unread)
    .filter(([k, n]) => n > 0 && UNREAD_REASONS[k])
    .map(([k, n]) => UNREAD_REASONS[k](n) + (k === 'unknown-linktype' && linkTypes.length ? ` (${linkTypes.map(linkTypeText).join(', ')})` : ''))
    .join(', ');
}

/** Link types of the frames the decoder could not read, from DecodeStats.unknownLinkTypes ("147" → 5). */
export function unknownLinkTypesOf(counts: Record<string, number> | undefined): number[] {
  return Object.keys(counts ?? {})
    .map(Number)
    .filter((n) => Number.isInteger(n))
    .sort((a, b) => a - b);
}

/**
 * One line when no frame of the input could be read because of its link type (every frame an
 * unsupported link type): the caller reports it as an error (exit 2). Null otherwise.
 */
export function unsupportedLinkTypeError(stats: { frames: number; decode: { skipped: Record<string, number>; unknownLinkTypes?: Record<string, number> } }): string | null {
  const unknown = stats.decode.skipped['unknown-linktype'] ?? 0;
  if (stats.frames === 0 || unknown !== stats.frames) return null;
  const lts = unknownLinkTypesOf(stats.decode.unknownLinkTypes);
  const what = lts.length ? `link type ${lts.map(linkTypeText).join(', ')}` : 'its link type';
  return `no packet could be read: ${what} is not supported (E_LINKTYPE_UNSUPPORTED); imdswatch reads Ethernet, Linux cooked (SLL, SLL2), raw IP, BSD loopback and NFLOG captures`;
}
