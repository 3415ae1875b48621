/**
 * Every error code imdswatch uses, in one place: what it means and what fixes it.
 * docs/errors.md lists the same codes (test/errors/catalogue.test.ts keeps the two equal).
 *
 * Two kinds:
 * - `error`: raised as an ImdswatchError and reported as one line (`imdswatch: ...`, exit 2)
 *   or, for the SYN gate, as one warning (the run continues with passive attribution);
 * - `counter`: never raised; counted per occurrence (report `input.skipped`, replay/scan
 *   json, the `imdswatch_parse_errors_total{code}` metric).
 */
export const ERROR_CATALOGUE = {
  E_USAGE: { kind: 'error', meaning: 'a command-line flag, setting or config file value is not valid', fix: 'run the command with --help; the message names the setting and what it takes' },
  E_OUTPUT: { kind: 'error', meaning: 'the --output file cannot be written', fix: 'check that its directory exists and is writable' },
  E_INPUT: { kind: 'error', meaning: '`report` cannot read a state or NDJSON file', fix: 'check the path and its permissions (run as root or as the imdswatch user)' },
  E_CAPTURE_EMPTY: { kind: 'error', meaning: 'a capture file has zero bytes', fix: 'capture again (tcpdump -w FILE) and let it write at least one packet' },
  E_CAPTURE_BAD_MAGIC: { kind: 'error', meaning: 'a file is neither classic pcap nor pcapng', fix: 'give a pcap or pcapng file (tcpdump -w, Wireshark, dumpcap)' },
  E_CAPTURE_TRUNCATED: { kind: 'error', meaning: 'a capture file ends inside a header or a record (e.g. the writer was killed)', fix: 'nothing to fix for what was read (it is reported); stop tcpdump with SIGINT to get a complete file' },
  E_CAPTURE_MALFORMED: { kind: 'error', meaning: 'a length or field in a capture file cannot be right (corrupt file)', fix: 'the packets before the offset named are reported; re-copy or re-capture the file' },
  E_CAPTURE_IO: { kind: 'error', meaning: 'a capture file cannot be opened or read (missing, permission, I/O error)', fix: 'check the path and permissions' },
  E_CAPTURE_NO_CAP: { kind: 'error', meaning: 'the libpcap binding (cap) cannot be loaded, so no live capture', fix: 'install libpcap (apt-get install libpcap0.8) and reinstall imdswatch so its native module builds' },
  E_CAPTURE_OPEN_FAILED: { kind: 'error', meaning: 'libpcap refused to open an interface for capture', fix: 'check the interface name (ip link) or use --interface any' },
  E_CAPTURE_LINKTYPE: { kind: 'error', meaning: 'an interface has a link type the decoder cannot read', fix: 'capture on another interface or on any' },
  E_LINKTYPE_UNSUPPORTED: { kind: 'error', meaning: 'every packet of a capture file has a link type the decoder cannot read, so no IMDS call in it could be seen', fix: 'capture with tcpdump -i any (Linux cooked, SLL2) or on an Ethernet interface; docs/design.md lists the link types read' },
  E_CAPTURE_NO_PRIVILEGE: { kind: 'error', meaning: 'live capture needs CAP_NET_RAW', fix: 'run as root or grant CAP_NET_RAW (the systemd unit does)' },
  E_GATE_NO_CAP: { kind: 'error', meaning: 'the SYN gate cannot load the libpcap binding to read its NFQUEUE', fix: 'install libpcap and reinstall imdswatch; meanwhile attribution is passive' },
  E_GATE_OPEN_FAILED: { kind: 'error', meaning: 'the NFQUEUE of the SYN gate cannot be opened', fix: 'check that the kernel has nfnetlink_queue (modprobe nfnetlink_queue); meanwhile attribution is passive' },
  E_GATE_NO_PRIVILEGE: { kind: 'error', meaning: 'installing the SYN gate (firewall rule, NFQUEUE) needs CAP_NET_ADMIN', fix: 'run as root or with CAP_NET_ADMIN, or pass --no-gate' },
  E_GATE_QUEUE_BUSY: { kind: 'error', meaning: 'another program already listens on the gate NFQUEUE number', fix: 'choose another --queue-num, or stop the other listener (another imdswatch?)' },
  E_GATE_NO_FIREWALL_TOOL: { kind: 'error', meaning: 'neither iptables nor a usable nft is installed', fix: 'apt-get install iptables, or pass --no-gate' },
  E_GATE_RULE_FAILED: { kind: 'error', meaning: 'iptables/nft ran and refused the gate rule (kernel without NFQUEUE support?)', fix: 'load the nfnetlink_queue and xt_NFQUEUE modules, or pass --no-gate' },
  E_DAEMON_RUNNING: { kind: 'error', meaning: 'an imdswatch daemon already runs on this host and owns the SYN gate', fix: 'read its log (imdswatch report), stop it, or scan with --no-gate' },
  E_HTTP_HEADERS_TOO_LARGE: { kind: 'counter', meaning: 'a request or response head is larger than the 8 KiB limit: the lines past it are read one by one for framing and the IMDS headers, not kept; the message is still reported (a request line over 8 KiB: an unreadable request, verdict UNKNOWN)', fix: 'none needed for IMDS (real heads are < 1 KiB); a client that sends such heads is not an SDK: find it by the event' },
  E_HTTP_TOO_MANY_HEADERS: { kind: 'counter', meaning: 'a message has more than 200 header lines: the lines past 200 are read for framing and the IMDS headers, not kept; the message is still reported', fix: 'none needed (not an SDK request)' },
  E_HTTP_BAD_START_LINE: { kind: 'counter', meaning: 'a line where a request or status line should start is not one: the stream resynchronises; on the request side it counts as an unreadable IMDS request (verdict UNKNOWN)', fix: 'none needed; many of them mean a capture that starts mid-stream or non-HTTP traffic on port 80' },
  E_HTTP_BAD_HEADER: { kind: 'counter', meaning: 'a header line without a colon or with bytes HTTP forbids', fix: 'none needed (the message is skipped)' },
  E_HTTP_BAD_CHUNK: { kind: 'counter', meaning: 'a chunked body with a bad chunk size line', fix: 'none needed (the stream resynchronises)' },
  E_HTTP_BAD_CONTENT_LENGTH: { kind: 'counter', meaning: 'a Content-Length that is not a number or two that differ', fix: 'none needed (the stream is abandoned)' },
  E_HTTP_GAP: { kind: 'counter', meaning: 'bytes missing in a TCP stream (capture loss, snaplen): the parser resynchronises at the next message', fix: 'capture with a full snaplen (tcpdump -s 0) and a larger buffer (-B)' },
  E_HTTP_TOO_MANY_PENDING: { kind: 'counter', meaning: 'more than 256 requests on one connection without a response: later requests get no status', fix: 'none needed (pipelining flood)' },
} as const satisfies Record<string, { kind: 'error' | 'counter'; meaning: string; fix: string }>;

