import { DEFAULT_GATE_BUDGET_MS, DEFAULT_PASSIVE_BUDGET_MS } from '../domain/endpoint.js';
import type { Attribution, ProcessInfo } from '../imds/event.js';
import type { Frame } from '../source/frame.js';
import type { FlowInfo } from '../tcp/stream.js';
import { ProcCorrelator, type CorrelatorStats } from '../enrich/process/proc-correlator.js';
import { LiveCapture, type CaptureStats } from './capture.js';
import { FrameDeduper, type DedupeStats } from './dedupe.js';
import { SynGate, tupleKey, type GateRecord, type GateStats } from './gate.js';
import type { HistogramSnapshot } from './hold-histogram.js';
import { BusyGuard } from './busy-guard.js';
import { procLookupPrivilegeWarning } from './privilege.js';
import { GateRulesError, installGateRules, removeGateRules, watchGateRules, type GateRuleWatch, type GateRulesResult, type Runner } from './gate-rules.js';

/**
 * Live source = passive capture (→ onFrame, deduplicated) + SYN gate (rules + nfqueue
 * listener) + /proc correlator. `attributionFor` is the pipeline's `resolveProcess` hook.
 *
 * Failure policy: no rights / no firewall tool / no nfqueue → one warning, run passively.
 * A capture that cannot open is fatal (throws LiveCaptureError) after undoing the gate.
 * The gate rules are removed by stop(), on process exit (also after an uncaught exception)
 * and, with `handleSignals`, on SIGINT/SIGTERM.
 */
export interface LiveOptions {
  interfaces: string[];
  gate: boolean;
  queueNum: number;
  onFrame: (frame: Frame) => void;
  onWarning: (msg: string) => void;
  /** lookup budget per held SYN (default 50 ms) */
  gateBudgetMs?: number;
  /** lookup budget for a passive lookup (default 10 ms) */
  passiveBudgetMs?: number;
  /** drop copies of the same packet seen on several interfaces (default true) */
  dedupe?: boolean;
  /** remove the rules on SIGINT/SIGTERM (and exit if nobody else listens); default true */
  handleSignals?: boolean;
  /** called for every held SYN (metrics, probes) */
  onGateRecord?: (r: GateRecord) => void;
  /** capture filter override (tests) */
  filter?: string;
  /** skip the passive capture (gate only) */
  capture?: boolean;
  correlator?: ProcCorrelator;
  ruleRunner?: Runner;
}

export interface LiveStats {
  gateActive: boolean;
  gateRules: GateRulesResult | null;
  gate: GateStats | null;
  holdHistogram: HistogramSnapshot | null;
  holdQuantiles: { p50: number; p99: number; max: number; samples: number } | null;
  capture: CaptureStats | null;
  dedupe: DedupeStats | null;
  correlator: CorrelatorStats;
  attribution: Record<Attribution, number>;
  /** passive lookups skipped by the overload guard (the flow stays unattributed) */
  passiveShed: number;
}

export interface LiveSource {
  stop(): void;
  stats(): LiveStats;
  attributionFor(flow: FlowInfo): { process: ProcessInfo | null; attribution: Attribution };
  readonly gateActive: boolean;
}

