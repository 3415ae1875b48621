import { describeMissed } from '../live/capture-loss.js';
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { resolveDaemonConfig, DAEMON_DEFAULTS, DEFAULT_CONFIG_FILE, type DaemonConfig } from './daemon-config.js';
import { addLiveSettingFlags, liveFlags, settingsHelp } from './settings.js';
import { LiveSession } from '../live/live-session.js';
import { counterDelta, flatCounters, type PipelineStats } from '../pipeline/stats.js';
import { unreadImdsPackets } from '../decode/unread-imds.js';
import { guardSessionExit, waitForStop } from './signals.js';
import { EventLog } from '../sinks/event-log.js';
import { Metrics } from '../sinks/metrics.js';
import { loadState, recordEvent, saveState, touchWindow, type DaemonState } from '../sinks/state-store.js';
import { CliError, EXIT_RETRY, EXIT_TROUBLE } from './exit-codes.js';
import { LiveCaptureError } from '../live/capture.js';
import { markReady } from '../service/ready-file.js';
import { acquireDaemonLock, AlreadyRunningError } from '../service/single-instance.js';

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

export function registerDaemonCommand(program: Command): void {
  const cmd = program
    .command('daemon')
    .description('run as a service: log every IMDS request with its process, keep state for `report`, serve metrics')
    .option('-c, --config <file>', `JSON config file (default ${DEFAULT_CONFIG_FILE} if present; sample: docs/config.sample.json)`);
  addLiveSettingFlags(cmd)
    .option('--log-file <path>', `event log, or "off" (default ${DAEMON_DEFAULTS.logFile})`)
    .option('--log-max-bytes <n>', `rotate the log at this size (default ${DAEMON_DEFAULTS.logMaxBytes})`)
    .option('--log-max-files <n>', `rotated logs kept (default ${DAEMON_DEFAULTS.logMaxFiles})`)
    .option('--state-file <path>', `state for \`imdswatch report\` (default ${DAEMON_DEFAULTS.stateFile})`)
    .option('--metrics <port|off>', `Prometheus metrics port on 127.0.0.1, or off (default ${DAEMON_DEFAULTS.metricsPort})`)
    .option('--metrics-host <addr>', `metrics listen address (default ${DAEMON_DEFAULTS.metricsHost})`)
    .option('--no-stdout', 'do not copy events to stdout (journald)')
    .addHelpText(
      'after',
      `
Settings: defaults < config file < IMDSWATCH_* environment < flags.
  setting          environment                flag
${settingsHelp(Object.keys(DAEMON_DEFAULTS) as Array<keyof DaemonConfig>)}
Signals: SIGTERM/SIGINT flush the state and exit 0; SIGHUP reopens the log file (logrotate).`,
    )
    .action(async (o: Record<string, unknown>) => {
      const flags = {
        ...liveFlags(o),
        logFile: o.logFile,
        logMaxBytes: o.logMaxBytes,
        logMaxFiles: o.logMaxFiles,
        stateFile: o.stateFile,
        metricsPort: o.metrics,
        metricsHost: o.metricsHost,
        stdout: o.stdout === false ? false : undefined,
      };
      const cfg = resolveDaemonConfig(flags, process.env, o.config as string | undefined);
      await runDaemon(cfg);
    });
}

export async function runDaemon(cfg: DaemonConfig): Promise<void> {
  // one daemon per host, checked before anything else (metrics port, log, state, queue)
  let lock;
  try {
    lock = await acquireDaemonLock();
  } catch (err) {
    if (err instanceof AlreadyRunningError) throw new CliError(err.message, err.code);
    throw err;
  }
  try {
    await runLockedDaemon(cfg);
  } finally {
    lock.release();
  }
}

