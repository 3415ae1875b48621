/**
 * The link types the decoder reads, and their names for messages. The live capture checks an
 * interface's link type against the same table before it opens it (src/live/capture.ts).
 * A new link type: a case in Decoder.decode (and plainNotImds when its header is fixed),
 * its number here, a capture in the testkit (docs/design.md).
 */

/** LINKTYPE_* values the decoder reads; any other is counted as `unknown-linktype` */
export const DECODABLE_LINK_TYPES: readonly number[] = [0, 1, 12, 101, 108, 113, 228, 229, 239, 276];

export function isDecodableLinkType(linkType: number): boolean {
  return DECODABLE_LINK_TYPES.includes(linkType);
}

const LINK_TYPE_NAMES: Record<number, string> = {
  0: 'NULL', 1: 'ETHERNET', 9: 'PPP', 12: 'RAW', 50: 'PPP_HDLC', 101: 'RAW', 105: 'IEEE802_11', 108: 'LOOP', 113: 'LINUX_SLL',
  127: 'IEEE802_11_RADIO', 189: 'USB_LINUX', 201: 'BLUETOOTH_HCI_H4_WITH_PHDR', 220: 'USB_LINUX_MMAPPED', 228: 'IPV4', 229: 'IPV6',
  239: 'NFLOG', 242: 'IPOIB', 247: 'INFINIBAND', 253: 'NETLINK', 276: 'LINUX_SLL2',
};

/** "147 (USER0)": a link type for a message */
export function linkTypeText(linkType: number): string {
  const name = LINK_TYPE_NAMES[linkType] ?? (linkType >= 147 && linkType <= 162 ? `USER${linkType - 147}` : null);
  return name ? `${linkType} (${name})` : String(linkType);
}
