import { IMDS_PORT, IMDS_V4_TEXT, IMDS_V6_TEXT } from '../domain/endpoint.js';
import type { ImdsEvent, ProcessInfo } from '../imds/event.js';
import { recordEvent, type DaemonState } from '../ledger/ledger.js';
import { enforceEntry, foldEnforceCall } from '../ledger/enforce-ledger.js';
import { printable } from '../text/sanitize.js';
import { describeEnforced, type EnforcedWorkload } from './daemon-setting.js';
import { startEnforce, type EnforceSession } from './enforce.js';
import type { EnforceEvent, WorkloadSummary } from './events.js';
import { OwnerHints } from './owner-hints.js';

/**
 * `imdswatch enforce` as the daemon's `enforce` setting (docs/design.md#enforce): one enforce
 * session for the listed workloads, each enforced or in a dry run, with the CLI's fail-open
 * (the rules are an owned nft table that dies with this process, SIGKILL included; a clean
 * stop deletes it). Its decisions go to the daemon's log (kind "enforce", never a header or
 * a body) and to the state: per workload in `state.enforce`, and a rejected call — which
 * never reaches IMDS, so the capture cannot see it — as the IMDSv1 call it is, of the
 * caller's program, with no status: it is not one of IMDS's own 401s. Calls passed on to
 * IMDS are given back to the workload's process (owner-hints.ts). A failure to start is one
 * error line; capture goes on without enforcement.
 */
export interface EnforceLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DaemonEnforceOptions {
  workloads: EnforcedWorkload[];
  state: DaemonState;
  logger: EnforceLogger;
  now: () => string;
  /** the state changed (the daemon saves it within a second) */
  changed: () => void;
  cgroupRoot?: string;
}

export interface DaemonEnforce {
  /** the event as the ledger, log and metrics should see it (a passed-on call is the workload's) */
  event(ev: ImdsEvent): ImdsEvent;
  /** fold the calls passed since the last time into the state (at each save) */
  flush(): void;
  /** rules first, then the responders; the last counts go into the state */
  stop(): Promise<void>;
}

/** null when no workload is listed or enforcement could not start (one error line says why) */
export async function startDaemonEnforce(o: DaemonEnforceOptions): Promise<DaemonEnforce | null> {
  if (o.workloads.length === 0) return null;
  const hints = new OwnerHints();
  const passedSeen = new Map<string, number>();
  const onEvent = (e: EnforceEvent, p?: ProcessInfo | null): void => {
    const who = `${e.method} ${e.path} by ${e.exe ?? 'unknown process'}${e.pid !== null ? ` (pid ${e.pid})` : ''}`;
    o.logger.warn({ kind: 'enforce', enforce: e }, `${e.workload}: ${printable(who, 400)} ${e.note}`);
    foldEnforceCall(o.state, e);
    if (e.verdict === 'rejected') recordEvent(o.state, rejectedCall(e, p));
    o.changed();
  };
  let session: EnforceSession;
  try {
    session = await startEnforce({
      selections: o.workloads,
      dryRun: false,
      cgroupRoot: o.cgroupRoot,
      onEvent,
      onUpstream: (h) => hints.add(h),
      onLost: (why) => o.logger.error({ kind: 'enforce' }, `enforcement stopped: ${why}; every workload reaches IMDS as before`),
    });
  } catch (err) {
    o.logger.error({ kind: 'enforce', code: (err as { code?: string }).code ?? null }, `enforce not started (${o.workloads.map(describeEnforced).join(', ')}): ${(err as Error).message}`);
    return null;
  }
  const onExit = (): void => session.removeNow();
  process.on('exit', onExit);
  const ts = o.now();
  for (const w of session.workloads) {
    const dryRun = session.isDryRun(w);
    enforceEntry(o.state, w.label, `/${w.path}`, dryRun, ts);
    o.logger.info({ kind: 'enforce', workload: w.label, cgroup: `/${w.path}`, dryRun }, `${w.label}: HttpTokens=required ${dryRun ? 'as a dry run (each token-less call is logged, none is rejected)' : '(token-less GET/HEAD get 401)'}`);
  }
  for (const w of session.warnings) o.logger.warn({ kind: 'enforce' }, w);
  o.changed();
  const foldPassed = (summaries: WorkloadSummary[]): void => {
    for (const s of summaries) {
      const e = enforceEntry(o.state, s.workload, s.cgroup, o.state.enforce?.[s.workload]?.dryRun ?? false, o.now());
      const delta = s.passed - (passedSeen.get(s.workload) ?? 0);
      if (e && delta > 0) e.passed += delta;
      passedSeen.set(s.workload, s.passed);
    }
  };
  return {
    event: (ev) => hints.apply(ev),
    flush: () => foldPassed(session.summary()),
    stop: async () => {
      foldPassed(await session.stop());
      process.off('exit', onExit);
      o.logger.info({ kind: 'enforce' }, 'enforce stopped; rules removed, every workload reaches IMDS as before');
    },
  };
}

/** a rejected call as the ledger's IMDSv1 call: the caller's program, no status (IMDS never saw it) */
function rejectedCall(e: EnforceEvent, p: ProcessInfo | null | undefined): ImdsEvent {
  const m = /^\[?(.*?)\]?:(\d+) -> /.exec(e.connection);
  const v6 = e.connection.includes(`[${IMDS_V6_TEXT}]`);
  const process: ProcessInfo | null =
    p ?? (e.pid !== null ? { pid: e.pid, exe: e.exe, cmdline: null, uid: null, user: null, unit: e.unit, container: e.container ? { runtime: 'unknown', id: null, name: e.container } : null, ancestors: [] } : null);
  return {
    ts: e.time,
    version: 'v1',
    method: e.method,
    path: e.path,
    status: null,
    client: { ip: (m?.[1] ?? '').replace(/^::ffff:/, ''), port: Number(m?.[2] ?? 0) },
    server: { ip: v6 ? IMDS_V6_TEXT : IMDS_V4_TEXT, port: IMDS_PORT },
    userAgent: null,
    sdk: null,
    process,
    attribution: process ? 'passive' : 'none',
    reason: 'no-token-attempt',
    httpVersion: 'HTTP/1.1',
  };
}