async function runLockedDaemon(cfg: DaemonConfig): Promise<void> {
  const metrics = cfg.metricsPort === null ? null : new Metrics();
  const log = new EventLog({ file: cfg.logFile, maxBytes: cfg.logMaxBytes, maxFiles: cfg.logMaxFiles, stdout: cfg.stdout });
  const now = () => new Date().toISOString();
  const loaded = loadState(cfg.stateFile, hostname(), bootId(), now());
  const state: DaemonState = loaded.state;
  if (loaded.note) log.logger.error({ kind: 'state' }, loaded.note);
  touchWindow(state, now(), true);

  if (metrics && cfg.metricsPort !== null) {
    try {
      const port = await metrics.listen(cfg.metricsPort, cfg.metricsHost);
      log.logger.info({ kind: 'metrics', port }, `metrics on http://${cfg.metricsHost}:${port}/metrics`);
    } catch (err) {
      throw new CliError(`cannot serve metrics on ${cfg.metricsHost}:${cfg.metricsPort} (${(err as NodeJS.ErrnoException).code}); choose another --metrics port or --metrics off`);
    }
  }

  let dirty = false;
  let session: LiveSession;
  try {
    session = LiveSession.start({
      interfaces: cfg.interfaces,
      gate: cfg.gate,
      queueNum: cfg.queueNum,
      gateBudgetMs: cfg.gateBudgetMs,
      onEvent(ev) {
        log.event(ev);
        metrics?.event(ev);
        recordEvent(state, ev);
        dirty = true;
      },
      onWarning: (m) => log.logger.warn({ kind: 'daemon' }, m),
      onGateRecord: metrics ? (r) => metrics.gateHolds.observe(r.holdMs / 1000) : undefined,
    });
  } catch (err) {
    await metrics?.close();
    log.close();
    // an interface that cannot be opened may not exist yet (early boot, renamed NIC): retry
    if (err instanceof LiveCaptureError) throw new CliError(err.message, err.code, err.code === 'E_CAPTURE_OPEN_FAILED' ? EXIT_RETRY : EXIT_TROUBLE);
    throw err;
  }
  const unguard = guardSessionExit(session);
  // the log file batches lines for a few ms: an exit on an uncaught error still writes them
  const flushLog = () => log.flush();
  process.on('exit', flushLog);
  metrics?.setCaptureRunning(true);
  // capture open, gate rules in, queue listening: units ordered after us may start now
  markReady();
  log.logger.info(
    { kind: 'daemon', gate: session.gateActive, interfaces: cfg.interfaces, logFile: cfg.logFile, stateFile: cfg.stateFile },
    `capturing on ${cfg.interfaces.join(',')}${session.gateActive ? ' with the SYN gate' : ' without the SYN gate (passive attribution)'}`,
  );

  let last: PipelineStats | null = null;
  let lastShed = 0;
  let lastOverflow = 0;
  // counters, metrics and loss lines: once per save interval (one line per interval, never per eviction)
  const report = () => {
    const st = session.stats();
    const delta = counterDelta(last, st.pipeline);
    last = st.pipeline;
    metrics?.addStageCounters(delta, flatCounters(st.pipeline));
    const evicted = delta['tcp.evictedFlows'] ?? 0;
    if (evicted > 0) {
      metrics?.addEvictions(evicted);
      log.logger.error({ kind: 'flow-table', evicted }, 'flows evicted: the flow table is full (calls may be missed)');
    }
    for (const [path, d] of Object.entries(delta)) {
      // HTTP parse codes and the IMDS stage's skip reasons (one metric, as before)
      if (path.startsWith('http.errors.')) metrics?.addParseErrors(path.slice(12), d);
      else if (path.startsWith('imds.skipped.')) metrics?.addParseErrors(path.slice(13), d);
    }
    state.drops.flowsEvicted = st.pipeline.tcp.evictedFlows;
    // IMDS packets the decode stage could not read (#16): the readiness verdict is UNKNOWN, not READY
    const unread = unreadImdsPackets(st.pipeline.decode);
    if (unread > (state.drops.imdsUnread ?? 0)) {
      log.logger.error({ kind: 'decode', imdsUnread: unread }, 'IMDS packets could not be read (IP fragments not reassembled or an unsupported link type): calls may be missing');
    }
    state.drops.imdsUnread = unread;
    // request bytes the capture dropped inside IMDS connections (the server side's gaps hide no request)
    const requestGap = st.pipeline.tcp.gapBytes - st.pipeline.tcp.responseGapBytes;
    if (requestGap > (state.drops.requestGapBytes ?? 0)) {
      log.logger.error({ kind: 'capture', requestGapBytes: requestGap }, 'bytes sent to IMDS were not captured (packets dropped inside IMDS connections): calls may be missing');
    }
    state.drops.requestGapBytes = requestGap;
    const missed = st.missedSyns;
    if (missed > state.drops.pcap) {
      // the gate named who opened them: whose calls went unread (cumulative, most first)
      const programs = st.missedConnections.programs.slice(0, 10);
      log.logger.error(
        { kind: 'capture', missedSyns: missed, programs },
        `the capture missed connections the SYN gate saw (packets dropped): calls may be missing; by program: ${describeMissed(st.missedConnections)}`,
      );
    }
    state.drops.pcap = missed;
    metrics?.setPcapDrops(missed);
    metrics?.setGateRuleRepairs(st.gateRules?.repairs ?? 0);
    // per-uid fairness (docs/design.md#syn-gate): whose SYNs were passed without a lookup
    const shedByUid = st.gate?.shedByUid ?? {};
    const shed = st.gate?.shed ?? 0;
    const frames = st.frameQueue;
    if (shed > lastShed || (frames?.overflow ?? 0) > lastOverflow) {
      log.logger.warn({ kind: 'gate', shed, shedByUid, frames }, `the SYN gate passed ${shed - lastShed} SYNs without a process lookup (uid over its share of lookup time; cumulative by uid: ${JSON.stringify(shedByUid)}): those calls are unattributed`);
      lastShed = shed;
      lastOverflow = frames?.overflow ?? 0;
    }
    metrics?.setGateShed(shedByUid);
    state.drops.logLinesDropped = log.droppedLines;
    metrics?.setLogLinesDropped(log.droppedLines);
  };
  const save = () => {
    touchWindow(state, now(), false);
    try {
      saveState(cfg.stateFile, state);
    } catch (err) {
      log.logger.error({ kind: 'state' }, `cannot save state ${cfg.stateFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  // new events are on disk within a second (a report right after boot sees them);
  // counters are reported and the observation window extended every saveIntervalSec
  let lastReport = Date.now();
  save();
  const timer = setInterval(() => {
    const t = Date.now();
    if (t - lastReport >= cfg.saveIntervalSec * 1000) {
      lastReport = t;
      report();
      dirty = false;
      save();
    } else if (dirty) {
      dirty = false;
      save();
    }
  }, 1000);

  const signal = await waitForStop({
    onHangup: () => {
      log.reopen();
      log.logger.info({ kind: 'daemon' }, 'log file reopened');
    },
  });
  log.logger.info({ kind: 'daemon', signal }, 'stopping');
  process.off('exit', flushLog);
  clearInterval(timer);
  session.stop();
  unguard();
  metrics?.setCaptureRunning(false);
  report();
  save();
  await metrics?.close();
  log.close();
}
