import { SYSTEM_UIDS } from '../live/system-lane.js';
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { resolveDaemonConfig, DAEMON_DEFAULTS, DEFAULT_CONFIG_FILE, type DaemonConfig } from './daemon-config.js';
import { addLiveSettingFlags, liveFlags, settingsHelp } from './settings.js';
import { LiveSession } from '../live/live-session.js';
import { DaemonHealth, lossCounters } from '../live/daemon-health.js';
import { guardSessionExit, waitForStop } from './signals.js';
import { EventLog } from '../sinks/event-log.js';
import { Metrics } from '../sinks/metrics.js';
import { loadState, recordEvent, StateSaver, touchWindow, type DaemonState } from '../sinks/state-store.js';
import { CliError, EXIT_RETRY, EXIT_TROUBLE } from './exit-codes.js';
import { LiveCaptureError } from '../live/capture.js';
import { markReady } from '../service/ready-file.js';
import { acquireDaemonLock, AlreadyRunningError, lockPlace } from '../service/single-instance.js';
import { dirname, resolve } from 'node:path';
import { DEFAULT_STATE_PATH } from '../domain/endpoint.js';
import { assertSafeDirectories, UnsafePathError } from '../files/safe-file.js';
import { MetricsServer } from '../service/metrics-server.js';
import { describeStart, takeOverBootWatch } from '../live/boot-watch.js';
import { hostVerdict } from '../readiness/verdict-gauge.js';
import { startDaemonEnforce, type DaemonEnforce } from '../enforce/daemon-enforce.js';

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
    .option('--metrics-socket <path|off>', 'also serve metrics on this unix socket, mode 0660 (default off; README "Security")')
    .option('--metrics-socket-group <group>', `group of the metrics socket (default ${DAEMON_DEFAULTS.metricsSocketGroup})`)
    .option('--no-stdout', 'do not copy events to stdout (journald)')
    .option('--enforce <workloads...>', 'HttpTokens=required for these workloads only: unit:NAME, container:NAME, cgroup:PATH, each optionally dry-run:unit:NAME (README "enforce")')
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
        metricsSocket: o.metricsSocket,
        metricsSocketGroup: o.metricsSocketGroup,
        stdout: o.stdout === false ? false : undefined,
        enforce: o.enforce,
      };
      const cfg = resolveDaemonConfig(flags, process.env, o.config as string | undefined);
      await runDaemon(cfg);
    });
}

export async function runDaemon(cfg: DaemonConfig): Promise<void> {
  const live: LiveHealth = { health: null };
  // one daemon per host, checked before anything else (metrics port, log, state, queue)
  let lock;
  try {
    // in /run/imdswatch, else (a read-only /run) beside the state (src/service/single-instance.ts)
    // its health is answered at each ask once capture runs (a following scan compares two answers)
    lock = await acquireDaemonLock(lockPlace(process.env, [dirname(cfg.stateFile), dirname(DEFAULT_STATE_PATH)]), {
      logFile: cfg.logFile && resolve(cfg.logFile),
      health: () => live.health?.() ?? null,
    });
  } catch (err) {
    if (err instanceof AlreadyRunningError || err instanceof UnsafePathError) throw new CliError(err.message, err.code);
    throw err;
  }
  try {
    await runLockedDaemon(cfg, live);
  } finally {
    lock.release();
  }
}

/** the running session's loss counters, for the lock socket's answer (set once capture runs) */
interface LiveHealth {
  health: (() => Record<string, number>) | null;
}

