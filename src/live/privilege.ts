import { readFileSync } from 'node:fs';

/**
 * Which of the capabilities a live run needs this process lacks, read from the `CapEff`
 * line of /proc/self/status (parsing is a pure function of that text).
 *
 * - CAP_NET_RAW: packet capture; CAP_NET_ADMIN: gate rules and the nfqueue. Their absence
 *   already surfaces as an error (capture) or a warning (gate) where they are used.
 * - CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: listing and reading /proc/PID/fd of other
 *   users' processes. Without them lookups silently find nothing for those processes, so
 *   the live source warns once at start (measured in a lab: a non-root scan with only the
 *   two network capabilities held root's curl at the gate yet attributed it to no one).
 */
export const CAPABILITY_BITS = {
  CAP_DAC_READ_SEARCH: 2,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_SYS_PTRACE: 19,
} as const;

export type CapabilityName = keyof typeof CAPABILITY_BITS;

/** the effective capability mask from /proc/PID/status text, null when absent or malformed */
export function effectiveCapabilities(statusText: string): bigint | null {
  const m = /^CapEff:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(statusText);
  return m ? BigInt(`0x${m[1]}`) : null;
}

/** the names in `wanted` missing from the CapEff of `statusText` ([] when CapEff is unreadable) */
export function missingCapabilities(statusText: string, wanted: CapabilityName[]): CapabilityName[] {
  const eff = effectiveCapabilities(statusText);
  if (eff === null) return [];
  return wanted.filter((name) => (eff & (1n << BigInt(CAPABILITY_BITS[name]))) === 0n);
}

/** a one-line warning when this process cannot look up other users' processes, else null */
export function procLookupPrivilegeWarning(statusPath = '/proc/self/status'): string | null {
  let text: string;
  try {
    text = readFileSync(statusPath, 'utf8');
  } catch {
    return null;
  }
  const missing = missingCapabilities(text, ['CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH']);
  if (missing.length === 0) return null;
  return (
    `missing privilege ${missing.join(' and ')}: processes of other users cannot be looked up in /proc, ` +
    'so their calls stay unattributed; run as root or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH'
  );
}

/** true when this process has `name` in its effective set (true when CapEff cannot be read: assume the common root case) */
export function hasCapability(name: CapabilityName, statusPath = '/proc/self/status'): boolean {
  try {
    return missingCapabilities(readFileSync(statusPath, 'utf8'), [name]).length === 0;
  } catch {
    return true;
  }
}
