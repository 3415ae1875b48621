#!/usr/bin/env node
/**
 * Per-uid fairness of the SYN gate (docs/design.md#syn-gate): what one uid's flood costs
 * root's IMDS calls. In lab network namespaces (createLab from build/lab/netns.js), root only.
 *
 *   npm run build && node bench/fairness.mjs [--flood-rate 5000] [--flood-secs 20] [--root-every-ms 100]
 *
 * 1. root's one-shot curls with no daemon, then with `imdswatch daemon` (gate on, capture on
 *    `any`) and no other load: the baseline latency;
 * 2. the same daemon while uid 65534 (setpriv) opens --flood-rate connections/s to the
 *    simulator for --flood-secs (bench/lib/load-client.mjs, one connection per request) and
 *    root calls with curl every --root-every-ms: root's curl time (connect: the SYN's hold
 *    is in it; total), how root's calls were attributed in the daemon's log, the gate's
 *    shed SYNs by uid (its `gate` log line), the daemon's peak RSS and the load average.
 *
 * Targets (FAIRNESS_TARGETS): root's p90 total time at most the gate budget + 10 ms, every
 * root call the gate saw attributed (as an event, or by name among the connections the
 * capture missed), peak RSS <= 128 MiB. Prints markdown, writes bench/out/fairness.json.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUILD, DIST } from './lib/mixed-capture.mjs';
import { arg, loadAverage, markdownTable } from './lib/measure.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, 'out');
const GATE_BUDGET_MS = 50;
export const FAIRNESS_TARGETS = { rootP90Ms: GATE_BUDGET_MS + 10, rootAttributedShare: 1, rssMiB: 128 };
const FLOOD_UID = 65534;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function quantiles(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  const r = (x) => Math.round(x * 100) / 100;
  return { p50: r(q(0.5)), p90: r(q(0.9)), p99: r(q(0.99)), max: r(s[s.length - 1]), n: s.length };
}

function procCpuSecs(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export function fairnessOptionsFromArgs(a = arg) {
  return { floodRate: Number(a('--flood-rate', '5000')), floodSecs: Number(a('--flood-secs', '20')), rootEveryMs: Number(a('--root-every-ms', '100')), cpuProfDir: a('--cpu-prof-dir', null) };
}

export async function benchFairness(o = {}, log = console.error) {
  if (process.getuid?.() !== 0) throw new Error('bench fairness needs root (network namespaces, iptables)');
  const { createLab } = await import(pathToFileURL(path.join(BUILD, 'lab/netns.js')).href);
  const { startDaemon, run } = await import(pathToFileURL(path.join(BUILD, 'lab/proc.js')).href);
  const floodRate = o.floodRate ?? 5000;
  const floodSecs = o.floodSecs ?? 20;
  const rootEveryMs = o.rootEveryMs ?? 100;
  const node = process.execPath;
  const lab = await createLab({ prefix: 'iwfair', server: false });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'imdswatch-bench-fair-'));
  const result = { when: new Date().toISOString(), host: { cpus: os.cpus().length, node: process.version, loadAverageAtStart: loadAverage() }, targets: FAIRNESS_TARGETS, floodRate, floodSecs, rootEveryMs };
  const started = [];
  try {
    const cli = lab.names.client;
    await run(['ip', 'netns', 'exec', cli, 'sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1']);
    await run(['ip', 'netns', 'exec', lab.names.imds, 'sysctl', '-q', '-w', 'net.ipv4.tcp_tw_reuse=1']);
    started.push(await startDaemon([...lab.execPrefix('imds'), node, path.join(BUILD, 'lab/imds-server-main.js'), '--connection', 'close', '--quiet'], /^ready /));
    const url = 'http://169.254.169.254/latest/meta-data/instance-id';
    /** root's curls, one at a time every rootEveryMs, until `until` (ms) or `count` */
    const rootCurls = async (label, { count = Infinity, until = Infinity } = {}) => {
      const out = [];
      for (let i = 0; i < count && Date.now() < until; i++) {
        const t = Date.now();
        const ua = `root-curl-${label}-${i}`;
        const r = await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-m', '5', '-A', ua, '-w', '%{http_code} %{time_connect} %{time_total}', url]);
        const [code, connect, total] = r.stdout.split(' ');
        out.push({ ua, code, connectMs: Number(connect) * 1000, totalMs: Number(total) * 1000 });
        await sleep(Math.max(0, rootEveryMs - (Date.now() - t)));
      }
      return out;
    };
    const summary = (calls) => ({
      calls: calls.length,
      ok: calls.filter((c) => c.code === '200').length,
      totalMs: quantiles(calls.filter((c) => c.code === '200').map((c) => c.totalMs)),
      connectMs: quantiles(calls.filter((c) => c.code === '200').map((c) => c.connectMs)),
    });
    result.noDaemon = summary(await rootCurls('nodaemon', { count: 30 }));
    log(`root curls, no daemon: ${JSON.stringify(result.noDaemon)}`);
    const floodOnly = lab.run(
      'client',
      ['setpriv', `--reuid=${FLOOD_UID}`, `--regid=${FLOOD_UID}`, '--clear-groups', node, path.join(here, 'lib/load-client.mjs'), '--rate', String(floodRate), '--duration', String(Math.min(10, floodSecs)), '--concurrency', '512'],
      { timeoutMs: (floodSecs + 120) * 1000 },
    );
    await sleep(1000);
    // the same flood without the daemon: what the flood alone costs root (CPU, the simulator)
    result.floodNoDaemon = summary(await rootCurls('floodnodaemon', { until: Date.now() + (Math.min(10, floodSecs) - 2) * 1000 }));
    await floodOnly;
    log(`root curls, flood, no daemon: ${JSON.stringify(result.floodNoDaemon)}`);

    const port = 19_500 + (process.pid % 400);
    const logFile = path.join(tmp, 'imdswatch.log');
    const child = spawn(
      lab.execPrefix('client')[0],
      [
        ...lab.execPrefix('client').slice(1), node, ...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : []), path.join(DIST, 'cli/main.js'), 'daemon',
        '--log-file', logFile, '--log-max-bytes', String(512 * 1024 * 1024), '--log-max-files', '2',
        '--state-file', path.join(tmp, 'state.json'), '--metrics', String(port), '--no-stdout', '--queue-num', '13',
      ],
      // the system lane (docs/design.md#system-lane) is what this bench measures: on unless IMDSWATCH_LANE says otherwise
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, IMDSWATCH_SAVE_INTERVAL: '2', IMDSWATCH_LANE: process.env.IMDSWATCH_LANE ?? 'true' } },
    );
    let daemonErr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (daemonErr = (daemonErr + d).slice(-2000)));
    const exited = new Promise((r) => child.on('close', r));
    started.push({
      stop: async () => {
        if (child.exitCode !== null) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      },
    });
    for (let i = 0; ; i++) {
      const h = await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/healthz`]);
      if (h.stdout === '200') break;
      if (i > 100 || child.exitCode !== null) throw new Error(`daemon not healthy: ${daemonErr.slice(-500)}`);
      await sleep(200);
    }
    result.daemonIdle = summary(await rootCurls('idle', { count: 30 }));
    log(`root curls, daemon, no flood: ${JSON.stringify(result.daemonIdle)}`);

    const rss = [];
    // the gate's kernel queue (per network namespace): current length (3rd field), SYNs dropped because it was full (6th)
    const nfq = { maxWaiting: 0, dropped: 0, userDropped: 0 };
    const nfqFile = `/proc/${child.pid}/net/netfilter/nfnetlink_queue`;
    const sampler = setInterval(() => {
      const r = rssMiB(child.pid);
      if (r !== null) rss.push(r);
      try {
        for (const line of fs.readFileSync(nfqFile, 'utf8').trim().split('\n')) {
          const f = line.trim().split(/\s+/).map(Number);
          if (f[0] !== 13) continue;
          nfq.maxWaiting = Math.max(nfq.maxWaiting, f[2]);
          nfq.dropped = f[5];
          nfq.userDropped = f[6];
        }
      } catch {
        /* the daemon is gone */
      }
    }, 250);
    const load0 = loadAverage();
    const cpu0 = procCpuSecs(child.pid);
    const flood = lab.run(
      'client',
      ['setpriv', `--reuid=${FLOOD_UID}`, `--regid=${FLOOD_UID}`, '--clear-groups', node, path.join(here, 'lib/load-client.mjs'), '--rate', String(floodRate), '--duration', String(floodSecs), '--concurrency', '512'],
      { timeoutMs: (floodSecs + 120) * 1000 },
    );
    await sleep(1000);
    const during = await rootCurls('flood', { until: Date.now() + (floodSecs - 2) * 1000 });
    const f = await flood;
    const loadEnd = loadAverage();
    result.daemonCpuPercentDuringFlood = Math.round((100 * (procCpuSecs(child.pid) - cpu0)) / floodSecs);
    const floodLine = f.stdout.split('\n').find((l) => l.startsWith('{'));
    result.flood = floodLine ? JSON.parse(floodLine) : { error: f.stderr.slice(-300) };
    delete result.flood.latencyMs;
    await sleep(6000); // two save intervals: the gate and capture lines are written
    clearInterval(sampler);
    result.underFlood = summary(during);
    result.loadAverage = { before: load0, after: loadEnd };
    result.rssMiB = { max: rss.length ? Math.max(...rss) : null, samples: rss.length };
    result.nfqueue = nfq;

    const lines = fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const byUa = new Map(lines.filter((l) => l.event?.userAgent?.startsWith('root-curl-flood')).map((l) => [l.event.userAgent, l.event]));
    const attribution = { gate: 0, passive: 0, none: 0, notLogged: 0 };
    for (const c of during) {
      const ev = byUa.get(c.ua);
      if (!ev) attribution.notLogged++;
      else attribution[ev.attribution]++;
    }
    const gateLines = lines.filter((l) => l.kind === 'gate');
    const lossLines = lines.filter((l) => l.kind === 'capture' && l.missedSyns > 0);
    const lastLoss = lossLines.at(-1);
    const curlMissed = (lastLoss?.programs ?? []).filter((p) => p.exe === '/usr/bin/curl').reduce((a, p) => a + p.count, 0);
    result.rootAttribution = { ...attribution, curlNamedAmongMissed: curlMissed };
    // what a root call that the gate did not attribute looked like (to find why)
    result.rootNotByGate = [...byUa.values()].filter((e) => e.attribution !== 'gate').slice(0, 5).map((e) => ({ ua: e.userAgent, attribution: e.attribution, process: e.process ?? null, ts: e.ts, client: e.client ?? null }));
    result.gateShedByUid = gateLines.at(-1)?.shedByUid ?? {};
    result.frameQueue = gateLines.at(-1)?.frames ?? null;
    result.missedSyns = lastLoss?.missedSyns ?? 0;
    const attributedShare = during.length ? (attribution.gate + Math.min(attribution.notLogged, curlMissed)) / during.length : 0;
    result.verdicts = {
      rootP90: (result.underFlood.totalMs?.p90 ?? Infinity) <= FAIRNESS_TARGETS.rootP90Ms,
      rootAttributed: attributedShare >= FAIRNESS_TARGETS.rootAttributedShare,
      rss: (result.rssMiB.max ?? Infinity) <= FAIRNESS_TARGETS.rssMiB,
    };
    log(`under flood: ${JSON.stringify({ root: result.underFlood, attribution: result.rootAttribution, rootNotByGate: result.rootNotByGate, shed: result.gateShedByUid, frames: result.frameQueue, nfqueue: result.nfqueue, cpu: result.daemonCpuPercentDuringFlood, flood: result.flood, rss: result.rssMiB, load: result.loadAverage })}`);
    await started.pop().stop();
  } finally {
    for (const d of started.reverse()) await d.stop('SIGTERM').catch(() => undefined);
    await lab.teardown();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'fairness.json'), JSON.stringify(result, null, 2));
  return result;
}

export function fairnessMarkdown(r) {
  const q = (x) => (x ? `${x.p50} / ${x.p90} / ${x.max}` : 'n/a');
  const met = (v) => (v ? 'met' : 'MISSED');
  return [
    `### SYN gate fairness: uid ${FLOOD_UID} floods at ${r.floodRate}/s offered for ${r.floodSecs} s (achieved ${r.flood?.rate ?? '?'}/s), root calls every ${r.rootEveryMs} ms`,
    '',
    `load average before/after the flood: ${r.loadAverage.before} / ${r.loadAverage.after} (at start ${r.host.loadAverageAtStart}; ${r.host.cpus} CPUs)`,
    '',
    markdownTable(
      ['root curl', 'calls', 'total ms p50 / p90 / max', 'connect ms p50 / p90 / max'],
      [
        ['no daemon', r.noDaemon.calls, q(r.noDaemon.totalMs), q(r.noDaemon.connectMs)],
        ['daemon, no flood', r.daemonIdle.calls, q(r.daemonIdle.totalMs), q(r.daemonIdle.connectMs)],
        ['flood, no daemon', r.floodNoDaemon.calls, q(r.floodNoDaemon.totalMs), q(r.floodNoDaemon.connectMs)],
        ['daemon, flood', r.underFlood.calls, q(r.underFlood.totalMs), q(r.underFlood.connectMs)],
      ],
    ),
    '',
    `root's calls under the flood: ${JSON.stringify(r.rootAttribution)}; gate SYNs shed by uid: ${JSON.stringify(r.gateShedByUid)}; frames between capture and pipeline: ${JSON.stringify(r.frameQueue)}; missed SYNs ${r.missedSyns}; daemon CPU ${r.daemonCpuPercentDuringFlood} % of a core during the flood; peak RSS ${r.rssMiB.max?.toFixed(1)} MiB`,
    '',
    markdownTable(
      ['target', 'value', 'verdict'],
      [
        [`root p90 <= ${r.targets.rootP90Ms} ms (gate budget + 10)`, r.underFlood.totalMs?.p90 ?? 'n/a', met(r.verdicts.rootP90)],
        ['every root call attributed (gate event, or named among missed)', JSON.stringify(r.rootAttribution), met(r.verdicts.rootAttributed)],
        [`RSS <= ${r.targets.rssMiB} MiB`, r.rssMiB.max?.toFixed(1), met(r.verdicts.rss)],
      ],
    ),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await benchFairness(fairnessOptionsFromArgs());
  console.log(fairnessMarkdown(r));
}
