import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/sinks/metrics.js';
import { metricNames, withoutGrafanaVariables } from './promql-names.js';

const DASHBOARD = 'contrib/grafana/imdswatch-fleet.json';
const RULES = 'contrib/prometheus/imdswatch.rules.yml';
const RULES_TESTS = 'contrib/prometheus/imdswatch.rules.test.yml';
/** series Prometheus makes itself for every scrape target; the only names allowed besides ours */
const PROMETHEUS_SYNTHETIC = new Set(['up']);

const promtool = spawnSync('promtool', ['--version']).status === 0;

interface Target { expr?: string; refId?: string }
interface Panel { type: string; title: string; targets?: Target[]; panels?: Panel[] }
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

let registered: Set<string>;
let dashboard: Dashboard;
let dashboardExprs: Array<{ where: string; expr: string }>;

/** every series name the daemon exports: the registry's names, plus a histogram's _bucket/_sum/_count */
async function exportedNames(): Promise<Set<string>> {
  const m = new Metrics();
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(metric.name + s);
  }
  return names;
}

function rulesExprs(text: string): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  let name = '';
  for (const line of text.split('\n')) {
    const rn = /^\s*-\s*(record|alert):\s*(\S+)/.exec(line);
    if (rn) name = rn[2]!;
    const m = /^\s*expr:\s*(.*)$/.exec(line);
    if (m) out.push({ where: name, expr: m[1]!.trim() });
  }
  return out;
}

function recordedNames(text: string): Set<string> {
  return new Set([...text.matchAll(/^\s*-\s*record:\s*(\S+)/gm)].map((m) => m[1]!));
}

beforeAll(async () => {
  registered = await exportedNames();
  dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  dashboardExprs = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr !== undefined) dashboardExprs.push({ where: `${p.title} #${t.refId}`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const lv = q ? /^label_values\((.+),\s*[A-Za-z_]+\)$/.exec(q) : null;
    if (lv) dashboardExprs.push({ where: `variable ${v.name}`, expr: lv[1]! });
  }
});

describe('the PromQL name extractor (so the checks below can fail)', () => {
  it.each([
    ['sum by (instance) (increase(imdswatch_requests_total{job=~"$job",version="v1"}[$__range])) > 0', ['imdswatch_requests_total']],
    ['histogram_quantile(0.99, sum by (le, instance) (rate(imdswatch_gate_hold_seconds_bucket{a="b"}[5m])))', ['imdswatch_gate_hold_seconds_bucket']],
    ['count((imdswatch_capture_up == 0) or (up{job="x"} == 0)) or vector(0)', ['imdswatch_capture_up', 'up']],
    ['instance:imdswatch_v1_calls:rate5m / on (instance) group_left imdswatch_renamed_total', ['instance:imdswatch_v1_calls:rate5m', 'imdswatch_renamed_total']],
  ])('%s', (expr, want) => {
    expect(metricNames(expr).sort()).toEqual([...want].sort());
  });

  it('the daemon registers the metrics the brief names, and a renamed one would be caught', () => {
    for (const n of ['imdswatch_requests_total', 'imdswatch_v1_calls_total', 'imdswatch_v1_calls_by_container_total', 'imdswatch_gate_hold_seconds_bucket', 'imdswatch_capture_up']) {
      expect(registered.has(n), n).toBe(true);
    }
    expect(registered.has('imdswatch_requests')).toBe(false);
  });
});

