/**
 * `imdswatch doctor` checks. Every check is a pure function of facts gathered by
 * probe.ts (file contents, command results), so tests feed fixtures instead of a live
 * host. Each returns one DoctorLine: what was found and, when something is wrong, the
 * fix as a command or setting.
 */

export type DoctorStatus = 'ok' | 'fail' | 'warn' | 'info';

export interface DoctorLine {
  /** stable id, e.g. "libpcap", "capabilities" */
  id: string;
  status: DoctorStatus;
  /** one line: what was found */
  message: string;
  /** what to do about it (for fail and warn) */
  fix?: string;
}

// ---------------------------------------------------------------------------
// libpcap / cap

export interface LibpcapFacts {
  /** the `cap` binding loaded */
  loaded: boolean;
  /** first line of the load error */
  error?: string;
}

export function checkLibpcap(f: LibpcapFacts): DoctorLine {
  if (f.loaded) return { id: 'libpcap', status: 'ok', message: 'libpcap and the cap binding load' };
  const e = f.error ?? 'unknown error';
  const missingLib = /libpcap/i.test(e);
  return {
    id: 'libpcap',
    status: 'fail',
    message: `cannot load the cap binding: ${e}`,
    fix: missingLib
      ? 'install libpcap: apt-get install libpcap0.8 (dnf install libpcap)'
      : 'rebuild the native binding for this Node: cd /opt/imdswatch && npm rebuild cap (needs libpcap-dev, make, g++)',
  };
}

// ---------------------------------------------------------------------------
// capabilities

/** Linux capability numbers (include/uapi/linux/capability.h). */
export const CAP_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** What capture, the gate and /proc attribution need, and why. */
export const REQUIRED_CAPS: ReadonlyArray<{ name: string; why: string }> = [
  { name: 'CAP_NET_RAW', why: 'packet capture' },
  { name: 'CAP_NET_ADMIN', why: 'gate firewall rules and nfqueue' },
  { name: 'CAP_SYS_PTRACE', why: "reading other users' /proc/PID/fd" },
  { name: 'CAP_DAC_READ_SEARCH', why: "reading other users' /proc entries" },
];

/** Capability names in a hex mask as /proc/PID/status prints it (CapEff: 000001ffffffffff). */
export function decodeCapMask(hex: string): string[] {
  const t = hex.trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(t)) return [];
  const mask = BigInt(`0x${t}`);
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) out.push(CAP_NAMES[bit] ?? `CAP_${bit}`);
  }
  return out;
}

/** The CapEff mask from /proc/PID/status text, or null when absent. */
export function parseCapEff(statusText: string): string | null {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText);
  return m ? m[1]! : null;
}

export interface CapabilityFacts {
  /** whose capabilities: "this process", "the imdswatch daemon (pid 123)" */
  subject: string;
  /** /proc/PID/status text */
  statusText: string | null;
}

export function checkCapabilities(f: CapabilityFacts): DoctorLine {
  const mask = f.statusText === null ? null : parseCapEff(f.statusText);
  if (mask === null) {
    return { id: 'capabilities', status: 'warn', message: `cannot read the capabilities of ${f.subject}`, fix: 'run doctor as root' };
  }
  const have = new Set(decodeCapMask(mask));
  const missing = REQUIRED_CAPS.filter((c) => !have.has(c.name));
  if (missing.length === 0) {
    return { id: 'capabilities', status: 'ok', message: `${f.subject} has ${REQUIRED_CAPS.map((c) => c.name).join(', ')}` };
  }
  return {
    id: 'capabilities',
    status: 'fail',
    message: `${f.subject} lacks ${missing.map((c) => `${c.name} (${c.why})`).join(', ')}`,
    fix: 'run as root (sudo), or as the installed service, whose unit grants them with AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH',
  };
}

// ---------------------------------------------------------------------------
// firewall tools and gate rules