/**
 * Every counted reason that is not an E_ code: what a stage skipped, under a fixed kebab-case
 * name (report `input.skipped`, replay/scan json `stages`, the daemon's
 * `imdswatch_stage_counter_total{stage,counter}`). docs/errors.md lists them under "Skip reasons";
 * the stage types below are taken from here, so a stage cannot count a reason that is not listed.
 */
export const SKIP_REASONS = {
  'pcapng-name-resolution-block': { stage: 'read', meaning: 'a pcapng name resolution block (not a packet): skipped', fix: 'none needed' },
  'pcapng-interface-statistics-block': { stage: 'read', meaning: 'a pcapng interface statistics block (not a packet): skipped', fix: 'none needed' },
  'pcapng-systemd-journal-block': { stage: 'read', meaning: 'a pcapng systemd journal export block (not a packet): skipped', fix: 'none needed' },
  'pcapng-decryption-secrets-block': { stage: 'read', meaning: 'a pcapng decryption secrets block (not a packet): skipped, never read', fix: 'none needed' },
  'pcapng-custom-block': { stage: 'read', meaning: 'a pcapng custom block: skipped', fix: 'none needed' },
  'pcapng-unknown-block': { stage: 'read', meaning: 'a pcapng block of a type imdswatch does not know: skipped', fix: 'none needed' },
  'pcapng-unknown-interface': { stage: 'read', meaning: 'a pcapng packet naming an interface no description block defined: skipped (may hide an IMDS request: verdict UNKNOWN)', fix: 're-capture; the file was edited or cut' },
  'pcapng-too-many-interfaces': { stage: 'read', meaning: 'a pcapng section with more interfaces than imdswatch keeps: later ones are skipped', fix: 'split the capture per interface' },
  'ethernet-truncated': { stage: 'decode', meaning: 'an Ethernet frame shorter than its header', fix: 'none needed (a damaged frame)' },
  'sll-truncated': { stage: 'decode', meaning: 'a Linux cooked (SLL) frame shorter than its header', fix: 'none needed (a damaged frame)' },
  'sll2-truncated': { stage: 'decode', meaning: 'a Linux cooked v2 (SLL2) frame shorter than its header', fix: 'none needed (a damaged frame)' },
  'raw-ip-truncated': { stage: 'decode', meaning: 'an empty raw IP frame', fix: 'none needed (a damaged frame)' },
  'raw-ip-bad-version': { stage: 'decode', meaning: 'a raw IP frame whose version is neither 4 nor 6', fix: 'none needed (not IP)' },
  'loopback-truncated': { stage: 'decode', meaning: 'a BSD loopback frame shorter than its header', fix: 'none needed (a damaged frame)' },
  'nflog-truncated': { stage: 'decode', meaning: 'an NFLOG frame that ends inside a TLV', fix: 'capture with a larger snaplen' },
  'nflog-bad-tlv': { stage: 'decode', meaning: 'an NFLOG frame with a bad version or TLV', fix: 'none needed (a damaged frame)' },
  'nflog-no-payload': { stage: 'decode', meaning: 'an NFLOG frame without a packet (NFULA_PAYLOAD)', fix: 'log with a copy range (nflog-range) that includes the packet' },
  'unknown-linktype': { stage: 'decode', meaning: 'a frame of a link type imdswatch cannot read (may hide an IMDS request: verdict UNKNOWN)', fix: 'capture with tcpdump -i any or on an Ethernet interface' },
  'vlan-too-many-tags': { stage: 'decode', meaning: 'a frame with more than 8 VLAN tags', fix: 'none needed (not real traffic)' },
  'vlan-truncated': { stage: 'decode', meaning: 'a frame that ends inside a VLAN tag', fix: 'none needed (a damaged frame)' },
  'ipv4-bad-header': { stage: 'decode', meaning: 'an IPv4 header that is cut or not valid', fix: 'none needed (a damaged packet)' },
  'ipv4-bad-total-length': { stage: 'decode', meaning: 'an IPv4 total length shorter than the header or longer than the packet', fix: 'none needed (a damaged packet)' },
  'ipv6-header-truncated': { stage: 'decode', meaning: 'a frame that ends inside the IPv6 header', fix: 'capture with a full snaplen (tcpdump -s 0)' },
  'ipv6-bad-header': { stage: 'decode', meaning: 'an IPv6 header whose version is not 6', fix: 'none needed (a damaged packet)' },
  'ipv6-bad-payload-length': { stage: 'decode', meaning: 'an IPv6 payload length longer than the packet (or 0 without a jumbogram)', fix: 'none needed (a damaged packet)' },
  'ipv6-too-many-ext-headers': { stage: 'decode', meaning: 'an IPv6 packet with more than 10 extension headers', fix: 'none needed (not real traffic)' },
  'ipv6-ext-header-truncated': { stage: 'decode', meaning: 'an IPv6 extension header cut by the end of the packet', fix: 'capture with a full snaplen (tcpdump -s 0)' },
  'ipv6-nested-fragment': { stage: 'decode', meaning: 'a reassembled IPv6 datagram that holds another fragment header', fix: 'none needed (not real traffic)' },
  'tcp-bad-header': { stage: 'decode', meaning: 'a TCP header longer than the packet', fix: 'none needed (a damaged packet)' },
  'tcp-header-truncated': { stage: 'decode', meaning: 'a TCP header cut by the snaplen', fix: 'capture with a full snaplen (tcpdump -s 0)' },
  'tcp-bad-data-offset': { stage: 'decode', meaning: 'a TCP data offset under 20 or past the packet', fix: 'none needed (a damaged packet)' },
  'ip-fragments': { stage: 'decode', meaning: 'IMDS fragments not reassembled: their datagram is incomplete (may hide an IMDS request: verdict UNKNOWN)', fix: 'capture on the interface that sees every fragment; check for loss (tcpdump -B)' },
  'ip-fragment-duplicate': { stage: 'decode', meaning: 'an IMDS fragment whose bytes were all held already', fix: 'none needed' },
  'ip-fragment-overlap-conflict': { stage: 'decode', meaning: 'an IMDS fragment overlapping held bytes with other bytes: kept out (the receiver may have read those: verdict UNKNOWN)', fix: 'find who sends overlapping fragments to IMDS' },
  'ip-fragment-after-reassembly': { stage: 'decode', meaning: 'a copy of a fragment of a datagram already reassembled (another interface saw it)', fix: 'none needed' },
  'ip-reassembly-too-large': { stage: 'decode', meaning: 'an IMDS datagram past 65 535 bytes: dropped', fix: 'none needed (not real traffic)' },
  'ip-reassembly-too-many-fragments': { stage: 'decode', meaning: 'an IMDS datagram in more than 1 024 fragments: dropped', fix: 'none needed (not real traffic)' },
  'ip-reassembly-truncated': { stage: 'decode', meaning: 'an IMDS datagram with a fragment cut by the snaplen: dropped', fix: 'capture with a full snaplen (tcpdump -s 0)' },
  'ip-reassembly-evicted': { stage: 'decode', meaning: 'an IMDS datagram in progress dropped to make room (4 096 datagrams or 4 MiB held)', fix: 'none needed unless it repeats (a fragment flood)' },
  'ip-reassembly-timeout': { stage: 'decode', meaning: 'an IMDS datagram still incomplete 60 s after its first fragment: dropped', fix: 'none needed' },
  'tcp-flows-evicted': { stage: 'tcp', meaning: 'IMDS connections evicted from the flow table under load (may hide an IMDS request: verdict UNKNOWN)', fix: 'find the connection flood; raise the flow limit' },
  'tcp-gap-bytes': { stage: 'tcp', meaning: 'bytes missing from the client side of IMDS connections (may hide an IMDS request: verdict UNKNOWN)', fix: 'capture with a full snaplen (tcpdump -s 0) and a larger buffer (-B)' },
  'tcp-response-gap-bytes': { stage: 'tcp', meaning: 'bytes missing from the server side of IMDS connections (an answer unread, never a request)', fix: 'capture with a larger buffer (-B)' },
  'request-without-version': { stage: 'imds', meaning: 'an HTTP/0.9-style request line (no version) sent to IMDS: no event (verdict UNKNOWN)', fix: 'find the client by its connection' },
  'request-unreadable': { stage: 'imds', meaning: 'a request line sent to IMDS that is not one, or is over 8 KiB: no event (verdict UNKNOWN; docs/design.md#unfinished-requests)', fix: 'find the client by its connection' },
  'not-imds-method': { stage: 'imds', meaning: 'a request with a method IMDS does not serve (not GET, HEAD or PUT)', fix: 'none needed' },
  'unclassifiable-truncated-head': { stage: 'imds', meaning: 'a request whose head was cut (snaplen, gap) or whose token header was too long to read: v1 or v2 cannot be told (verdict UNKNOWN)', fix: 'capture with a full snaplen (tcpdump -s 0)' },
  'gate-syn-not-captured': { stage: 'live', meaning: 'IMDS connections the SYN gate held whose packets the capture never showed (verdict UNKNOWN)', fix: 'a larger capture buffer; see imdswatch doctor' },
} as const satisfies Record<string, { stage: 'read' | 'decode' | 'tcp' | 'imds' | 'live'; meaning: string; fix: string }>;

