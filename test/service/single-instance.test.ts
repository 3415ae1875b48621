import { describe, expect, it } from 'vitest';
import { acquireDaemonLock, AlreadyRunningError, daemonRunning } from '../../src/service/single-instance.js';

describe('one daemon per host (abstract socket lock)', () => {
  const name = `imdswatch-test-${process.pid}-${Date.now()}`;

  it('refuses a second holder, naming the first one’s pid, and frees the lock on release', async () => {
    expect(await daemonRunning(name)).toEqual({ running: false, pid: null });
    const first = await acquireDaemonLock(name);
    expect(await daemonRunning(name)).toEqual({ running: true, pid: process.pid });
    const err = await acquireDaemonLock(name).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AlreadyRunningError);
    expect((err as AlreadyRunningError).pid).toBe(process.pid);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    first.release();
    await new Promise((r) => setTimeout(r, 20));
    const again = await acquireDaemonLock(name);
    again.release();
  });
});
