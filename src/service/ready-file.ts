import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Readiness for systemd. The unit (systemd/imdswatch.service) is Type=simple with an
 * ExecStartPost= that waits for `$RUNTIME_DIRECTORY/ready`: the unit counts as started —
 * and units ordered After= it (cloud-init-local, an early IMDS caller) start — only
 * once the daemon has written that file. The daemon must call markReady() after the
 * capture is open AND the gate rules are installed and its queue is open, so that the
 * first IMDS call of the boot is captured and attributed.
 *
 * (Type=notify would need NotifyAccess=all for a `systemd-notify` child, because Node
 * cannot send the datagram itself; that costs hardening score. A file in the private
 * RuntimeDirectory costs nothing and is removed by systemd at every stop.)
 */
export const READY_FILE_NAME = 'ready';

/** the ready file's path, or null when not run by systemd with a RuntimeDirectory= */
export function readyFilePath(env: NodeJS.ProcessEnv = process.env): string | null {
  const dir = env.RUNTIME_DIRECTORY?.split(':')[0];
  return dir ? join(dir, READY_FILE_NAME) : null;
}

/** Tell systemd the daemon is capturing. Returns the path written, or null (not under systemd, or failed). Never throws. */
export function markReady(env: NodeJS.ProcessEnv = process.env, pid = process.pid): string | null {
  const path = readyFilePath(env);
  if (!path) return null;
  try {
    const tmp = `${path}.${pid}.tmp`;
    writeFileSync(tmp, `${pid}\n`, { mode: 0o600 });
    renameSync(tmp, path);
    return path;
  } catch {
    return null;
  }
}
