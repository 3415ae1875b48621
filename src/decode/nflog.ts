/**
 * LINKTYPE_NFLOG (239), what `tcpdump -i nflog:N` writes: a 4-byte header (address family,
 * version, resource id) and then TLVs, each `length(2) type(2) value`, padded to 4 bytes,
 * length counting the TLV header. The packet is the value of NFULA_PAYLOAD (type 9).
 *
 * TLV length and type are in the byte order of the host that captured (values are network
 * order). The order is taken per packet from the first TLV: its type is small (NFULA_* < 32)
 * in the right order and a multiple of 256 in the other.
 *
 * Bounded: at most MAX_NFLOG_TLVS TLVs are walked; a TLV shorter than its header or past
 * the end of the frame ends the walk with a fixed skip reason.
 */
const NFLOG_HEADER = 4;
const NFULA_PAYLOAD = 9;
const MAX_NFLOG_TLVS = 64;
/** TLV type bits that are flags, not the type (NLA_F_NESTED, NLA_F_NET_BYTEORDER) */
const NLA_TYPE_MASK = 0x3fff;

export type NflogResult = { start: number; end: number } | 'nflog-truncated' | 'nflog-bad-tlv' | 'nflog-no-payload' | 'not-ip';

/** Where the IP packet of an NFLOG frame is: [start, end) in `d` (end may pass d.length when the snaplen cut the frame). */
export function nflogPayload(d: Buffer): NflogResult {
  const len = d.length;
  if (len < NFLOG_HEADER + 4) return 'nflog-truncated';
  if (d[1] !== 0) return 'nflog-bad-tlv'; // version 0 is the only one
  const family = d[0];
  // AF_INET, AF_INET6; AF_UNSPEC (0) and bridge (7) log IP packets too; the payload's version nibble decides
  if (family !== 2 && family !== 10 && family !== 0 && family !== 7) return 'not-ip';
  const typeLe = d.readUInt16LE(NFLOG_HEADER + 2) & NLA_TYPE_MASK;
  const le = typeLe < 256;
  let p = NFLOG_HEADER;
  for (let n = 0; n < MAX_NFLOG_TLVS; n++) {
    if (p + 4 > len) return p === len ? 'nflog-no-payload' : 'nflog-truncated';
    const tlvLen = le ? d.readUInt16LE(p) : d.readUInt16BE(p);
    const type = (le ? d.readUInt16LE(p + 2) : d.readUInt16BE(p + 2)) & NLA_TYPE_MASK;
    if (tlvLen < 4) return 'nflog-bad-tlv';
    if (type === NFULA_PAYLOAD) {
      if (tlvLen === 4) return 'nflog-no-payload';
      return { start: p + 4, end: p + tlvLen };
    }
    p += (tlvLen + 3) & ~3;
    if (p > len) return 'nflog-truncated';
  }
  return 'nflog-bad-tlv';
}
