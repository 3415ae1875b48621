/**
 * pcapng timestamps: a 64-bit count of units whose size the interface's
 * if_tsresol option gives (10^-6 s by default; 10^-k or 2^-k s).
 *
 * Resolutions 10^-0 .. 10^-9 take an exact float-only path (long division in
 * 16-bit steps keeps every intermediate below 2^53); others use BigInt.
 */

export interface TsResolution {
  /** units per second when it is 10^k with k <= 9, else 0 */
  decDiv: number;
  /** nanoseconds per unit for the decimal path */
  nsPerUnit: number;
  /** units per second for the BigInt path */
  bigUnits: bigint;
  /** seconds added to every timestamp (if_tsoffset) */
  offsetSec: number;
}

/** Resolution from the if_tsresol byte (absent: 6 = microseconds). */
export function tsResolution(tsresol: number | undefined, offsetSec = 0): TsResolution {
  const v = tsresol ?? 6;
  const exp = v & 0x7f;
  if ((v & 0x80) === 0 && exp <= 9) {
    const decDiv = 10 ** exp;
    return { decDiv, nsPerUnit: 10 ** (9 - exp), bigUnits: BigInt(decDiv), offsetSec };
  }
  const bigUnits = (v & 0x80) === 0 ? 10n ** BigInt(exp) : 1n << BigInt(exp);
  return { decDiv: 0, nsPerUnit: 0, bigUnits, offsetSec };
}

/** Writes sec and nsec for timestamp (hi << 32 | lo) into out. */
export function convertTs(res: TsResolution, hi: number, lo: number, out: { sec: number; nsec: number }): void {
  const d = res.decDiv;
  if (d !== 0) {
    if (d === 1) {
      out.sec = hi * 4294967296 + lo + res.offsetSec;
      out.nsec = 0;
      return;
    }
    if (hi < 0x200000) {
      // below 2^53: exact in a double
      const ts = hi * 4294967296 + lo;
      const sec = Math.floor(ts / d);
      out.sec = sec + res.offsetSec;
      out.nsec = (ts - sec * d) * res.nsPerUnit;
      return;
    }
    const hiQ = Math.floor(hi / d);
    const t1 = (hi - hiQ * d) * 65536 + (lo >>> 16);
    const q1 = Math.floor(t1 / d);
    const t2 = (t1 - q1 * d) * 65536 + (lo & 0xffff);
    const q2 = Math.floor(t2 / d);
    out.sec = hiQ * 4294967296 + q1 * 65536 + q2 + res.offsetSec;
    out.nsec = (t2 - q2 * d) * res.nsPerUnit;
    return;
  }
  const ts = (BigInt(hi) << 32n) | BigInt(lo);
  const units = res.bigUnits;
  const sec = ts / units;
  const frac = ts % units;
  out.sec = Number(sec) + res.offsetSec;
  out.nsec = Number((frac * 1_000_000_000n) / units);
}
