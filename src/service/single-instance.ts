import { ImdswatchError } from '../errors/catalogue.js';
import { createConnection, createServer, type Server } from 'node:net';

/**
 * One imdswatch daemon per host (issue #11, item 3). Two daemons would fight over the
 * NFQUEUE and the gate's rules, and the second would append unattributed duplicates of
 * every call to the same log, so reports counted each call twice.
 *
 * The lock is an abstract-namespace Unix socket (`@imdswatch-daemon`): binding it is
 * atomic, the kernel releases it when the holder dies (no stale pid file after a
 * SIGKILL or a crash), and it needs no writable path (the unit is ProtectSystem=strict).
 * Abstract names are per network namespace — one per host network, which is exactly
 * the scope of the gate and its queue. A client connecting to it is sent the holder's
 * pid, so the refusal can name it.
 */
export const DAEMON_LOCK_NAME = 'imdswatch-daemon';

export interface InstanceLock {
  release(): void;
}

export class AlreadyRunningError extends ImdswatchError<'E_DAEMON_RUNNING'> {
  constructor(readonly pid: number | null) {
    super(
      'E_DAEMON_RUNNING',
      `another imdswatch daemon is running on this host${pid ? ` (pid ${pid})` : ''}: it already logs every call ` +
        '(see `imdswatch report`); stop it first (systemctl stop imdswatch) to run another',
    );
    this.name = 'AlreadyRunningError';
  }
}

/** Take the host's daemon lock, or throw AlreadyRunningError naming the holder. */
export async function acquireDaemonLock(name = DAEMON_LOCK_NAME): Promise<InstanceLock> {
  const server: Server = createServer((sock) => {
    sock.on('error', () => {});
    sock.end(`${process.pid}\n`);
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(err);
    server.once('error', onError);
    server.listen({ path: `\0${name}` }, () => {
      server.off('error', onError);
      resolve();
    });
  }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new AlreadyRunningError(await holderPid(name));
    throw err;
  });
  server.unref();
  return {
    release() {
      server.close();
    },
  };
}

/** The pid of the daemon holding the lock, null when none holds it (or it does not answer within timeoutMs). */
export function holderPid(name = DAEMON_LOCK_NAME, timeoutMs = 500): Promise<number | null> {
  return new Promise((resolve) => {
    let text = '';
    const sock = createConnection({ path: `\0${name}` });
    const done = (pid: number | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      text += d;
      if (text.length > 32) done(null);
    });
    sock.on('end', () => {
      const pid = Number.parseInt(text.trim(), 10);
      done(Number.isSafeInteger(pid) && pid > 0 ? pid : null);
    });
    sock.on('error', () => done(null));
  });
}

/** true when a daemon holds the lock (for `scan`, `doctor`) */
export async function daemonRunning(name = DAEMON_LOCK_NAME): Promise<{ running: boolean; pid: number | null }> {
  return new Promise((resolve) => {
    const sock = createConnection({ path: `\0${name}` });
    sock.on('connect', () => {
      sock.destroy();
      void holderPid(name).then((pid) => resolve({ running: true, pid }));
    });
    sock.on('error', () => resolve({ running: false, pid: null }));
  });
}
