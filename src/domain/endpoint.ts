/**
 * The bottom floor: what IMDS is on the wire and the defaults every command shares.
 * Nothing here imports anything; every stage that needs the endpoint or a shared default
 * takes it from here (docs/imds-facts.md#endpoint, docs/design.md#bounds).
 */

/** IMDS over IPv4: 169.254.169.254 (link-local, answered by the Nitro card / Xen host) */
export const IMDS_V4_TEXT = '169.254.169.254';
/** the same address as one big-endian 32-bit word, for header-level compares */
export const IMDS_V4_WORD = 0xa9fea9fe;
/** IMDS over IPv6 (Nitro instances with the IPv6 endpoint enabled): fd00:ec2::254 */
export const IMDS_V6_TEXT = 'fd00:ec2::254';
/** fd00:0ec2:0000:0000:0000:0000:0000:0254 as four 32-bit words: first and last (the middle two are 0) */
export const IMDS_V6_WORD0 = 0xfd000ec2;
export const IMDS_V6_WORD3 = 0x00000254;
/** IMDS listens on plain HTTP, port 80 only */
export const IMDS_PORT = 80;

/** libpcap filter for IMDS TCP in both directions, both families */
export const IMDS_BPF = `tcp and ((host ${IMDS_V4_TEXT} and port ${IMDS_PORT}) or (host ${IMDS_V6_TEXT} and port ${IMDS_PORT}))`;

/** NFQUEUE number of the SYN gate (scan and daemon; --queue-num) */
export const DEFAULT_QUEUE_NUM = 7;
/** NFQUEUE numbers are 16 bits */
export const QUEUE_NUM_MAX = 65535;

/**
 * Longest a held SYN waits for its /proc lookup. The client's connect() waits this long at
 * most (its SYN is held), well under the 1 s SDK connect timeouts (docs/design.md#syn-gate).
 */
export const DEFAULT_GATE_BUDGET_MS = 50;
export const GATE_BUDGET_MIN_MS = 1;
export const GATE_BUDGET_MAX_MS = 5000;
/** lookup budget of a passive (ungated) /proc lookup, per flow */
export const DEFAULT_PASSIVE_BUDGET_MS = 10;

/** where the daemon keeps its state for `imdswatch report` */
export const DEFAULT_STATE_PATH = '/var/lib/imdswatch/state.json';
/** the daemon's optional JSON config file */
export const DEFAULT_CONFIG_FILE = '/etc/imdswatch/config.json';