describe('contrib/grafana/imdswatch-fleet.json', () => {
  it('is a dashboard with the fleet panels and job/instance variables', () => {
    expect(dashboard.uid).toBe('imdswatch-fleet');
    const vars = dashboard.templating.list.map((v) => v.name);
    expect(vars).toEqual(expect.arrayContaining(['datasource', 'job', 'instance']));
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ['Hosts with IMDSv1 calls in the range', 'IMDSv1 rate by executable (fleet)', 'IMDSv1 vs IMDSv2 over time', 'Rejected IMDSv1 calls (401) by host', 'Hosts whose capture is down', 'Gate hold p99', 'IMDSv1 rate by container', 'Hosts by verdict', 'Hosts NOT READY or UNKNOWN']) {
      expect(titles).toContain(t);
    }
    expect(dashboardExprs.length).toBeGreaterThan(15);
  });

  it('every expression filters by the job and instance variables', () => {
    for (const { where, expr } of dashboardExprs) {
      if (where === 'variable job') continue; // lists the jobs
      expect(expr, where).toContain('job=~"$job"');
      if (where === 'variable instance') continue; // lists the job's hosts
      expect(expr, where).toContain('instance=~"$instance"');
    }
  });

  it('uses only metric names the daemon registers', () => {
    const unknown = dashboardExprs.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !registered.has(n) && !PROMETHEUS_SYNTHETIC.has(n)).map((n) => `${where}: ${n}`));
    expect(unknown).toEqual([]);
    const used = new Set(dashboardExprs.flatMap(({ expr }) => metricNames(expr)));
    // the dashboard covers every imdswatch_* metric (default process metrics aside)
    for (const n of registered) {
      if (n.startsWith('imdswatch_process_') || /_(sum|count)$/.test(n) || n === 'imdswatch_gate_hold_seconds') continue;
      expect(used.has(n), `dashboard shows ${n}`).toBe(true);
    }
  });

  it.skipIf(!promtool)('every expression parses as PromQL (promtool)', () => {
    const dir = mkdtempSync(join(tmpdir(), `imw-contrib-${process.pid}-`));
    try {
      const lines = ['groups:', '  - name: dashboard', '    rules:'];
      dashboardExprs.forEach(({ expr }, i) => lines.push(`      - record: dashboard:expr_${i}`, `        expr: ${JSON.stringify(withoutGrafanaVariables(expr))}`));
      writeFileSync(join(dir, 'dash.rules.yml'), lines.join('\n') + '\n');
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'dash.rules.yml')], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toContain(`SUCCESS: ${dashboardExprs.length} rules found`);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('contrib/prometheus/imdswatch.rules.yml', () => {
  let text: string;
  beforeAll(() => {
    text = readFileSync(RULES, 'utf8');
  });

  it('has the recording rules and the alerts, each expression on one line', () => {
    const exprs = rulesExprs(text);
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    for (const { where, expr } of exprs) expect(expr, where).not.toMatch(/^[|>]?$/);
    for (const a of ['ImdsV1CallsSeen', 'ImdsV1CallsRejected', 'ImdsHostNoLongerReady', 'ImdswatchCaptureDown', 'ImdswatchDown']) expect(text).toMatch(new RegExp(`- alert: ${a}\\n`));
    expect(text).not.toMatch(/\t/);
  });

  it('uses only metric names the daemon registers (or its own recording rules)', () => {
    const own = recordedNames(text);
    const unknown = rulesExprs(text).flatMap(({ where, expr }) =>
      metricNames(expr).filter((n) => !registered.has(n) && !own.has(n) && !PROMETHEUS_SYNTHETIC.has(n)).map((n) => `${where}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it.skipIf(!promtool)('passes promtool check rules and the rule unit tests beside it', () => {
    const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(check.stdout + check.stderr).toMatch(/SUCCESS: \d+ rules found/);
    expect(check.status).toBe(0);
    const unit = execFileSync('promtool', ['test', 'rules', 'imdswatch.rules.test.yml'], { cwd: 'contrib/prometheus', encoding: 'utf8' });
    expect(unit).toContain('SUCCESS');
    expect(readFileSync(RULES_TESTS, 'utf8')).toContain('rule_files:');
  });

  it('promtool is present in CI (installed by .ci/install-deps)', () => {
    if (process.env['CI']) expect(promtool, 'promtool missing: .ci/install-deps extracts it from Debian\'s prometheus package').toBe(true);
  });
});