export interface FirewallFacts {
  /** `iptables -V` output, null when not runnable */
  iptables: string | null;
  ip6tables: string | null;
  nft: string | null;
}

export function checkFirewallTools(f: FirewallFacts): DoctorLine {
  if (f.iptables) {
    const v6 = f.ip6tables ? '' : ' (no ip6tables: IPv6 IMDS calls are not gated)';
    return { id: 'firewall', status: f.ip6tables ? 'ok' : 'warn', message: `${f.iptables.trim()}${v6}`, ...(f.ip6tables ? {} : { fix: 'apt-get install iptables (it brings ip6tables)' }) };
  }
  if (f.nft) return { id: 'firewall', status: 'ok', message: `no iptables; ${f.nft.trim()} (the gate uses an nftables queue rule)` };
  return {
    id: 'firewall',
    status: 'fail',
    message: 'neither iptables nor nft is installed: the SYN gate cannot hold connections, attribution is best effort',
    fix: 'apt-get install iptables (or run the daemon with --no-gate)',
  };
}

export interface GateRuleFacts {
  /** from gateRuleStatus(4): chain present, jumps per hook */
  v4: { chain: boolean; jumps: Record<string, number> } | null;
  v6: { chain: boolean; jumps: Record<string, number> } | null;
  /** nft table inet imdswatch present */
  nftTable: boolean;
  /** the daemon is running (null: unknown) */
  daemonRunning: boolean | null;
  /** could not list rules (no privilege) */
  listError?: string;
}

function jumpCount(s: { jumps: Record<string, number> } | null): number {
  return s ? Object.values(s.jumps).reduce((a, b) => a + b, 0) : 0;
}

export function checkGateRules(f: GateRuleFacts): DoctorLine {
  if (f.listError) {
    return { id: 'gate-rules', status: 'warn', message: `cannot list firewall rules: ${f.listError}`, fix: 'run as root: sudo imdswatch doctor (listing rules needs CAP_NET_ADMIN)' };
  }
  const present = Boolean(f.v4?.chain || f.v6?.chain || f.nftTable);
  const jumps = jumpCount(f.v4) + jumpCount(f.v6);
  const where = [f.v4?.chain ? `iptables chain IMDSWATCH (${jumpCount(f.v4)} jumps)` : '', f.v6?.chain ? `ip6tables chain IMDSWATCH (${jumpCount(f.v6)} jumps)` : '', f.nftTable ? 'nft table inet imdswatch' : '']
    .filter(Boolean)
    .join(', ');
  if (f.daemonRunning === true) {
    if (present && (jumps > 0 || f.nftTable)) return { id: 'gate-rules', status: 'ok', message: `gate rules in place: ${where}` };
    return {
      id: 'gate-rules',
      status: 'warn',
      message: present ? `gate chain present but nothing jumps to it: ${where}` : 'the daemon runs but no gate rule is in place: attribution of short-lived clients is best effort',
      fix: 'check the daemon log (journalctl -u imdswatch) for a gate error; restart it: systemctl restart imdswatch',
    };
  }
  if (f.daemonRunning === null) {
    // no systemd to ask: a foreground daemon or scan may own the rules
    if (!present) return { id: 'gate-rules', status: 'ok', message: 'no gate rules in place' };
    return { id: 'gate-rules', status: 'info', message: `gate rules in place: ${where} (from a running daemon or scan; if none runs: imdswatch gate --remove)` };
  }
  if (!present) return { id: 'gate-rules', status: 'ok', message: 'no gate rules (the daemon is not running)' };
  return {
    id: 'gate-rules',
    status: 'warn',
    message: `gate rules left behind while the daemon is not running: ${where} (harmless: they bypass when no one listens)`,
    fix: 'imdswatch gate --remove',
  };
}

// ---------------------------------------------------------------------------
// log directory

export interface PathFacts {
  path: string;
  exists: boolean;
  /** permission bits */
  mode?: number;
  uid?: number;
  /** files directly inside (for a directory) */
  files?: Array<{ name: string; mode: number }>;
  /** it exists but this user may not read it */
  unreadable?: boolean;
}

