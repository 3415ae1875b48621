import { describeMissed } from '../live/capture-loss.js';
import type { Command } from 'commander';
import { CaptureSummaryBuilder } from '../sinks/capture-summary.js';
import { formatCaptureSummaryText } from '../sinks/capture-summary-text.js';
import { openOutput } from './output.js';
import { parseFormat } from './output-format.js';
import { failOnMatched, parseFailOn } from './fail-on.js';
import { CliError, EXIT_MATCHED, EXIT_OK } from './exit-codes.js';
import { parseDuration } from './duration.js';
import { LiveSession } from '../live/live-session.js';
import { guardSessionExit, waitForStop } from './signals.js';
import { summarize } from '../sinks/input-summary.js';
import { progressEnabled } from './progress.js';
import { LIVE_SETTINGS, addLiveSettingFlags, liveFlags, resolveSettings, settingsHelp } from './settings.js';
import { LiveCaptureError } from '../live/capture.js';
import { daemonRunning } from '../service/single-instance.js';
import { scanFollowingDaemon } from './scan-daemon.js';

export function registerScanCommand(program: Command, setExit: (code: number) => void): void {
  const cmd = program
    .command('scan')
    .description('capture live until --duration ends or Ctrl-C, then report every IMDS call with the process behind it')
    .option('-d, --duration <time>', 'how long to capture: 30s, 10m, 2h', '10m');
  addLiveSettingFlags(cmd)
    .option('-f, --format <format>', 'text, json or ndjson', 'text')
    .option('--fail-on <kinds>', 'exit 1 when a call matches: v1, rejected, unknown (comma-separated)')
    .option('-o, --output <path>', 'write the report to this file')
    .addHelpText(
      'after',
      `
Needs root, or CAP_NET_RAW + CAP_NET_ADMIN (capture, firewall rule) and CAP_SYS_PTRACE +
CAP_DAC_READ_SEARCH (reading other processes' /proc entries). The gate's firewall rule lets
traffic through if imdswatch dies (--queue-bypass) and is removed on exit.
While the imdswatch daemon runs in this network namespace, scan captures nothing itself: it
follows the daemon's event log for --duration and reports the events the daemon's SYN gate
attributed (root, or the daemon's user, to read the log). --no-gate captures a second time,
with passive attribution.
Settings: defaults < IMDSWATCH_* environment < flags (the same schema as the daemon's).
  setting          environment                flag
${settingsHelp(LIVE_SETTINGS)}`,
    )
    .action(async (o: { duration: string; format: string; failOn?: string; output?: string } & Record<string, unknown>) => {
      const format = parseFormat(o.format);
      const failOn = parseFailOn(o.failOn);
      const ms = parseDuration(o.duration);
      if (ms === null || ms <= 0) throw new CliError(`--duration takes a time like 30s, 10m or 2h, not "${o.duration}"`);
      const { interfaces, gate, lane, queueNum, gateBudgetMs } = resolveSettings(LIVE_SETTINGS, liveFlags(o), process.env);
      if (gate) {
        // the daemon owns the gate's rules and queue: a second gate would replace its rules (and
        // its queue is busy anyway). Follow its events instead: no second capture, no second gate
        const d = await daemonRunning();
        if (d.running) {
          // the daemon's capture is what is followed: an interface asked for here changes nothing
          if (liveFlags(o).interfaces) process.stderr.write('imdswatch: --interface is ignored while following the running daemon (its own capture is read); add --no-gate for a second capture on these interfaces\n');
          const out = openOutput(o.output);
          try {
            const r = await scanFollowingDaemon({ pid: d.pid, ms, format, out, progress: progressEnabled(process.stderr) });
            setExit(failOnMatched(failOn, r.totals, r.input) ? EXIT_MATCHED : EXIT_OK);
          } catch (err) {
            out.abort();
            throw err;
          }
          return;
        }
      }
      const out = openOutput(o.output);
      const report = new CaptureSummaryBuilder();
      const live = progressEnabled(process.stderr);
      const counts = { v1: 0, v2: 0, token: 0 };
      const pids = new Set<number>();
      let session;
      // warnings from the start (gate not active, ...) wait until the capture is open: when it
      // cannot open, its one-line error is all the user needs
      let startWarnings: string[] | null = [];
      const warn = (m: string): void => {
        if (startWarnings) startWarnings.push(m);
        else process.stderr.write(`imdswatch: ${m}\n`);
      };
      try {
        session = LiveSession.start({
          interfaces,
          gate,
          lane,
          queueNum,
          gateBudgetMs,
          onEvent(ev) {
            report.add(ev);
            counts[ev.version]++;
            if (ev.process) pids.add(ev.process.pid);
            if (format === 'ndjson') out.write(`${JSON.stringify(ev)}\n`);
          },
          onWarning: warn,
        });
        const held = startWarnings;
        startWarnings = null;
        for (const m of held) warn(m);
      } catch (err) {
        out.abort();
        if (err instanceof LiveCaptureError) throw new CliError(`${err.message}`, err.code);
        throw err;
      }
      const started = Date.now();
      const ticker = live
        ? setInterval(() => {
            const secs = Math.round((Date.now() - started) / 1000);
            process.stderr.write(`\rscanning ${secs}s / ${Math.round(ms / 1000)}s — v1 ${counts.v1}  v2 ${counts.v2}  token ${counts.token}  processes ${pids.size}\x1b[K`);
          }, 500)
        : null;
      const unguard = guardSessionExit(session);
      await waitForStop({ timeoutMs: ms });
      if (ticker) {
        clearInterval(ticker);
        process.stderr.write('\r\x1b[K');
      }
      const gateWasActive = session.gateActive;
      session.stop();
      unguard();
      const st = session.stats();
      const missed = st.missedSyns;
      const input = summarize([`live: ${interfaces.join(',')}${gateWasActive || gate ? '' : ' (no gate)'}`], st.pipeline, [], missed ? { 'gate-syn-not-captured': missed } : {});
      const built = report.build(input);
      if (missed > 0) {
        // the gate named who opened them: say whose calls went unread (every format, on stderr)
        process.stderr.write(`imdswatch: the capture missed ${missed} IMDS connection(s) the SYN gate held, so their calls were not read: ${describeMissed(st.missedConnections)}\n`);
      }
      if (format === 'text') out.write(formatCaptureSummaryText(built, input));
      else if (format === 'json') out.write(`${JSON.stringify({ input, stages: st.pipeline, live: { missedConnections: st.missedConnections, attribution: st.attribution, gate: st.gate, capture: st.capture, dedupe: st.dedupe, holdQuantiles: st.holdQuantiles, passiveShed: st.passiveShed }, ...built }, null, 2)}\n`);
      out.commit();
      setExit(failOnMatched(failOn, built.totals, input) ? EXIT_MATCHED : EXIT_OK); // input: --fail-on unknown
    });
}
