import type { LiveSession } from '../live/live-session.js';

/**
 * The only place imdswatch handles signals (src/live has none). `waitForStop` resolves on
 * the first SIGINT/SIGTERM, or when `timeoutMs` passes; SIGHUP calls `onHangup` (daemon:
 * reopen the log). While a session runs, a process exit — also after an uncaught
 * exception — removes its gate rules (they bypass without a listener, but leave no trace).
 */
export function guardSessionExit(session: LiveSession): () => void {
  const onExit = (): void => session.removeGateRulesNow();
  process.on('exit', onExit);
  return () => process.off('exit', onExit);
}

export function waitForStop(opts: { timeoutMs?: number; onHangup?: () => void } = {}): Promise<'SIGINT' | 'SIGTERM' | 'timeout'> {
  return new Promise((resolve) => {
    const done = (why: 'SIGINT' | 'SIGTERM' | 'timeout'): void => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (opts.onHangup) process.off('SIGHUP', opts.onHangup);
      resolve(why);
    };
    const onInt = (): void => done('SIGINT');
    const onTerm = (): void => done('SIGTERM');
    const timer = opts.timeoutMs !== undefined ? setTimeout(() => done('timeout'), opts.timeoutMs) : null;
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    if (opts.onHangup) process.on('SIGHUP', opts.onHangup);
  });
}
