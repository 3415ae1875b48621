import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureImageTar, IMAGE_NAME } from './image.js';
import type { ContainerHost } from './host.js';
import { run, type RunResult } from '../support/lab/proc.js';

/**
 * Rootless Podman: a system user made for the test (removed afterwards, with its subuid and
 * subgid ranges), a private HOME and XDG_RUNTIME_DIR, podman run as that user in the host
 * namespace through a private mount namespace that provides a usable /dev/net/tun (for
 * slirp4netns) and /dev/null (character devices mknod'ed on a tmpfs and bound over them
 * there only; the machine's nodes are never changed). Network: slirp4netns, the default.
 */
export const ROOTLESS_SUBIDS = '400000-465535';

export interface RootlessPodman {
  user: string;
  uid: number;
  cli(args: string[], timeoutMs?: number): Promise<RunResult>;
  stop(): Promise<void>;
}

const sh = (cmd: string, args: string[]): { code: number | null; err: string } => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status, err: r.stderr };
};

export async function startRootlessPodman(host: ContainerHost): Promise<RootlessPodman> {
  const user = `iwrl${process.pid}`.slice(0, 31);
  const work = `/tmp/${host.id}-rootless`;
  let stopped = false;
  let uid = -1;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (uid >= 0) {
      await cli(['rm', '-a', '-f', '-t', '0'], 60_000).catch(() => undefined);
      // what is left of this user's processes (the rootless pause process, conmon): by pid
      const ps = spawnSync('ps', ['-eo', 'pid=,uid='], { encoding: 'utf8' }).stdout;
      const [lo, hi] = ROOTLESS_SUBIDS.split('-').map(Number) as [number, number];
      for (const line of ps.split('\n')) {
        const [pid, u] = line.trim().split(/\s+/).map(Number);
        if (pid && u !== undefined && (u === uid || (u >= lo && u <= hi))) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    }
    rmSync(work, { recursive: true, force: true });
    sh('userdel', [user]);
  };
  host.onTeardown(stop);
  const add = sh('useradd', ['-M', '-r', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', user]);
  if (add.code !== 0) throw new Error(`useradd failed: ${add.err}`);
  const sub = sh('usermod', ['--add-subuids', ROOTLESS_SUBIDS, '--add-subgids', ROOTLESS_SUBIDS, user]);
  if (sub.code !== 0) throw new Error(`usermod --add-subuids failed: ${sub.err}`);
  const ids = spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim();
  const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
  uid = Number(ids);
  for (const d of ['home', 'run', 'dev']) mkdirSync(join(work, d), { recursive: true });
  chownSync(work, uid, gid);
  chownSync(join(work, 'home'), uid, gid);
  chownSync(join(work, 'run'), uid, gid);
  chmodSync(join(work, 'run'), 0o700);
  chmodSync(work, 0o755);
  const enter = join(work, 'enter.sh');
  writeFileSync(
    enter,
    [
      'set -e',
      'mount --make-rshared /',
      `mount -t tmpfs -o mode=755 tmpfs ${work}/dev`,
      `mknod -m 666 ${work}/dev/tun c 10 200`,
      `mknod -m 666 ${work}/dev/null c 1 3`,
      `mount --bind ${work}/dev/tun /dev/net/tun`,
      `mount --bind ${work}/dev/null /dev/null`,
      `exec setpriv --reuid ${uid} --regid ${gid} --clear-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=${work}/home XDG_RUNTIME_DIR=${work}/run XDG_CONFIG_HOME=${work}/home/.config XDG_DATA_HOME=${work}/home/.local/share "$@"`,
    ].join('\n') + '\n',
  );
  const base = ['unshare', '-m', '--propagation', 'private', 'sh', enter, 'podman', '--cgroup-manager', 'cgroupfs', '--runtime', 'runc', '--events-backend', 'file'];
  const cli = (args: string[], timeoutMs = 60_000): Promise<RunResult> => run(host.enter([...base, ...args]), { timeoutMs });
  const imp = await cli(['import', ensureImageTar(), IMAGE_NAME], 180_000);
  if (imp.code !== 0) throw new Error(`rootless podman import failed: ${imp.stderr}`);
  return { user, uid, cli, stop };
}

