import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { IMDS_PORT, IMDS_V4_TEXT, IMDS_V6_TEXT } from '../domain/endpoint.js';
import { EnforceError, type Workload } from './workload.js';

/**
 * The enforce redirect (docs/design.md#enforce): one nftables table, created with
 * `flags owner` (NFT_TABLE_F_OWNER, kernel >= 5.12) by an `nft -i` child that imdswatch keeps
 * running with its stdin on a pipe. The kernel deletes an owned table when the netlink socket
 * that created it closes, i.e. when that nft exits; nft exits at end of input, which is when
 * imdswatch exits, however it exits (SIGKILL too: the kernel closes the pipe). So the rules
 * live exactly as long as the process that answers for them: the fail-open needs no timer.
 *
 * nft resolves `socket cgroupv2 level N "PATH"` below /sys/fs/cgroup. On systemd's hybrid
 * layout the cgroup v2 tree is elsewhere (/sys/fs/cgroup/unified): nft then runs in a mount
 * namespace of its own (`unshare -m`) where the v2 root is bind-mounted on /sys/fs/cgroup;
 * nothing of the host's mounts changes.
 */
export interface EnforceRule {
  workload: Pick<Workload, 'path' | 'level'>;
  /** local port of the responder for this workload (IPv4, IPv6 listener); null = family not redirected */
  port4: number | null;
  port6: number | null;
}

export interface TableSpec {
  table: string;
  rules: EnforceRule[];
  /** imdswatch's own cgroup when it lies inside a selected one: its sockets are never redirected */
  exclude: Pick<Workload, 'path' | 'level'> | null;
}

/** table name of one enforce process (one owner per table) */
export const tableName = (pid = process.pid): string => `imdswatch_enforce_${pid}`;
/** every enforce table starts with this (for `nft list tables` checks) */
export const TABLE_PREFIX = 'imdswatch_enforce_';

const match = (w: Pick<Workload, 'path' | 'level'>): string => `socket cgroupv2 level ${w.level} "${w.path}"`;

/** nat OUTPUT's usual place (NF_IP_PRI_NAT_DST) */
export const NAT_PRIORITY = -100;

/** the nft -i lines that build the table (pure) */
export function tableCommands(spec: TableSpec): string[] {
  const t = `inet ${spec.table}`;
  const lines = [`add table ${t} { flags owner; }`, `add chain ${t} out { type nat hook output priority ${NAT_PRIORITY}; policy accept; }`];
  // an accept in this nat chain only means "no redirect from here"
  if (spec.exclude) lines.push(`add rule ${t} out ${match(spec.exclude)} accept`);
  for (const r of spec.rules) {
    if (r.port4 !== null) lines.push(`add rule ${t} out ${match(r.workload)} ip daddr ${IMDS_V4_TEXT} tcp dport ${IMDS_PORT} redirect to :${r.port4}`);
    if (r.port6 !== null) lines.push(`add rule ${t} out ${match(r.workload)} ip6 daddr ${IMDS_V6_TEXT} tcp dport ${IMDS_PORT} redirect to :${r.port6}`);
  }
  return lines;
}

/** which of nft and unshare are missing (empty when both run) */
export function missingTools(): string[] {
  const missing: string[] = [];
  for (const [cmd, arg] of [['nft', '--version'], ['unshare', '--version']] as const) {
    const r = spawnSync(cmd, [arg], { stdio: 'ignore', timeout: 10_000 });
    if (r.error || r.status !== 0) missing.push(cmd);
  }
  return missing;
}

function isPrivilegeError(text: string): boolean {
  return /permission denied|operation not permitted|you must be root/i.test(text);
}

export interface OwnedTableOptions {
  /** the cgroup v2 root (bind-mounted on /sys/fs/cgroup for nft when it is elsewhere) */
  cgroupRoot: string;
  /** called once if nft exits while the table should be in place (the rules are gone: fail-open) */
  onLost?: (why: string) => void;
  timeoutMs?: number;
}

export class OwnedTable {
  private stopping = false;
  private exited = false;

  private constructor(
    readonly spec: TableSpec,
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly exitPromise: Promise<void>,
  ) {}

  /**
   * Start nft, build the table, and wait until nft lists it with every rule. Throws
   * EnforceError when it cannot: nft is then stopped, and with it the table is gone (nothing
   * half-installed).
   */
  static async install(spec: TableSpec, opts: OwnedTableOptions): Promise<OwnedTable> {
    const argv =
      opts.cgroupRoot.replace(/\/+$/, '') === '/sys/fs/cgroup'
        ? ['nft', '-i']
        : ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /sys/fs/cgroup && exec nft -i', opts.cgroupRoot];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let exited = false;
    const exitPromise = new Promise<void>((resolve) => {
      child.on('exit', () => {
        exited = true;
        resolve();
      });
      child.on('error', (err) => {
        stderr += `${err.message}\n`;
        exited = true;
        resolve();
      });
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    const expected = spec.rules.reduce((n, r) => n + (r.port4 !== null ? 1 : 0) + (r.port6 !== null ? 1 : 0), 0);
    child.stdin.write(`${tableCommands(spec).join('\n')}\nlist table inet ${spec.table}\n`);
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    const failed = (): string | null => {
      if (/Error:/.test(stderr)) return stderr.split('\n').find((l) => /Error:/.test(l)) ?? 'nft error';
      if (exited) return stderr.trim().split('\n')[0] || 'nft exited';
      if (Date.now() > deadline) return 'nft did not answer in time';
      return null;
    };
    for (;;) {
      const problem = failed();
      if (problem) {
        child.kill('SIGKILL');
        await exitPromise;
        if (isPrivilegeError(stderr)) throw new EnforceError('E_ENFORCE_NO_PRIVILEGE', `imdswatch enforce needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN): ${problem.trim()} (nothing was installed)`);
        throw new EnforceError('E_ENFORCE_RULE_FAILED', `nft refused the enforce table: ${problem.trim()} (nothing was installed)`);
      }
      if ((stdout.match(/redirect to :/g) ?? []).length >= expected && /\n\}\s*$/.test(stdout)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const table = new OwnedTable(spec, child, exitPromise);
    void exitPromise.then(() => {
      table.exited = true;
      if (!table.stopping) opts.onLost?.(`nft exited (${stderr.trim().split('\n')[0] || 'no message'}): the enforce table went with it`);
    });
    return table;
  }

  /** the nft process that owns the table (tests) */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** delete the table and end nft; resolves when nft has exited (the kernel has dropped the table) */
  async remove(): Promise<void> {
    if (this.stopping) return this.exitPromise;
    this.stopping = true;
    if (!this.exited) {
      this.child.stdin.end(`delete table inet ${this.spec.table}\n`);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exitPromise;
      clearTimeout(timer);
    }
  }

  /** at process exit (no event loop left): kill nft; the kernel drops its table */
  removeNow(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
