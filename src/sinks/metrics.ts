import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration } from 'prom-client';
import type { ImdsEvent } from '../imds/event.js';
import { containerLabel } from '../ledger/container-label.js';
import { labelValue } from '../text/sanitize.js';
import { isOwnProbe } from '../ledger/ledger.js';
import { VERSION } from '../domain/version.js';
import { GAUGE_PATHS } from '../pipeline/stats.js';
import type { HostVerdict } from '../readiness/verdict-gauge.js';

/**
 * A hold histogram's counts: what the gate's HoldHistogram snapshots (src/live/hold-histogram.ts
 * names this type HistogramSnapshot; it is defined here because sinks/ sits below live/).
 */
export interface HoldCounts {
  /** upper bounds in milliseconds; counts[i] = samples ≤ bucketsMs[i] (not cumulative); counts[last] = +Inf */
  bucketsMs: number[];
  counts: number[];
  sumMs: number;
  count: number;
}

/**
 * Prometheus metrics. Port 16954 by default ("169.254"): outside 9100–9999, the range
 * the Prometheus wiki's default-port list has fully handed out to exporters, so it
 * collides with no well-known exporter. Label values from the host (exe, unit) are
 * capped: past `maxSoftwareLabels` distinct pairs, calls count under exe="other"; likewise
 * containers (ns/pod/container, or the container's name) past `maxContainerLabels` count under
 * container="other", and calls from outside any container under container="none".
 */
export const DEFAULT_METRICS_PORT = 16954;
const MAX_CONTAINER_LABEL_LENGTH = 128;
const KNOWN_STATUS = new Set([200, 400, 401, 403, 404, 405, 429, 500, 503]);

/** resolution of imdswatch_process_nodejs_eventloop_lag_* (prom-client's default: 10 ms) */
export const EVENT_LOOP_MONITOR_MS = 100;

