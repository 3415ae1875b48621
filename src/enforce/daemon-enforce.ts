import { IMDS_PORT, IMDS_V4_TEXT, IMDS_V6_TEXT } from '../domain/endpoint.js';
import type { ImdsEvent, ProcessInfo } from '../imds/event.js';
import { recordEvent, type DaemonState } from '../ledger/ledger.js';
import { enforceAccount, enforceCameIntoEffect, enforceListed, enforceNotInEffect, foldEnforceCall } from '../ledger/enforce-ledger.js';
import { printable } from '../text/sanitize.js';
import { describeEnforced, type EnforcedWorkload } from './daemon-setting.js';
import { startEnforce, type EnforceSession } from './enforce.js';
import { missingTools, tableName } from './owned-table.js';
import { EnforceError, findCgroup2Root, labelOf } from './workload.js';
import { cgroupIno, lookUp, notRunningWhy, POLL_MS } from './workload-watch.js';
import type { EnforceEvent, WorkloadSummary } from './events.js';
import { OwnerHints } from './owner-hints.js';

/**
 * `imdswatch enforce` as the daemon's `enforce` setting (docs/design.md#enforce): an enforce
 * session per listed workload while it runs, each enforced or in a dry run, with the CLI's
 * fail-open (the rules are owned nft tables that die with this process, SIGKILL included; a
 * clean stop deletes them). A workload not running is enforced once it appears, and let go
 * when it goes; the state says since when each was in effect and for how long it was listed
 * but not (docs/design.md#enforce-in-effect). Its decisions go to the daemon's log (kind "enforce", never a header or
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

/** one listed workload: its session while it is in effect */
interface Slot {
  sel: EnforcedWorkload;
  label: string;
  session: EnforceSession | null;
  path: string | null;
  ino: number | null;
  /** Date.now() up to which its time is in the state */
  accountedTo: number;
  /** the reason last logged for not being in effect (one line per change, not per poll) */
  why: string | null;
  passedSeen: number;
}

const absence = (why: string): string => why.replace(/ (went away|was not running|was not found)$/, '');

/** errors of the host, not of one workload: no later look will do better */
const HOST_ERRORS = new Set(['E_ENFORCE_NO_CGROUP2', 'E_ENFORCE_NO_NFT', 'E_ENFORCE_NO_PRIVILEGE']);

/**
 * null when no workload is listed. Each workload is enforced by a session of its own (its own
 * owned table) from the moment it is found until it goes: one not running at start is looked
 * for every POLL_MS (workload-watch.ts). A host that cannot enforce at all gets one error
 * line; its workloads are listed in the state as never in effect, with the reason.
 */
