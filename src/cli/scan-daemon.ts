import type { ImdsEvent } from '../imds/event.js';
import { CaptureSummaryBuilder } from '../sinks/capture-summary.js';
import { formatCaptureSummaryText } from '../sinks/capture-summary-text.js';
import type { InputSummary } from '../sinks/input-summary.js';
import { askDaemon } from '../service/single-instance.js';
import { SYN_WAIT_MS } from '../live/capture-loss.js';
import { CliError } from './exit-codes.js';
import { FollowError, LogFollower } from './scan-follow.js';
import type { Output } from './output.js';
import { waitForStop } from './signals.js';

/**
 * `scan` while the daemon of this network namespace runs: no second capture, no second gate
 * (the daemon owns the gate's rules and queue). The scan follows the daemon's event log for
 * its duration (src/cli/scan-follow.ts) and prints the report a capture would, its first line
 * naming the daemon: the events are the daemon's, attributed by its SYN gate.
 */
export interface DaemonScanOptions {
  pid: number | null;
  ms: number;
  format: 'text' | 'json' | 'ndjson';
  out: Output;
  progress: boolean;
}

const POLL_MS = 200;
/**
 * After the scan's end, how long a call made before it may still take to reach the log: the
 * daemon writes its log in batches (FLUSH_MS, src/sinks/rotating-file.ts) once the response
 * is read. Events later than the end are left out by their time, not by this wait.
 */
const SETTLE_MS = 500;

/** longest wait, after the end, for the daemon to have read its capture up to the end */
const CATCH_UP_MS = 15_000;

/**
 * Losses the daemon counted between two of its answers (src/live/daemon-health.ts
 * lossCounters), by counter; also a daemon that did not read its capture up to `untilMs`
 * (its pipeline lagged past CATCH_UP_MS: later events may be missing) or gave no counters.
 */
export function lossesBetween(before: Record<string, number> | null | undefined, after: Record<string, number> | null | undefined, untilMs: number): Record<string, number> {
  if (!before || !after) return { 'daemon-counters-not-answered': 1 };
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(after)) {
    if (k === 'readUpToMs') continue;
    const d = n - (before[k] ?? 0);
    if (d > 0) out[`daemon-${k}`] = d;
  }
  if ((after.readUpToMs ?? 0) < untilMs) out['daemon-capture-not-read-to-end'] = 1;
  return out;
}