/** the label values of imdswatch_readiness, one per verdict (a state set: the current one 1, the others 0) */
export const VERDICT_LABELS = { READY: 'ready', 'NOT READY': 'not_ready', UNKNOWN: 'unknown' } as const;

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Tally<'version' | 'status'>;
  private readonly v1ByExe: Tally<'exe' | 'unit'>;
  private readonly v1ByContainer: Tally<'container'>;
  private readonly seenContainers = new Set<string>();
  private readonly attribution: Tally<'outcome'>;
  private readonly pcapDrops: Gauge<'counter'>;
  private readonly evictions: Counter<never>;
  private readonly parseErrors: Counter<'code'>;
  private readonly captureUp: Gauge<never>;
  private readonly logLinesDropped: Gauge<never>;
  private readonly gateRuleRepairs: Gauge<never>;
  private readonly listenFailures: Counter<'listener'>;
  private readonly gateShed: Counter<'uid'>;
  private readonly gateShedSeen = new Map<string, number>();
  private readonly stageCounters: Counter<'stage' | 'counter'>;
  private readonly stageGauges: Gauge<'stage' | 'counter'>;
  private readonly readiness: Gauge<'verdict'>;
  private readonly readinessBlocking: Gauge<never>;
  private readonly seenSoftware = new Set<string>();
  private server: Server | null = null;
  /** the gate's hold histogram (src/live/hold-histogram.ts), read at each scrape; null: no gate */
  private holdSource: (() => HoldCounts | null) | null = null;
  private captureRunning = false;

  constructor(
    private readonly maxSoftwareLabels = 100,
    private readonly maxContainerLabels = 100,
  ) {
    const r = [this.registry];
    // the event-loop-lag histogram samples with a timer: prom-client's 10 ms default woke the
    // daemon 100 times a second, idle or not (a measurable share of its CPU at a few calls a
    // second); 100 ms still shows a stalled loop
    collectDefaultMetrics({ register: this.registry, prefix: 'imdswatch_process_', eventLoopMonitoringPrecision: EVENT_LOOP_MONITOR_MS });
    // the per-call counters are counted in tallies and added to prom-client at each scrape (docs/design.md#metric-tallies)
    this.requests = new Tally({ name: 'imdswatch_requests_total', help: 'IMDS requests seen, by version (v1, v2, token) and response status', labelNames: ['version', 'status'], registers: r });
    this.v1ByExe = new Tally({ name: 'imdswatch_v1_calls_total', help: 'IMDSv1 calls by executable and systemd unit (capped; overflow under exe="other")', labelNames: ['exe', 'unit'], registers: r });
    this.v1ByContainer = new Tally({ name: 'imdswatch_v1_calls_by_container_total', help: 'IMDSv1 calls by container (namespace/pod/container or name; "none" outside containers; capped, overflow under "other")', labelNames: ['container'], registers: r });
    this.attribution = new Tally({ name: 'imdswatch_attribution_total', help: 'How requests were attributed to a process: gate, passive or none', labelNames: ['outcome'], registers: r });
    // read from the gate's own histogram at each scrape: nothing per SYN (docs/design.md#hold-metric)
    this.registry.registerMetric(holdMetric(() => this.holdSource?.() ?? null) as unknown as Histogram<never>);
    this.pcapDrops = new Gauge({
      name: 'imdswatch_pcap_dropped_packets',
      help: 'Capture loss. counter="gate_syn_not_captured": SYNs the gate held that the capture never saw (the cap binding exposes no pcap_stats)',
      labelNames: ['counter'],
      registers: r,
    });
    this.evictions = new Counter({ name: 'imdswatch_flow_evictions_total', help: 'TCP flows evicted because the flow table hit its bound', registers: r });
    this.parseErrors = new Counter({ name: 'imdswatch_parse_errors_total', help: 'HTTP parse problems by code', labelNames: ['code'], registers: r });
    this.captureUp = new Gauge({ name: 'imdswatch_capture_up', help: '1 while the capture is running', registers: r });
    this.logLinesDropped = new Gauge({ name: 'imdswatch_log_lines_dropped', help: 'Event log lines not written to the log file (disk full or unwritable)', registers: r });
    this.gateRuleRepairs = new Gauge({ name: 'imdswatch_gate_rule_repairs', help: 'Times the SYN gate rule was found removed or displaced by something else and put back, since start', registers: r });
    this.gateShed = new Counter({
      name: 'imdswatch_gate_shed_syns_total',
      help: 'SYNs the gate passed without a process lookup because their uid was over its share of the lookup time (per-uid fairness; uid="unknown" when the socket\'s uid could not be read, "other" past 64 uids)',
      labelNames: ['uid'],
      registers: r,
    });
    this.stageCounters = new Counter({
      name: 'imdswatch_stage_counter_total',
      help: 'Every counter of every pipeline stage (decode, tcp, http, imds, enrich), e.g. stage="http",counter="unpairedResponses"; see docs/design.md#counters',
      labelNames: ['stage', 'counter'],
      registers: r,
    });
    this.stageGauges = new Gauge({ name: 'imdswatch_stage_gauge', help: 'Current sizes in the pipeline stages (active flows, cached SDK answers, clients followed for v1 reasons)', labelNames: ['stage', 'counter'], registers: r });
    this.listenFailures = new Counter({
      name: 'imdswatch_metrics_listen_failures_total',
      help: 'Times the metrics server could not listen (listener="tcp": the port is taken, maybe by another local user; "unix": the socket). Capture never waits for it; tcp is retried',
      labelNames: ['listener'],
      registers: r,
    });
    // the host's verdict, as `imdswatch report` gives it (src/readiness/verdict-gauge.ts); set each save interval (no sample before the first)
    this.readiness = new Gauge({
      name: 'imdswatch_readiness',
      help: 'This host\'s readiness for HttpTokens=required, as `imdswatch report` gives it (--min-hours 24, no --since): 1 for the current verdict (ready, not_ready, unknown), 0 for the others',
      labelNames: ['verdict'],
      registers: r,
    });
    this.readinessBlocking = new Gauge({ name: 'imdswatch_readiness_blocking_programs', help: 'Programs (the report\'s findings) whose IMDSv1 calls keep this host NOT READY; 0 otherwise', registers: r });
    const buildInfo = new Gauge({ name: 'imdswatch_build_info', help: 'imdswatch version (always 1)', labelNames: ['version'], registers: r });
    buildInfo.set({ version: VERSION }, 1);
  }

  event(ev: ImdsEvent): void {
    // imdswatch doctor's own probe is no IMDS use of this host (marked in the event log, not counted)
    if (isOwnProbe(ev)) return;
    const status = ev.status === null ? 'none' : KNOWN_STATUS.has(ev.status) ? String(ev.status) : 'other';
    this.requests.add(`${ev.version} ${status}`, { version: ev.version, status });
    this.attribution.add(ev.attribution, { outcome: ev.attribution });
    if (ev.version === 'v1') {
      // label values through the one sanitizer (docs/design.md#sanitizer): no raw ESC/BEL/C1, cut and marked
      let exe = labelValue(ev.process?.exe ?? 'unknown');
      let unit = labelValue(ev.process?.unit ?? 'none');
      const key = `${exe}\u0000${unit}`;
      if (!this.seenSoftware.has(key)) {
        if (this.seenSoftware.size >= this.maxSoftwareLabels) {
          exe = 'other';
          unit = 'other';
        } else this.seenSoftware.add(key);
      }
      this.v1ByExe.add(`${exe}\u0000${unit}`, { exe, unit });
      let container = labelValue(containerLabel(ev) ?? 'none', MAX_CONTAINER_LABEL_LENGTH);
      if (!this.seenContainers.has(container)) {
        if (this.seenContainers.size >= this.maxContainerLabels) container = 'other';
        else this.seenContainers.add(container);
      }
      this.v1ByContainer.add(container, { container });
    }
  }

  /** where imdswatch_gate_hold_seconds comes from: the running gate's histogram (docs/design.md#hold-metric) */
  setGateHoldSource(source: () => HoldCounts | null): void {
    this.holdSource = source;
  }

  setGateRuleRepairs(n: number): void {
    this.gateRuleRepairs.set(n);
  }
  /** the gate's shed SYNs by uid, cumulative since start (src/live/gate.ts GateStats.shedByUid) */
  setGateShed(byUid: Record<string, number>): void {
    for (const [uid, n] of Object.entries(byUid)) {
      const d = n - (this.gateShedSeen.get(uid) ?? 0);
      if (d > 0) this.gateShed.inc({ uid }, d);
      this.gateShedSeen.set(uid, n);
    }
  }
  setPcapDrops(gateSynNotCaptured: number): void {
    this.pcapDrops.set({ counter: 'gate_syn_not_captured' }, gateSynNotCaptured);
  }
  addEvictions(n: number): void {
    if (n > 0) this.evictions.inc(n);
  }
  addParseErrors(code: string, n: number): void {
    if (n > 0) this.parseErrors.inc({ code }, n);
  }
  /**
   * The pipeline's counter deltas since the last call (src/pipeline/stats.ts counterDelta),
   * "stage.counter.key" paths: counters are added, the GAUGE_PATHS set to `current`.
   */
  addStageCounters(delta: Record<string, number>, current: Record<string, number>): void {
    for (const [path, d] of Object.entries(delta)) {
      if (GAUGE_PATHS.has(path) || d <= 0) continue;
      const dot = path.indexOf('.');
      this.stageCounters.inc({ stage: path.slice(0, dot), counter: path.slice(dot + 1) }, d);
    }
    for (const path of GAUGE_PATHS) {
      const dot = path.indexOf('.');
      this.stageGauges.set({ stage: path.slice(0, dot), counter: path.slice(dot + 1) }, current[path] ?? 0);
    }
  }
  setCaptureRunning(up: boolean): void {
    this.captureRunning = up;
    this.captureUp.set(up ? 1 : 0);
  }
  setLogLinesDropped(n: number): void {
    this.logLinesDropped.set(n);
  }

  /** the host's verdict (src/readiness/verdict-gauge.ts hostVerdict): every verdict label is always present */
  setReadiness(v: HostVerdict): void {
    for (const [verdict, label] of Object.entries(VERDICT_LABELS)) this.readiness.set({ verdict: label }, verdict === v.verdict ? 1 : 0);
    this.readinessBlocking.set(v.blockingPrograms);
  }

  countListenFailure(listener: 'tcp' | 'unix'): void {
    this.listenFailures.inc({ listener });
  }

  /** the HTTP handler of /metrics and /healthz (src/service/metrics-server.ts serves it on TCP and a unix socket) */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url === '/metrics') {
      this.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': this.registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end('metrics unavailable\n');
        },
      );
    } else if (req.url === '/healthz') {
      res.writeHead(this.captureRunning ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(this.captureRunning ? 'ok\n' : 'capture not running\n');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('try /metrics or /healthz\n');
    }
  };

  /** serve /metrics and /healthz on host:port (127.0.0.1 by default); rejects when it cannot listen */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    this.server = createServer(this.handle);
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => {
        const a = this.server!.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (!this.server) return r();
      this.server.close(() => r());
      // a scraper's keep-alive connection must not hold the shutdown
      this.server.closeAllConnections();
    });
  }
}

