#!/usr/bin/env node
/**
 * `imdswatch replay` against tcpdump and tshark on a ~1 GiB capture of mixed traffic.
 *
 *   npm run build && node bench/replay.mjs [--size-mib 1024] [--runs 3] [--tshark-mib 128] [--strict]
 *
 * Generates (or reuses) /tmp/imdswatch-bench-mixed-<size>m-*.pcap with a known count of
 * v1 / v2 / token requests (bench/lib/mixed-capture.mjs), puts it in the page cache,
 * then times, each in its own process, best of --runs (replay and tcpdump runs alternate):
 *   replay   node dist/cli/main.js replay FILE --format json   (totals must equal the known counts)
 *   tcpdump  tcpdump -r FILE -w /dev/null                      (raw read, the reference)
 *   tshark   tshark -r FILE -Y '<IMDS v1 filter>' -T fields -e frame.number   (once; the
 *            number of lines must equal the known v1 count)
 * tshark reads a --tshark-mib (default 128; 0 = the whole file) MiB capture made by the same
 * generator and its time is scaled linearly to the full size. tshark is superlinear on this
 * traffic (64 MiB: ~3 s, 1 GiB: ~550 s, 1.7 GiB RSS), so the scaled figure flatters tshark.
 * Its
 * scaling is said in the output.
 *
 * Then the same file through ever more of the chain (node alone, raw read, read + decode,
 * the whole pipeline), each in its own process, to show where replay's CPU time goes.
 *
 * Prints markdown tables with each target's verdict (replay ≥ 1.5x tcpdump in wall time
 * and in CPU time, issue #14) and writes bench/out/replay.json. Exit 1 when an answer is
 * wrong; with --strict also when a target is missed.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST, ensureMixedCapture } from './lib/mixed-capture.mjs';
import { arg, bestOfEach, flag, loadAverage, markdownTable, requireTools, timed, warm } from './lib/measure.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, 'out');

/** issues 14 and 23: replay at least 1.5x tcpdump's speed, in wall time and in CPU time */
export const TARGETS = { replayOverTcpdump: 1.5, replayOverTcpdumpCpu: 1.5, tsharkOverReplay: 20, maxRssMiB: 128 };

/**
 * Where replay's time goes: the same file through ever more of the chain, each in its own
 * process (best CPU time of the runs); the differences between rows are the cost of each part.
 */
const STAGES = [
  ['node', 'node starting an empty module (the floor of any Node program)'],
  ['read', 'read the file: fs.readSync in the reader\'s chunks (1 MiB for a classic pcap), nothing parsed'],
  ['decode', 'readCaptureFile + Decoder.decode on every frame (src/source, src/decode)'],
  ['pipeline', 'readCaptureFile + the whole pipeline, events discarded (+ src/tcp, src/http, src/imds, src/enrich)'],
];

async function stageChild(mode, file) {
  const { pathToFileURL } = await import('node:url');
  const mod = (p) => import(pathToFileURL(path.join(DIST, p)).href);
  // the CLI's V8 settings and replay's malloc trim threshold (src/cli/memory-tuning.ts), so GC
  // and page faults cost what they cost in replay
  (await mod('cli/memory-tuning.js')).tuneMallocForReplay();
  let n = 0;
  if (mode === 'read') {
    // the chunk the reader uses for a classic pcap (src/source/capture-file.ts)
    const { CLASSIC_CHUNK_SIZE } = await mod('source/capture-file.js');
    const buf = Buffer.allocUnsafe(CLASSIC_CHUNK_SIZE);
    const fd = fs.openSync(file, 'r');
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0) n++;
  } else if (mode === 'decode') {
    const { readCaptureFile } = await mod('source/capture-file.js');
    const { Decoder } = await mod('decode/decoder.js');
    const d = new Decoder();
    readCaptureFile(file, (f) => {
      if (d.decode(f) !== null) n++;
    });
  } else if (mode === 'pipeline') {
    const { readCaptureFile } = await mod('source/capture-file.js');
    const { createPipeline } = await mod('pipeline/create-pipeline.js');
    const p = createPipeline({ onEvent: () => n++ });
    readCaptureFile(file, (f) => p.pushFrame(f));
    p.finish();
  }
  process.stdout.write(`${n}\n`);
}

