/**
 * The I/O edge of `imdswatch doctor`: reads files and runs commands to gather the
 * facts that checks.ts judges. Nothing here decides anything.
 */
import { IMDS_PORT, IMDS_V4_TEXT } from '../domain/endpoint.js';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { delimiter, join } from 'node:path';
import { DOCTOR_PROBE_USER_AGENT } from '../sinks/state-store.js';
import type { Ec2Facts, FirewallFacts, ImdsProbeResult, PathFacts, ServiceFacts } from './checks.js';

/** file content, or null when it cannot be read */
export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** stdout of a command, or null when it cannot run or exits non-zero */
export function commandOutput(cmd: string, args: string[], timeoutMs = 5000): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  } catch {
    return null;
  }
}

/** stdout even when the command exits non-zero (systemctl is-active prints "inactive" and exits 3) */
export function commandOutputAnyExit(cmd: string, args: string[], timeoutMs = 5000): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  } catch (err) {
    const out = (err as { stdout?: string }).stdout;
    return typeof out === 'string' && out.length > 0 ? out : null;
  }
}

/** sbin directories a non-root user's PATH usually lacks (Debian): iptables is there, not "not installed" */
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** a tool's path: PATH first, then the sbin directories; the bare name when found nowhere */
export function resolveTool(cmd: string, pathEnv = process.env.PATH ?? ''): string {
  if (cmd.includes('/')) return cmd;
  for (const dir of [...pathEnv.split(delimiter).filter(Boolean), ...SBIN_DIRS]) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return join(dir, cmd);
    } catch {
      // not here
    }
  }
  return cmd;
}

export function firewallFacts(): FirewallFacts {
  return {
    iptables: commandOutput(resolveTool('iptables'), ['-V']),
    ip6tables: commandOutput(resolveTool('ip6tables'), ['-V']),
    nft: commandOutput(resolveTool('nft'), ['--version']),
  };
}

export function pathFacts(path: string): PathFacts {
  try {
    const st = statSync(path);
    const files: Array<{ name: string; mode: number }> = [];
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(path);
      } catch (err) {
        // there, but this user may not look inside (a 0700 directory of the service user)
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES' || code === 'EPERM') return { path, exists: true, mode: st.mode & 0o7777, uid: st.uid, unreadable: true };
        throw err;
      }
      for (const name of names) {
        try {
          const fst = statSync(join(path, name));
          if (fst.isFile()) files.push({ name, mode: fst.mode & 0o7777 });
        } catch {
          // vanished between readdir and stat
        }
      }
    }
    return { path, exists: true, mode: st.mode & 0o7777, uid: st.uid, files };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // a path under a directory this user may not search exists for all we know
    if (code === 'EACCES' || code === 'EPERM') return { path, exists: true, unreadable: true };
    return { path, exists: false };
  }
}

/** uid of a user from /etc/passwd, null when absent */
export function userUid(name: string, passwdText: string | null = readText('/etc/passwd')): number | null {
  for (const line of (passwdText ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return null;
}

export function ec2Facts(dmiDir = '/sys/devices/virtual/dmi/id', hypervisorUuid = '/sys/hypervisor/uuid'): Ec2Facts {
  return {
    sysVendor: readText(join(dmiDir, 'sys_vendor')),
    boardAssetTag: readText(join(dmiDir, 'board_asset_tag')),
    biosVersion: readText(join(dmiDir, 'bios_version')),
    hypervisorUuid: readText(hypervisorUuid),
  };
}

export function pid1Name(): string {
  return (readText('/proc/1/comm') ?? 'unknown').trim();
}

export function serviceFacts(unit = 'imdswatch.service'): ServiceFacts {
  const pid1 = pid1Name();
  if (pid1 !== 'systemd') return { pid1, active: null, enabled: null };
  return {
    pid1,
    active: commandOutputAnyExit('systemctl', ['is-active', unit]),
    enabled: commandOutputAnyExit('systemctl', ['is-enabled', unit]),
  };
}

/** MainPID of the unit when it runs, else null */
export function serviceMainPid(unit = 'imdswatch.service'): number | null {
  if (pid1Name() !== 'systemd') return null;
  const out = commandOutput('systemctl', ['show', '-p', 'MainPID', '--value', unit]);
  const pid = Number(out?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/**
 * One IMDSv2 token request (PUT /latest/api/token, TTL 60 s) with a short timeout.
 * Only the status is kept: the body (the token) is discarded unread and never printed.
 * A token PUT is not an IMDSv1 call, so the doctor never shows up in imdswatch's findings.
 */
export function probeImds(host = IMDS_V4_TEXT, port = IMDS_PORT, timeoutMs = 1000): Promise<ImdsProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ImdsProbeResult) => {
      if (!done) {
        done = true;
        resolve(r);
      }
    };
    const req = request(
      { host, port, method: 'PUT', path: '/latest/api/token', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60', 'User-Agent': DOCTOR_PROBE_USER_AGENT }, timeout: timeoutMs },
      (res) => {
        res.resume(); // discard the token
        finish({ status: res.statusCode ?? null });
      },
    );
    req.on('timeout', () => {
      req.destroy();
      finish({ status: null, error: `no answer within ${timeoutMs} ms` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish({ status: null, error: err.code ?? 'error' }));
    req.end();
  });
}