const HOLD_METRIC = 'imdswatch_gate_hold_seconds';

/** imdswatch_gate_hold_seconds' upper bounds, in ms: each one of the gate's HOLD_BUCKETS_MS, so its cumulative count is exact */
export const HOLD_METRIC_BOUNDS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100];

/**
 * The hold histogram as a prom-client metric that reads the gate's own counts at each scrape
 * (docs/design.md#hold-metric): the same series, buckets and values prom-client's Histogram
 * gave when every verdict called its observe() inside the gate's packet callback (~30 µs
 * of the call's CPU at 100 calls/s: label hashing, a values object per call). Holds are
 * counted once, by the gate (src/live/hold-histogram.ts), shed SYNs not at all, as before.
 */
export function holdMetric(source: () => HoldCounts | null) {
  const name = HOLD_METRIC;
  const help = 'Time each SYN was held by the gate for the /proc lookup';
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: holdValues(source()) }),
    reset: () => {},
  };
}

/** cumulative bucket counts (le in seconds), sum and count of a gate histogram snapshot (none yet: zeros) */
export function holdValues(h: HoldCounts | null): Array<{ labels: { le?: number | string }; value: number; metricName: string }> {
  const name = HOLD_METRIC;
  const out: Array<{ labels: { le?: number | string }; value: number; metricName: string }> = [];
  for (const bound of HOLD_METRIC_BOUNDS_MS) {
    let n = 0;
    if (h) for (let i = 0; i < h.bucketsMs.length && h.bucketsMs[i]! <= bound; i++) n += h.counts[i]!;
    out.push({ labels: { le: bound / 1000 }, value: n, metricName: `${name}_bucket` });
  }
  const count = h?.count ?? 0;
  out.push({ labels: { le: '+Inf' }, value: count, metricName: `${name}_bucket` });
  out.push({ labels: {}, value: (h?.sumMs ?? 0) / 1000, metricName: `${name}_sum` });
  out.push({ labels: {}, value: count, metricName: `${name}_count` });
  return out;
}

/**
 * A prom-client counter's per-call increments, counted by a key the caller already has and
 * added to the counter when it is scraped (its `collect`; docs/design.md#metric-tallies):
 * prom-client's inc() validates and hashes the labels on every call. Label sets are bounded by
 * the caller (the software and container caps), so is this map.
 */
export class Tally<L extends string> {
  private readonly counts = new Map<string, { labels: Partial<Record<L, string>>; n: number }>();
  private readonly counter: Counter<L>;

  /** the counter `config` describes, whose scrape adds what was tallied since the last one */
  constructor(config: Omit<CounterConfiguration<L>, 'collect'>) {
    this.counter = new Counter({ ...config, collect: () => this.flush() });
  }

  /** one more under these labels (`key` names them: the same key, the same labels) */
  add(key: string, labels: Partial<Record<L, string>>): void {
    const e = this.counts.get(key);
    if (e) e.n++;
    else this.counts.set(key, { labels, n: 1 });
  }

  /** what was counted since the last scrape, into the counter */
  flush(): void {
    for (const e of this.counts.values()) {
      if (e.n === 0) continue;
      this.counter.inc(e.labels, e.n);
      e.n = 0;
    }
  }
}
