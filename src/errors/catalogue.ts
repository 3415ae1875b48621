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
  E_INPUT_NOT_FOUND: { kind: 'error', meaning: 'a `report` input file does not exist', fix: 'give an existing state/NDJSON file; for the default state file, install and start the daemon (imdswatch doctor)' },
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
  E_HTTP_HEADERS_TOO_LARGE: { kind: 'counter', meaning: 'a request or response head is larger than the 8 KiB limit: the message is skipped', fix: 'none needed for IMDS (real heads are < 1 KiB); traffic that is not an SDK' },
  E_HTTP_TOO_MANY_HEADERS: { kind: 'counter', meaning: 'a message has more than 200 header lines: it is skipped', fix: 'none needed (not an SDK request)' },
  E_HTTP_BAD_START_LINE: { kind: 'counter', meaning: 'a line where a request or status line should start is not one: the stream resynchronises', fix: 'none needed; many of them mean a capture that starts mid-stream or non-HTTP traffic on port 80' },
  E_HTTP_BAD_HEADER: { kind: 'counter', meaning: 'a header line without a colon or with bytes HTTP forbids', fix: 'none needed (the message is skipped)' },
  E_HTTP_BAD_CHUNK: { kind: 'counter', meaning: 'a chunked body with a bad chunk size line', fix: 'none needed (the stream resynchronises)' },
  E_HTTP_BAD_CONTENT_LENGTH: { kind: 'counter', meaning: 'a Content-Length that is not a number or two that differ', fix: 'none needed (the stream is abandoned)' },
  E_HTTP_GAP: { kind: 'counter', meaning: 'bytes missing in a TCP stream (capture loss, snaplen): the parser resynchronises at the next message', fix: 'capture with a full snaplen (tcpdump -s 0) and a larger buffer (-B)' },
  E_HTTP_TOO_MANY_PENDING: { kind: 'counter', meaning: 'more than 256 requests on one connection without a response: later requests get no status', fix: 'none needed (pipelining flood)' },
  E_ENFORCE_NO_CGROUP2: { kind: 'error', meaning: '`imdswatch enforce` found no cgroup v2 hierarchy (it selects workloads by their cgroup v2 path)', fix: 'boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) or mount it (mount -t cgroup2 none /sys/fs/cgroup/unified); --cgroup-root names an unusual mount point' },
  E_ENFORCE_NO_WORKLOAD: { kind: 'error', meaning: 'the unit, container or cgroup given to `imdswatch enforce` has no cgroup v2 group (not running, misspelt, or the root)', fix: 'check the name (systemctl status UNIT, docker ps, podman ps) or give the cgroup path with --cgroup' },
  E_ENFORCE_NO_NFT: { kind: 'error', meaning: '`imdswatch enforce` needs nft (nftables) and unshare (util-linux) and one of them is missing', fix: 'apt-get install nftables util-linux' },
  E_ENFORCE_NO_PRIVILEGE: { kind: 'error', meaning: '`imdswatch enforce` needs root (CAP_NET_ADMIN for its nftables table, CAP_SYS_ADMIN for the private mount of the cgroup root)', fix: 'run it as root' },
  E_ENFORCE_RULE_FAILED: { kind: 'error', meaning: 'nft refused the enforce table (kernel older than 5.12 without owner tables, no nf_nat or nft_socket cgroupv2 support)', fix: 'use a kernel with nft_socket cgroupv2 and owner tables (5.13 or later) and load nf_nat; nothing was installed' },
} as const satisfies Record<string, { kind: 'error' | 'counter'; meaning: string; fix: string }>;

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
/** the codes of `imdswatch enforce` (docs/design.md#enforce) */
export type EnforceErrorCode = Extract<ErrorCode, `E_ENFORCE_${string}`>;

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