async function runLockedDaemon(cfg: DaemonConfig, live: LiveHealth): Promise<void> {
  // a log or state directory another user could plant a symlink in is refused in one line (docs/design.md#security)
  try {
    assertSafeDirectories([cfg.logFile, cfg.stateFile, cfg.metricsSocket]);
  } catch (err) {
    if (err instanceof UnsafePathError) throw new CliError(err.message, err.code);
    throw err;
  }
  const metrics = cfg.metricsPort === null && cfg.metricsSocket === null ? null : new Metrics();
  const log = new EventLog({ file: cfg.logFile, maxBytes: cfg.logMaxBytes, maxFiles: cfg.logMaxFiles, stdout: cfg.stdout });
  const now = () => new Date().toISOString();
  const loaded = loadState(cfg.stateFile, hostname(), bootId(), now());
  const state: DaemonState = loaded.state;
  if (loaded.note) log.logger.error({ kind: 'state' }, loaded.note);
  const earlier = state.windows.slice();
  touchWindow(state, now(), true);

  // capture never waits for the metrics listener: a port another user took is retried in the background (docs/design.md#security)
  const metricsServer = metrics ? new MetricsServer(metrics, log.logger) : null;
  if (metricsServer && cfg.metricsPort !== null) await metricsServer.startTcp(cfg.metricsPort, cfg.metricsHost);
  if (metricsServer && cfg.metricsSocket !== null) {
    try {
      await metricsServer.startUnix(cfg.metricsSocket, cfg.metricsSocketGroup);
    } catch (err) {
      await metricsServer.close();
      log.close();
      if (err instanceof UnsafePathError) throw new CliError(err.message, err.code);
      throw err;
    }
  }

  let dirty = false;
  // enforce (docs/design.md#enforce): started after capture, before ready; a call it passes on is given back to the workload
  let enforce: DaemonEnforce | null = null;
  let session: LiveSession;
  try {
    session = LiveSession.start({
      interfaces: cfg.interfaces,
      gate: cfg.gate,
      lane: cfg.lane,
      queueNum: cfg.queueNum,
      gateBudgetMs: cfg.gateBudgetMs,
      onEvent(raw) {
        const ev = enforce ? enforce.event(raw) : raw;
        log.event(ev);
        metrics?.event(ev);
        recordEvent(state, ev);
        dirty = true;
      },
      onWarning: (m) => log.logger.warn({ kind: 'daemon' }, m),
    });
  } catch (err) {
    await metricsServer?.close();
    log.close();
    // an interface that cannot be opened may not exist yet (early boot, renamed NIC): retry
    if (err instanceof LiveCaptureError) throw new CliError(err.message, err.code, err.code === 'E_CAPTURE_OPEN_FAILED' ? EXIT_RETRY : EXIT_TROUBLE);
    throw err;
  }
  const unguard = guardSessionExit(session);
  // the hold histogram is the gate's own, read at each scrape, never in the gate's packet callback (docs/design.md#hold-metric)
  metrics?.setGateHoldSource(() => session.holdHistogram());
  enforce = await startDaemonEnforce({ workloads: cfg.enforce, state, logger: log.logger, now, changed: () => (dirty = true) });
  // the log file batches lines for a few ms: an exit on an uncaught error still writes them
  const flushLog = () => log.flush();
  process.on('exit', flushLog);
  metrics?.setCaptureRunning(true);
  // the gate watches now: what the boot watch counted before goes into this window (docs/design.md#boot-watch)
  const { fields: started, arming } = takeOverBootWatch({ bootId: state.bootId, earlier });
  Object.assign(state.windows[state.windows.length - 1]!, started);
  log.logger[started.unwatched?.count || started.fromBoot === false ? 'warn' : 'info']({ kind: 'boot-watch', ...started, arming }, describeStart(started, arming));
  // capture open, gate rules in, queue listening: units ordered after us may start now
  markReady();
  log.logger.info(
    { kind: 'daemon', gate: session.gateActive, lane: session.laneActive, interfaces: cfg.interfaces, logFile: cfg.logFile, stateFile: cfg.stateFile },
    `capturing on ${cfg.interfaces.join(',')}${session.gateActive ? ' with the SYN gate' : ' without the SYN gate (passive attribution)'}${session.laneActive ? ` and the system lane (uids ${SYSTEM_UIDS} apart: docs/design.md#system-lane)` : ''}`,
  );

  // counters, metrics and loss lines: once per save interval (one line per interval, never per eviction)
  const health = new DaemonHealth({ logger: log.logger, metrics, state });
  const report = () => health.report(session.stats(), log.droppedLines);
  live.health = () => lossCounters(session.stats(), log.droppedLines, session.captureClockMs());
  // saves serialise only changed entries, in slices, and write on the thread pool: the event loop (capture, gate verdicts) never waits on a whole-state stringify or an fsync
  const saver = new StateSaver(cfg.stateFile, state, (err) =>
    log.logger.error({ kind: 'state' }, err instanceof UnsafePathError ? err.message : `cannot save state ${cfg.stateFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`),
  );
  const save = () => {
    touchWindow(state, now(), false);
    enforce?.flush();
    saver.request();
  };
  // new events are on disk within a second (a report right after boot sees them);
  // counters are reported and the observation window extended every saveIntervalSec
  let lastReport = Date.now();
  // the verdict on /metrics: what `imdswatch report` says of the state just saved (docs/design.md#readiness-metric)
  // the verdict on /metrics (docs/design.md#readiness-metric); a fault there never stops capture
  const publishVerdict = () => {
    try {
      metrics?.setReadiness(hostVerdict(state, now()));
    } catch (err) {
      log.logger.error({ kind: 'readiness-metric' }, `cannot compute the readiness verdict for /metrics: ${(err as Error).message}`);
    }
  };
  save();
  publishVerdict();
  const timer = setInterval(() => {
    const t = Date.now();
    if (t - lastReport >= cfg.saveIntervalSec * 1000) {
      lastReport = t;
      report();
      dirty = false;
      save();
      publishVerdict();
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
  await enforce?.stop();
  session.stop();
  unguard();
  metrics?.setCaptureRunning(false);
  report();
  touchWindow(state, now(), false);
  await saver.close();
  await metricsServer?.close();
  log.close();
}