function stageBreakdown(file, runs) {
  const self = fileURLToPath(import.meta.url);
  return STAGES.map(([mode, what]) => {
    let best = null;
    for (let i = 0; i < runs; i++) {
      const args = mode === 'node' ? ['--input-type=module', '-e', ''] : [self, '--stage', mode, file];
      const r = timed(process.execPath, args, { env: OPERATOR_ENV });
      if (r.status !== 0) fail(`stage ${mode} exited ${r.status}: ${r.stderr.slice(-300)}`);
      if (best === null || r.cpuSecs < best.cpuSecs) best = r;
    }
    return { mode, what, secs: best.secs, cpuSecs: best.cpuSecs };
  });
}

const IMDS_DST = '(ip.dst == 169.254.169.254 || ipv6.dst == fd00:ec2::254) && tcp.dstport == 80';
/** IMDSv1 per DESIGN.md: a GET or HEAD to IMDS with no token header, header name in any case */
export const TSHARK_V1_FILTER =
  `http.request && ${IMDS_DST} && (http.request.method == "GET" || http.request.method == "HEAD") ` +
  `&& not http.request.line matches "(?i)^x-aws-ec2-metadata-token"`;

function fail(msg) {
  console.error(`bench replay: FAILED: ${msg}`);
  process.exit(1);
}

/**
 * Node programs run as an operator's shell or the systemd unit runs them: without
 * NODE_EXTRA_CA_CERTS. The lab's sessions set it, and Node then parses that certificate
 * bundle at every start (~425 M instructions, ~0.05 s of CPU here: replay9's callgrind, session
 * 9), work replay never needs and tcpdump never does. The JSON says whether it was set.
 */
const OPERATOR_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'));
const LAB_CA_CERTS_SET = process.env.NODE_EXTRA_CA_CERTS !== undefined;

function replayRun(file) {
  return timed(process.execPath, [path.join(DIST, 'cli/main.js'), 'replay', file, '--format', 'json'], { env: OPERATOR_ENV });
}

function checkReplay(m) {
  return (r) => {
    if (r.status !== 0) fail(`replay exited ${r.status}: ${r.stderr.slice(-400)}`);
    const totals = JSON.parse(r.stdout).totals;
    for (const k of ['v1', 'v2', 'token']) {
      if (totals[k] !== m.counts[k]) fail(`replay found ${k}=${totals[k]}, the capture holds ${m.counts[k]} (${JSON.stringify(totals)})`);
    }
  };
}

/**
 * One more replay run with V8's GC trace (--trace-gc-nvp): how many young (scavenge) and full
 * collections, their pause time on the main thread, and the bytes promoted to the old
 * generation (what survives young collections: per-connection state kept too long shows here).
 */
function gcRun(file) {
  const r = spawnSync(process.execPath, ['--trace-gc-nvp', path.join(DIST, 'cli/main.js'), 'replay', file, '--format', 'json', '--no-progress'], {
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
  });
  if (r.status !== 0) fail(`replay with --trace-gc-nvp exited ${r.status}: ${r.stderr.slice(-300)}`);
  const gc = { scavenges: 0, fullGcs: 0, scavengePauseMs: 0, fullGcPauseMs: 0, promotedMiB: 0 };
  for (const line of r.stdout.split('\n')) {
    const kind = / gc=(\w+) /.exec(line)?.[1];
    if (kind === undefined) continue;
    const num = (k) => Number(new RegExp(` ${k}=([0-9.]+)`).exec(line)?.[1] ?? 0);
    if (kind === 's') {
      gc.scavenges++;
      gc.scavengePauseMs += num('pause');
      gc.promotedMiB += num('promoted') / 2 ** 20;
    } else {
      gc.fullGcs++;
      gc.fullGcPauseMs += num('pause');
    }
  }
  return gc;
}

function tsharkRun(file) {
  return timed('tshark', ['-n', '-r', file, '-Y', TSHARK_V1_FILTER, '-T', 'fields', '-e', 'frame.number']);
}