export async function startDaemonEnforce(o: DaemonEnforceOptions): Promise<DaemonEnforce | null> {
  if (o.workloads.length === 0) return null;
  const hints = new OwnerHints();
  const t0 = Date.now();
  const slots: Slot[] = o.workloads.map((sel) => ({ sel, label: labelOf(sel), session: null, path: null, ino: null, accountedTo: t0, why: null, passedSeen: 0 }));
  for (const s of slots) enforceListed(o.state, s.label, s.sel.dryRun, o.now());
  let hostProblem: string | null = null;
  let root = '';
  try {
    root = findCgroup2Root(o.cgroupRoot);
    const missing = missingTools();
    if (missing.length) throw new EnforceError('E_ENFORCE_NO_NFT', `imdswatch enforce needs ${missing.join(' and ')} (apt-get install nftables util-linux); nothing was installed`);
  } catch (err) {
    hostProblem = (err as Error).message;
    o.logger.error({ kind: 'enforce', code: (err as { code?: string }).code ?? null }, `enforce not started (${o.workloads.map(describeEnforced).join(', ')}): ${hostProblem}`);
  }
  let tables = 0;

  // the time listed counts from the first look's end: setting up a workload found at the start is
  // the daemon's start-up (before it reports ready), as the time before the daemon ran is not counted
  let firstLookDone = false;
  const account = (s: Slot, now = Date.now()): void => {
    if (firstLookDone) enforceAccount(o.state, s.label, s.session !== null, now - s.accountedTo, new Date(now).toISOString());
    s.accountedTo = now;
  };
  const foldPassed = (s: Slot, summaries: WorkloadSummary[]): void => {
    const e = o.state.enforce?.[s.label];
    const passed = summaries.find((x) => x.workload === s.label)?.passed ?? 0;
    if (e && passed > s.passedSeen) e.passed += passed - s.passedSeen;
    s.passedSeen = passed;
  };
  const notInEffect = (s: Slot, why: string): void => {
    // "went away", then "was not found" at each later look: one absence, one line, the first reason kept
    if (s.why !== null && absence(s.why) === absence(why)) return;
    enforceNotInEffect(o.state, s.label, o.now(), why);
    o.logger.info({ kind: 'enforce', workload: s.label, inEffect: false }, `${s.label}: not in effect: ${why}; its calls are not checked${hostProblem ? '' : ' (looked for every 2 s)'}`);
    s.why = why;
    o.changed();
  };
  const onEvent = (e: EnforceEvent, p?: ProcessInfo | null): void => {
    const who = `${e.method} ${e.path} by ${e.exe ?? 'unknown process'}${e.pid !== null ? ` (pid ${e.pid})` : ''}`;
    o.logger.warn({ kind: 'enforce', enforce: e }, `${e.workload}: ${printable(who, 400)} ${e.note}`);
    foldEnforceCall(o.state, e);
    if (e.verdict === 'rejected') recordEvent(o.state, rejectedCall(e, p));
    o.changed();
  };
  const leave = async (s: Slot, why: string): Promise<void> => {
    const session = s.session;
    if (!session) return;
    account(s);
    s.session = null;
    foldPassed(s, await session.stop());
    notInEffect(s, why);
  };
  const enter = async (s: Slot): Promise<void> => {
    const found = await lookUp(root, s.sel);
    if (!found.present) {
      if (found.permanent) permanent.add(s);
      return notInEffect(s, found.why);
    }
    let session: EnforceSession;
    try {
      session = await startEnforce({
        selections: [{ ...s.sel, dryRun: s.sel.dryRun }],
        dryRun: s.sel.dryRun,
        cgroupRoot: root,
        inspect: found.inspect,
        table: `${tableName()}_${++tables}`,
        onEvent,
        onUpstream: (h) => hints.add(h),
        onLost: (why) => {
          o.logger.error({ kind: 'enforce', workload: s.label }, `${s.label}: enforcement stopped: ${why}; it reaches IMDS as before`);
          if (s.session === session) void leave(s, `its rule went away (${why})`);
        },
      });
    } catch (err) {
      const code = (err as { code?: string }).code ?? null;
      if (code && HOST_ERRORS.has(code)) hostProblem = (err as Error).message;
      if ((err as Error).message !== s.why) o.logger.error({ kind: 'enforce', workload: s.label, code }, `${s.label}: enforce not started: ${(err as Error).message}`);
      return notInEffect(s, (err as Error).message);
    }
    account(s);
    s.session = session;
    s.path = found.workload.path;
    s.ino = found.ino;
    s.why = null;
    s.passedSeen = 0;
    enforceCameIntoEffect(o.state, s.label, `/${found.workload.path}`, o.now());
    o.logger.info(
      { kind: 'enforce', workload: s.label, cgroup: `/${found.workload.path}`, dryRun: s.sel.dryRun, inEffect: true },
      `${s.label}: in effect: HttpTokens=required ${s.sel.dryRun ? 'as a dry run (each token-less call is logged, none is rejected)' : '(token-less GET/HEAD get 401)'}`,
    );
    for (const w of session.warnings) o.logger.warn({ kind: 'enforce' }, w);
    o.changed();
  };
  const check = async (s: Slot): Promise<void> => {
    if (s.session) {
      if (cgroupIno(root, s.path!) === s.ino) return;
      await leave(s, `${notRunningWhy(s.sel).replace(/ was not (running|found)$/, ' went away')}`);
    }
    if (!hostProblem) await enter(s);
  };
  const permanent = new Set<Slot>();
  let stopped = false;
  let busy: Promise<void> | null = null;
  // one look at a time: a slow `docker inspect` makes the next look wait, never pile up
  const tick = (): Promise<void> =>
    (busy ??= (async () => {
      for (const s of slots) if (!stopped && !permanent.has(s)) await check(s).catch((err: Error) => o.logger.error({ kind: 'enforce', workload: s.label }, `${s.label}: ${err.message}`));
    })().finally(() => (busy = null)));
  if (hostProblem) for (const s of slots) notInEffect(s, hostProblem);
  else await tick();
  firstLookDone = true;
  const looked = Date.now();
  for (const s of slots) s.accountedTo = looked;
  const timer = hostProblem ? null : setInterval(() => void tick(), POLL_MS);
  timer?.unref();
  const onExit = (): void => slots.forEach((s) => s.session?.removeNow());
  process.on('exit', onExit);
  o.changed();
  return {
    event: (ev) => hints.apply(ev),
    flush: () => {
      for (const s of slots) {
        account(s);
        if (s.session) foldPassed(s, s.session.summary());
      }
    },
    stop: async () => {
      stopped = true;
      if (timer) clearInterval(timer);
      await busy;
      for (const s of slots) {
        account(s);
        // the report must not say "enforced since" of a daemon that has stopped
        if (s.session) enforceNotInEffect(o.state, s.label, o.now(), 'the daemon stopped');
      }
      await Promise.all(slots.map(async (s) => s.session && foldPassed(s, await s.session.stop())));
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