/** what to say when something is there but this user may not read it */
export const RUN_AS_ROOT = 'run as root (or as the imdswatch user)';

const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, '0');

/** `expectedUid`: the service user's uid, null when that user does not exist */
export function checkLogDir(f: PathFacts, expectedUid: number | null, userName = 'imdswatch'): DoctorLine {
  if (f.exists && f.unreadable) {
    return { id: 'log-dir', status: 'warn', message: `${f.path} exists but this user cannot read it`, fix: `${RUN_AS_ROOT}: sudo imdswatch doctor` };
  }
  if (!f.exists) {
    return {
      id: 'log-dir',
      status: 'warn',
      message: `${f.path} does not exist yet`,
      fix: 'systemd creates it (LogsDirectory=) when the service first starts: systemctl start imdswatch',
    };
  }
  const problems: string[] = [];
  if (f.mode !== undefined && (f.mode & 0o077) !== 0) problems.push(`directory mode ${octal(f.mode)}, want 0700`);
  if (expectedUid !== null && f.uid !== undefined && f.uid !== expectedUid) problems.push(`owned by uid ${f.uid}, not ${userName}`);
  const loose = (f.files ?? []).filter((x) => (x.mode & 0o077) !== 0);
  for (const x of loose.slice(0, 3)) problems.push(`${x.name} mode ${octal(x.mode)}, want 0600`);
  if (loose.length > 3) problems.push(`${loose.length - 3} more files readable by others`);
  if (problems.length === 0) {
    return { id: 'log-dir', status: 'ok', message: `${f.path}: 0700, ${(f.files ?? []).length} file(s), all 0600` };
  }
  return {
    id: 'log-dir',
    status: 'fail',
    message: `${f.path}: ${problems.join('; ')}`,
    fix: `chmod 0700 ${f.path} && chmod 0600 ${f.path}/*${expectedUid !== null ? ` && chown -R ${userName}: ${f.path}` : ''}`,
  };
}

// ---------------------------------------------------------------------------
// EC2 and IMDS

export interface Ec2Facts {
  /** /sys/devices/virtual/dmi/id/sys_vendor */
  sysVendor: string | null;
  /** /sys/devices/virtual/dmi/id/board_asset_tag (an instance id on Nitro) */
  boardAssetTag: string | null;
  /** /sys/devices/virtual/dmi/id/bios_version (contains "amazon" on Xen instances) */
  biosVersion: string | null;
  /** /sys/hypervisor/uuid (Xen: starts with "ec2") */
  hypervisorUuid: string | null;
}

/** the evidence that this is an EC2 instance, or null */
export function ec2Evidence(f: Ec2Facts): string | null {
  if (f.sysVendor?.trim() === 'Amazon EC2') return 'DMI sys_vendor is "Amazon EC2"';
  if (f.boardAssetTag && /^i-[0-9a-f]{8,17}$/.test(f.boardAssetTag.trim())) return `board asset tag ${f.boardAssetTag.trim()}`;
  if (f.hypervisorUuid && /^ec2/i.test(f.hypervisorUuid.trim())) return 'Xen hypervisor uuid starts with ec2';
  if (f.biosVersion && /amazon/i.test(f.biosVersion)) return `BIOS version "${f.biosVersion.trim()}"`;
  return null;
}

export function checkEc2(f: Ec2Facts): DoctorLine {
  const ev = ec2Evidence(f);
  if (ev) return { id: 'ec2', status: 'ok', message: `this looks like an EC2 instance (${ev})` };
  return {
    id: 'ec2',
    status: 'warn',
    message: 'this does not look like an EC2 instance (no Amazon EC2 DMI data, no ec2 hypervisor uuid)',
    fix: 'nothing to do on a non-EC2 host; imdswatch still works against a simulator or for replaying captures',
  };
}