export function startLive(opts: LiveOptions): LiveSource {
  const correlator = opts.correlator ?? new ProcCorrelator();
  correlator.prime();
  if (!opts.correlator) {
    const w = procLookupPrivilegeWarning();
    if (w) opts.onWarning(w);
  }
  const attribution: Record<Attribution, number> = { gate: 0, passive: 0, none: 0 };
  let gate: SynGate | null = null;
  let rules: GateRulesResult | null = null;
  let rulesInstalled = false;
  let stopped = false;
  let ruleWatch: GateRuleWatch | null = null; // #10 item 9 (containers helper): keeps the gate rule in place

  const removeRules = (): void => {
    ruleWatch?.stop();
    if (!rulesInstalled) return;
    rulesInstalled = false;
    try {
      removeGateRules({ runner: opts.ruleRunner });
    } catch {
      /* at exit: nothing more to do; the rule bypasses anyway */
    }
  };
  const onExit = (): void => removeRules();
  const onSignal = (sig: NodeJS.Signals): void => {
    stop();
    if (process.listenerCount(sig) === 0) process.exit(sig === 'SIGINT' ? 130 : 143);
  };

  if (opts.gate) {
    const g = new SynGate(correlator, { queueNum: opts.queueNum, budgetMs: opts.gateBudgetMs ?? DEFAULT_GATE_BUDGET_MS }, opts.onGateRecord);
    try {
      g.start();
      try {
        rules = installGateRules({ queueNum: opts.queueNum, runner: opts.ruleRunner });
        rulesInstalled = true;
        gate = g;
        if (rules.replacedStale) opts.onWarning('replaced gate rules left by an earlier run');
        for (const w of rules.warnings) opts.onWarning(w);
        // #10 item 9 (containers helper): a removed or displaced gate rule is put back, counted in
        // stats().gateRules.repairs, and named once in a warning
        if (rules.backend === 'iptables') {
          const r = rules;
          ruleWatch = watchGateRules({ queueNum: opts.queueNum, families: rules.families, runner: opts.ruleRunner, onRepair: (family, problem, ok) => {
            if ((r.repairs = (r.repairs ?? 0) + 1) === 1) opts.onWarning(`the SYN gate's rule was changed by something else (${family === 4 ? 'iptables' : 'ip6tables'}: ${problem}); ${ok ? 'put back' : 'could not put it back'} (checked every few seconds; later repairs are counted, not logged)`);
          } });
        }
      } catch (err) {
        g.stop();
        throw err;
      }
    } catch (err) {
      const e = err as Error & { code?: string };
      opts.onWarning(`SYN gate not active (${e.code ?? 'error'}): ${e.message}; continuing with passive attribution only`);
    }
  }
  process.on('exit', onExit);
  if (opts.handleSignals !== false && rulesInstalled) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  let dedupe: FrameDeduper | null = null;
  let capture: LiveCapture | null = null;
  if (opts.capture !== false) {
    dedupe = opts.dedupe === false ? null : new FrameDeduper();
    const d = dedupe;
    capture = new LiveCapture((f) => {
      if (!d || d.accept(f)) opts.onFrame(f);
    }, { interfaces: opts.interfaces, ...(opts.filter ? { filter: opts.filter } : {}) });
    try {
      capture.start();
    } catch (err) {
      gate?.stop();
      removeRules();
      process.off('exit', onExit);
      throw err;
    }
  }

  function stop(): void {
    if (stopped) return;
    stopped = true;
    capture?.stop();
    gate?.stop();
    removeRules();
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const passiveBudget = opts.passiveBudgetMs ?? DEFAULT_PASSIVE_BUDGET_MS;
  // passive lookups share the gate's overload guard (one /proc budget for the event loop)
  const guard = gate?.guard ?? new BusyGuard();
  let passiveShed = 0;
  type Who = { process: ProcessInfo | null; attribution: Attribution };
  const counted = (who: Who): Who => {
    attribution[who.attribution]++;
    return who;
  };
  function attributionFor(flow: FlowInfo): Who {
    const tuple = { srcIp: flow.client.ip, srcPort: flow.client.port, dstIp: flow.server.ip, dstPort: flow.server.port, ipVersion: flow.ipVersion };
    const key = tupleKey(tuple);
    const atMs = flow.sec * 1000 + Math.floor(flow.nsec / 1e6);
    const rec = gate?.lookup(key, atMs);
    if (rec?.process) return counted({ process: rec.process, attribution: 'gate' });
    let found: ProcessInfo | null = null;
    const t0 = performance.now();
    if (guard.allow(t0)) {
      found = correlator.findSocketOwner(tuple, passiveBudget).process;
      guard.done(t0);
    } else {
      passiveShed++;
    }
    const passive: Who = found ? { process: found, attribution: 'passive' } : { process: null, attribution: 'none' };
    if (!gate || !flow.sawSyn || rec) return counted(passive);
    // The capture saw this SYN before the gate held it: a forwarded SYN (container, pod) is
    // captured on its way in, before the FORWARD hook queues it. The gate's record exists by
    // the time the flow carries a request (the handshake waits for the verdict), and the
    // pipeline reads these fields when it makes each event: settle then, gate first.
    let settled: Who | null = null;
    const settle = (): Who => {
      if (settled) return settled;
      const later = gate?.lookup(key, atMs);
      settled = counted(later?.process ? { process: later.process, attribution: 'gate' } : passive);
      return settled;
    };
    return {
      get process() {
        return settle().process;
      },
      get attribution() {
        return settle().attribution;
      },
    };
  }

  return {
    stop,
    attributionFor,
    get gateActive() {
      return gate !== null && !stopped;
    },
    stats: () => ({
      gateActive: gate !== null && !stopped,
      gateRules: rules,
      gate: gate?.stats() ?? null,
      holdHistogram: gate?.holdHistogram() ?? null,
      holdQuantiles: gate?.holdQuantiles() ?? null,
      capture: capture?.stats() ?? null,
      dedupe: dedupe?.stats() ?? null,
      correlator: correlator.stats(),
      attribution: { ...attribution },
      passiveShed,
    }),
  };
}

/** for `imdswatch gate --remove` and systemd ExecStopPost */
export { removeGateRules, GateRulesError };
