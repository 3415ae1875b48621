/**
 * One sanitizer for every human-facing output (docs/design.md#sanitizer): the text report,
 * Markdown, HTML, Prometheus label values and the journald `msg`. Executable paths, units,
 * User-Agents, command lines and request paths are chosen by whoever made the call, so:
 *
 * - control characters are made visible, never passed on: C0 (incl. ESC, BEL), DEL, C1
 *   (U+0080–U+009F, which a terminal may take as CSI/OSC), bidi overrides and isolates,
 *   zero-width characters, line and paragraph separators, the BOM: `\x1b`, `\u202e`;
 * - every value is cut at a length, and the cut is marked with what was left out:
 *   `…(+6 912 chars)`, so a 7 KB path never reaches a page or a terminal whole.
 *
 * Each output then applies its own syntax on top (Markdown, HTML entities, label quoting).
 */

/** the characters no output passes through raw */
export const UNSAFE = /[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

/** `\xNN` up to U+00FF, `\uNNNN` above */
export function escapeChar(c: string): string {
  const n = c.codePointAt(0) ?? 0;
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : n <= 0xffff ? `\\u${n.toString(16).padStart(4, '0')}` : `\\u{${n.toString(16)}}`;
}

/** 6912 → "6 912" */
export function grouped(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

/** what a cut value ends with: "…(+6 912 chars)" (chars of the original value) */
export const cutMark = (left: number) => `…(+${grouped(left)} chars)`;

/**
 * `s` piece by piece (`piece` gives each character's output, null: the character itself),
 * stopping before the output would pass `max` characters; a cut is marked. `fit`: the mark
 * counts in `max` too (label values with a hard length).
 */
function render(s: string, max: number, piece: (c: string) => string | null, plain: RegExp, fit = false): string {
  if (s.length <= max && !plain.test(s)) return s;
  const parts: string[] = [];
  const used: number[] = [];
  let len = 0;
  let from = 0;
  for (const c of s) {
    const p = piece(c) ?? c;
    if (len + p.length > max) break;
    parts.push(p);
    used.push(c.length);
    len += p.length;
    from += c.length;
  }
  if (from >= s.length) return parts.join('');
  while (fit && parts.length && len + cutMark(s.length - from).length > max) {
    len -= parts.pop()!.length;
    from -= used.pop()!;
  }
  return `${parts.join('')}${cutMark(s.length - from)}`;
}

const visiblePiece = (c: string) => (UNSAFE.test(c) ? escapeChar(c) : null);

/** control and invisible characters escaped, readable non-ASCII (é, ×, 日本) kept; cut at `max` */
export function visible(s: string, max = Infinity): string {
  return render(s, max, visiblePiece, UNSAFE);
}

const NOT_ASCII = /[^\x20-\x7e]/;

/**
 * For a terminal (the text report, replay/scan summaries): everything outside printable
 * ASCII escaped (the terminal's character set is not known); cut at `max`.
 */
export function printable(s: string, max = 200): string {
  return render(s, max, (c) => (NOT_ASCII.test(c) ? escapeChar(c) : null), NOT_ASCII);
}

const MD_SYNTAX = /[\\|`*_<>[\]]/;
const MD_PLAIN = new RegExp(`${MD_SYNTAX.source}|${UNSAFE.source}`);

/**
 * Markdown cell text: Markdown syntax escaped, control characters shown as \xNN, everything
 * else (×, →, non-ASCII names) kept: a change ticket is not a terminal. Cut at `max`.
 */
export function md(s: string, max = Infinity): string {
  return render(s, max, (c) => (MD_SYNTAX.test(c) ? `\\${c}` : UNSAFE.test(c) ? escapeChar(c) : null), MD_PLAIN);
}

/** HTML text or attribute value: visible() then the five characters as entities */
export function html(s: string, max = Infinity): string {
  return visible(s, max).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Prometheus label values: at most this many characters (then cut and marked) */
export const MAX_LABEL_CHARS = 128;

/** a Prometheus label value: visible(), at most `max` characters with the cut's mark (prom-client escapes \ " and newline) */
export function labelValue(s: string, max = MAX_LABEL_CHARS): string {
  return render(s, max, visiblePiece, UNSAFE, true);
}

/** a piece of a log line's `msg` (journald): visible(), cut at `max` */
export function logText(s: string, max = 80): string {
  return visible(s, max);
}

/** true when `s` holds a character no output passes raw */
export const hasUnsafe = (s: string): boolean => UNSAFE.test(s);