export interface ImdsProbeResult {
  /** the probe was not run (--no-imds) */
  skipped?: boolean;
  /** HTTP status of the token PUT, null when no answer */
  status: number | null;
  /** network error code (ETIMEDOUT, ENETUNREACH, ...) when no answer */
  error?: string;
}

export function checkImds(r: ImdsProbeResult, looksLikeEc2: boolean): DoctorLine {
  if (r.skipped) return { id: 'imds', status: 'info', message: 'IMDS probe skipped' };
  if (r.status === 200) return { id: 'imds', status: 'ok', message: 'IMDS answers a token request (IMDSv2 works from this host)' };
  if (r.status === 403) {
    return { id: 'imds', status: 'warn', message: 'IMDS refused the token request (403): a proxy adds X-Forwarded-For, or IMDS is disabled', fix: 'check HttpEndpoint=enabled and that no proxy sits in front of 169.254.169.254' };
  }
  if (r.status !== null) return { id: 'imds', status: 'warn', message: `IMDS answered the token request with HTTP ${r.status}` };
  const why = r.error ?? 'no answer';
  return {
    id: 'imds',
    status: 'warn',
    message: `IMDS at 169.254.169.254 is not reachable (${why})`,
    fix: looksLikeEc2
      ? 'check the instance metadata options (HttpEndpoint=enabled), the route to 169.254.169.254 and local firewall rules'
      : 'expected off EC2; imdswatch will simply see no IMDS traffic here',
  };
}

// ---------------------------------------------------------------------------
// service

export interface ServiceFacts {
  /** comm of PID 1 */
  pid1: string;
  /** `systemctl is-active imdswatch` output (active, inactive, failed, ...) or null */
  active: string | null;
  /** `systemctl is-enabled imdswatch` output or null */
  enabled: string | null;
}

export function checkService(f: ServiceFacts): DoctorLine {
  if (f.pid1 !== 'systemd') {
    return { id: 'service', status: 'info', message: `systemd is not running here (PID 1 is "${f.pid1}"): no service to check; run imdswatch daemon or scan directly` };
  }
  const active = (f.active ?? 'unknown').trim();
  const enabled = (f.enabled ?? 'unknown').trim();
  if (enabled === 'not-found' || (active === 'inactive' && enabled === 'unknown')) {
    return { id: 'service', status: 'warn', message: 'imdswatch.service is not installed', fix: 'sudo ./install.sh (from the imdswatch source tree)' };
  }
  if (active === 'active') {
    if (enabled === 'enabled') return { id: 'service', status: 'ok', message: 'imdswatch.service is active and enabled for boot' };
    return { id: 'service', status: 'warn', message: `imdswatch.service is active but ${enabled} (it will not start at boot)`, fix: 'systemctl enable imdswatch' };
  }
  if (active === 'failed') {
    return { id: 'service', status: 'fail', message: 'imdswatch.service has failed', fix: 'journalctl -u imdswatch -b (then: systemctl restart imdswatch)' };
  }
  // installed but not running: nothing is observed, every minute is a gap in the report
  return {
    id: 'service',
    status: 'fail',
    message: `imdswatch.service is ${active} (${enabled}): nothing is being observed (a gap in the readiness report)`,
    fix: enabled === 'enabled' ? 'systemctl start imdswatch (journalctl -u imdswatch -b says why it stopped)' : 'systemctl enable --now imdswatch',
  };
}

// ---------------------------------------------------------------------------
// Node

export function checkNode(version: string, minMajor = 20): DoctorLine {
  const major = Number(/^v?(\d+)/.exec(version)?.[1]);
  if (Number.isInteger(major) && major >= minMajor) return { id: 'node', status: 'ok', message: `Node.js ${version}` };
  return { id: 'node', status: 'fail', message: `Node.js ${version} is too old (need >= ${minMajor})`, fix: 'install Node.js 20 or newer and rerun install.sh' };
}