export async function benchReplay({ sizeMiB = 1024, runs = 3, tsharkMiB = 0, log = console.error } = {}) {
  requireTools(['tcpdump', 'tshark']);
  if (!fs.existsSync(path.join(DIST, 'cli/main.js'))) fail('dist/ is not built: run `npm run build` first');
  const m = await ensureMixedCapture({ sizeMiB, log });
  const file = m.file;
  warm(file);

  log(`replay and tcpdump, alternating, x${runs} ...`);
  // -Z root: tcpdump otherwise drops to its own user and chowns the output file — /dev/null itself
  const tcpdumpRun = () => timed('tcpdump', ['-Z', 'root', '-r', file, '-w', '/dev/null']);
  const [replay, tcpdump] = bestOfEach(runs, [
    [() => replayRun(file), checkReplay(m)],
    [
      tcpdumpRun,
      (r) => {
        if (r.status !== 0) fail(`tcpdump exited ${r.status}: ${r.stderr.slice(-300)}`);
      },
    ],
  ]);

  // tshark: the full file, or a slice made by the same generator, time scaled by size
  let ts = m;
  if (tsharkMiB > 0 && tsharkMiB < sizeMiB) {
    ts = await ensureMixedCapture({ sizeMiB: tsharkMiB, log });
    warm(ts.file);
  }
  log(`tshark on ${(ts.bytes / 2 ** 20).toFixed(0)} MiB ...`);
  const tshark = tsharkRun(ts.file);
  if (tshark.status !== 0) fail(`tshark exited ${tshark.status}: ${tshark.stderr.slice(-300)}`);
  const tsharkV1 = tshark.stdout.split('\n').filter((l) => l.trim() !== '').length;
  if (tsharkV1 !== ts.counts.v1) fail(`tshark counted ${tsharkV1} v1 requests, the capture holds ${ts.counts.v1}`);
  const scale = m.bytes / ts.bytes;
  const tsharkSecs = tshark.secs * scale;
  const tsharkCpu = tshark.cpuSecs * scale;

  const mb = m.bytes / 1e6;
  const row = (name, secs, cpu, rss, note = '') => ({
    name,
    secs,
    cpuSecs: cpu,
    mbPerSec: mb / secs,
    packetsPerSec: m.packets / secs,
    maxRssMiB: rss,
    note,
  });
  const rows = [
    row('imdswatch replay --format json', replay.secs, replay.cpuSecs, replay.maxRssMiB),
    row('tcpdump -r FILE -w /dev/null', tcpdump.secs, tcpdump.cpuSecs, tcpdump.maxRssMiB),
    row(
      'tshark -Y <v1 filter>',
      tsharkSecs,
      tsharkCpu,
      tshark.maxRssMiB,
      ts === m ? '' : `measured on a ${(ts.bytes / 2 ** 20).toFixed(0)} MiB capture from the same generator, time x${scale.toFixed(2)}`,
    ),
  ];
  log(`stage breakdown x${runs} ...`);
  const stages = stageBreakdown(file, runs);
  stages.push({ mode: 'replay', what: 'imdswatch replay --format json (+ CLI, summary, output)', secs: replay.secs, cpuSecs: replay.cpuSecs });
  log('replay with the GC trace ...');
  const gc = gcRun(file);

  const ratios = {
    replayOverTcpdump: tcpdump.secs / replay.secs,
    replayOverTcpdumpCpu: tcpdump.cpuSecs / replay.cpuSecs,
    tsharkOverReplay: tsharkSecs / replay.secs,
    tsharkOverReplayCpu: tsharkCpu / replay.cpuSecs,
  };
  const verdicts = {
    replayOverTcpdump: ratios.replayOverTcpdump >= TARGETS.replayOverTcpdump,
    replayOverTcpdumpCpu: ratios.replayOverTcpdumpCpu >= TARGETS.replayOverTcpdumpCpu,
    tsharkOverReplay: ratios.tsharkOverReplay >= TARGETS.tsharkOverReplay,
    maxRss: replay.maxRssMiB <= TARGETS.maxRssMiB,
  };
  const result = {
    when: new Date().toISOString(),
    host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadAverage: loadAverage() },
    // NODE_EXTRA_CA_CERTS was in the bench's environment and left out of replay's (OPERATOR_ENV)
    nodeExtraCaCertsUnset: LAB_CA_CERTS_SET,
    capture: { file, bytes: m.bytes, packets: m.packets, imdsPackets: m.imdsPackets, conversations: m.conversations, counts: m.counts, perKind: m.perKind },
    runs,
    tshark: { file: ts.file, bytes: ts.bytes, v1Counted: tsharkV1, scaledBy: scale, filter: TSHARK_V1_FILTER },
    replayAllSecs: replay.allSecs,
    tcpdumpAllSecs: tcpdump.allSecs,
    replayAllCpuSecs: replay.allCpuSecs,
    tcpdumpAllCpuSecs: tcpdump.allCpuSecs,
    rows,
    stages,
    gc,
    ratios,
    targets: TARGETS,
    verdicts,
  };
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'replay.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