/** ask until the daemon has read its capture up to `untilMs` (or CATCH_UP_MS passed): its last counters */
async function askCaughtUp(untilMs: number): Promise<Record<string, number> | null> {
  const end = Date.now() + CATCH_UP_MS;
  for (;;) {
    const h = (await askDaemon())?.health ?? null;
    if (!h || (h.readUpToMs ?? 0) >= untilMs || Date.now() > end) return h;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** the refusal when the daemon runs but cannot be followed */
export function daemonRefusal(pid: number | null, why: string): CliError {
  return new CliError(
    `the imdswatch daemon is running${pid ? ` (pid ${pid})` : ''} and owns the SYN gate, but scan cannot follow its events: ${why}. ` +
      'To capture a second time with passive attribution, add --no-gate; or read its log with imdswatch report',
    'E_DAEMON_RUNNING',
  );
}

/** open the running daemon's event log at its end, or throw the refusal naming why not */
export async function openDaemonFollow(
  pid: number | null,
  onEvent: (ev: ImdsEvent) => void,
  onLoss: (m: string) => void,
): Promise<{ follower: LogFollower; pid: number | null; path: string; since: string; health: Record<string, number> | null }> {
  const facts = await askDaemon();
  const daemonPid = facts?.pid ?? pid;
  // its lock socket is 0600, the daemon's: another user cannot ask it
  if (!facts) throw daemonRefusal(daemonPid, process.getuid?.() === 0 ? 'it did not say where it logs' : 'only root and the daemon\'s user may ask it where it logs (run scan as root)');
  if (!facts.logFile) throw daemonRefusal(daemonPid, 'it writes no event log file (--log-file off)');
  const since = new Date().toISOString();
  try {
    const follower = new LogFollower({ path: facts.logFile, owner: facts.owner, since, onEvent, onLoss });
    return { follower, pid: daemonPid, path: facts.logFile, since, health: facts.health ?? null };
  } catch (err) {
    if (err instanceof FollowError) throw daemonRefusal(daemonPid, err.message);
    throw err;
  }
}

/** the scan's source line: one line saying whose events these are */
export const followSource = (pid: number | null, path: string): string =>
  `following the running daemon${pid ? ` (pid ${pid})` : ''}: events attributed by the daemon's SYN gate, from ${path}`;

export async function scanFollowingDaemon(o: DaemonScanOptions): Promise<{ totals: ReturnType<CaptureSummaryBuilder['build']>['totals']; input: InputSummary }> {
  const report = new CaptureSummaryBuilder();
  const counts = { v1: 0, v2: 0, token: 0 };
  const pids = new Set<number>();
  const losses: string[] = [];
  const { follower, pid, path, health: before } = await openDaemonFollow(
    o.pid,
    (ev) => {
      report.add(ev);
      counts[ev.version]++;
      if (ev.process) pids.add(ev.process.pid);
      if (o.format === 'ndjson') o.out.write(`${JSON.stringify(ev)}\n`);
    },
    (m) => losses.push(m),
  );
  const source = followSource(pid, path);
  process.stderr.write(`imdswatch: ${source}\n`);
  const started = Date.now();
  const poller = setInterval(() => {
    follower.poll();
    if (o.progress) {
      const secs = Math.round((Date.now() - started) / 1000);
      process.stderr.write(`\rfollowing the daemon ${secs}s / ${Math.round(o.ms / 1000)}s — v1 ${counts.v1}  v2 ${counts.v2}  token ${counts.token}  processes ${pids.size}\x1b[K`);
    }
  }, POLL_MS);
  await waitForStop({ timeoutMs: o.ms });
  const until = new Date().toISOString();
  // every loss the daemon counted in the window, asked once it has read its capture to the end
  // (its log lines about loss come only once per save interval: too late for this report)
  // a SYN made before the end is judged missed SYN_WAIT_MS later on the capture's clock (+ its 1 s tick)
  if (o.progress) process.stderr.write(`\rwaiting ${Math.round((SYN_WAIT_MS + 1000) / 1000)} s for the daemon's loss check of the last calls\x1b[K`);
  const after = await askCaughtUp(Date.parse(until) + SYN_WAIT_MS + 1000);
  const daemonLoss = lossesBetween(before, after, Date.parse(until) + SYN_WAIT_MS + 1000);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  clearInterval(poller);
  if (o.progress) process.stderr.write('\r\x1b[K');
  const st = follower.finish(until);
  for (const m of new Set(losses)) process.stderr.write(`imdswatch: the daemon reported capture loss while following: ${m}\n`);
  const lossNames = Object.entries(daemonLoss).map(([k, n]) => `${k.replace(/^daemon-/, '')} ${n}`);
  if (lossNames.length) process.stderr.write(`imdswatch: the daemon counted losses during this scan (calls may be missing): ${lossNames.join(', ')}\n`);
  const skipped: Record<string, number> = {};
  if (st.skippedLines) skipped['log-lines-not-events'] = st.skippedLines;
  if (st.lossLines) skipped['daemon-capture-loss'] = st.lossLines;
  const input: InputSummary = {
    sources: [source],
    packets: 0,
    imdsSegments: 0,
    skipped,
    unclassified: 0,
    // the daemon said it lost capture meanwhile: an IMDSv1 call may hide there (verdict UNKNOWN)
    unread: { ...(st.lossLines ? { 'daemon-capture-loss': st.lossLines } : {}), ...daemonLoss },
    errors: [],
  };
  const built = report.build(input);
  if (o.format === 'text') o.out.write(formatCaptureSummaryText(built, input));
  else if (o.format === 'json') o.out.write(`${JSON.stringify({ input, follow: { daemonPid: pid, logFile: path, ...st }, ...built }, null, 2)}\n`);
  o.out.commit();
  return { totals: built.totals, input };
}