export type SkipReason = keyof typeof SKIP_REASONS;
type ReasonOf<S extends string> = { [K in SkipReason]: (typeof SKIP_REASONS)[K]['stage'] extends S ? K : never }[SkipReason];
/** what the decoder and its IP reassembler count (DecodeStats.skipped; `ip-fragments` is DecodeStats.fragments) */
export type DecodeSkipReason = Exclude<ReasonOf<'decode'>, 'ip-fragments'>;
/** what the IMDS stage counts (ImdsStats.skipped) */
export type ImdsSkipReason = ReasonOf<'imds'>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** the codes the HTTP stage counts (never raised) */
export type HttpErrorCode = Extract<ErrorCode, `E_HTTP_${string}`>;
/** the codes of capture files (source stage) */
export type CaptureErrorCode = 'E_CAPTURE_EMPTY' | 'E_CAPTURE_BAD_MAGIC' | 'E_CAPTURE_TRUNCATED' | 'E_CAPTURE_MALFORMED' | 'E_CAPTURE_IO';
/** the codes of live capture */
export type LiveCaptureErrorCode = 'E_CAPTURE_NO_CAP' | 'E_CAPTURE_OPEN_FAILED' | 'E_CAPTURE_LINKTYPE' | 'E_CAPTURE_NO_PRIVILEGE';
/** the codes of the SYN gate's listener */
export type GateErrorCode = 'E_GATE_NO_CAP' | 'E_GATE_OPEN_FAILED' | 'E_GATE_NO_PRIVILEGE' | 'E_GATE_QUEUE_BUSY';
/** the codes of the SYN gate's firewall rules */
export type GateRulesErrorCode = 'E_GATE_NO_PRIVILEGE' | 'E_GATE_NO_FIREWALL_TOOL' | 'E_GATE_RULE_FAILED';

/**
 * The one error class: a stable code from the catalogue and a one-line message (no stack
 * shown to the user, never a token or a response body). Stage errors (capture, gate) are
 * subclasses only to carry extra fields; `instanceof ImdswatchError` catches them all.
 */
export class ImdswatchError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
  ) {
    super(message);
    this.name = 'ImdswatchError';
  }
}