export function replayMarkdown(r) {
  const f = (x, d = 2) => x.toFixed(d);
  const lines = [];
  lines.push(
    `### replay: ${f(r.capture.bytes / 2 ** 20, 0)} MiB, ${r.capture.packets} packets, ${r.capture.conversations} IMDS conversations ` +
      `(v1 ${r.capture.counts.v1}, v2 ${r.capture.counts.v2}, token ${r.capture.counts.token}); best of ${r.runs}, page cache warm, ` +
      `${r.host.cpus} CPUs, load average ${r.host.loadAverage?.join(' ') ?? '?'}${r.nodeExtraCaCertsUnset ? '; replay ran without the environment\'s NODE_EXTRA_CA_CERTS, as a shell or the systemd unit runs it' : ''}`,
  );
  lines.push('');
  lines.push(
    markdownTable(
      ['program', 'wall s', 'CPU s', 'MB/s', 'packets/s', 'peak RSS MiB', 'note'],
      r.rows.map((x) => [x.name, f(x.secs), f(x.cpuSecs), f(x.mbPerSec, 0), f(x.packetsPerSec / 1e6, 2) + ' M', f(x.maxRssMiB, 0), x.note]),
    ),
  );
  lines.push('');
  const ok = (b) => (b ? 'met' : '**MISSED**');
  lines.push(
    markdownTable(
      ['ratio', 'wall', 'CPU', 'target', ''],
      [
        ['tcpdump wall time / replay wall time', f(r.ratios.replayOverTcpdump), '', `≥ ${r.targets.replayOverTcpdump}`, ok(r.verdicts.replayOverTcpdump)],
        ['tcpdump CPU time / replay CPU time', '', f(r.ratios.replayOverTcpdumpCpu), `≥ ${r.targets.replayOverTcpdumpCpu}`, ok(r.verdicts.replayOverTcpdumpCpu)],
        ['tshark time / replay time', f(r.ratios.tsharkOverReplay, 1), f(r.ratios.tsharkOverReplayCpu, 1), `≥ ${r.targets.tsharkOverReplay}`, ok(r.verdicts.tsharkOverReplay)],
        ['replay peak RSS MiB', f(r.rows[0].maxRssMiB, 0), '', `≤ ${r.targets.maxRssMiB}`, ok(r.verdicts.maxRss)],
      ],
    ),
  );
  lines.push('');
  const tcpdumpCpu = r.rows[1].cpuSecs;
  lines.push(`where replay's CPU time goes (each row one process, best of ${r.runs}; "+CPU" is the row's CPU time less the row above's):`);
  lines.push('');
  lines.push(
    markdownTable(
      ['stage', 'CPU s', '+CPU s', 'wall s', 'tcpdump CPU / this CPU'],
      r.stages.map((x, i) => [x.what, f(x.cpuSecs), i === 0 ? '' : f(x.cpuSecs - r.stages[i - 1].cpuSecs), f(x.secs), f(tcpdumpCpu / x.cpuSecs)]),
    ),
  );
  lines.push('');
  if (r.gc) {
    const g = r.gc;
    lines.push(
      `garbage collection in one replay run (--trace-gc-nvp): ${g.scavenges} young collections (${f(g.scavengePauseMs, 0)} ms paused), ` +
        `${g.fullGcs} full (${f(g.fullGcPauseMs, 0)} ms), ${f(g.promotedMiB, 1)} MiB promoted to the old generation.`,
    );
    lines.push('');
  }
  lines.push(`replay totals equal the generated counts; tshark counted ${r.tshark.v1Counted} v1 with \`${r.tshark.filter}\`.`);
  lines.push(`replay wall times: ${r.replayAllSecs.join(', ')} s; tcpdump: ${r.tcpdumpAllSecs.join(', ')} s.`);
  const cpus = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
  lines.push(`replay CPU times: ${cpus(r.replayAllCpuSecs)} s; tcpdump: ${cpus(r.tcpdumpAllCpuSecs)} s (the CPU column is the least of the runs).`);
  return lines.join('\n');
}

if (process.argv[2] === '--stage') {
  await stageChild(process.argv[3], process.argv[4]);
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await benchReplay({
    sizeMiB: Number(arg('--size-mib', process.env.BENCH_SIZE_MIB ?? '1024')),
    runs: Number(arg('--runs', '3')),
    tsharkMiB: Number(arg('--tshark-mib', '128')),
  });
  console.log(replayMarkdown(r));
  if (flag('--strict') && Object.values(r.verdicts).includes(false)) process.exit(1);
}
