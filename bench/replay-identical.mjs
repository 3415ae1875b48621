#!/usr/bin/env node
/**
 * Are `imdswatch replay`'s outputs byte-identical to those of a reference build?
 *
 *   cp -a dist dist-ref                # once, on the commit to compare against
 *   npm run build && node bench/replay-identical.mjs [--ref dist-ref] [--cand dist] [--bench-mib 128] [--jobs 2]
 *
 * Runs `node DIST/cli/main.js replay FILE --format F --no-progress --fail-on v1,rejected,unknown`
 * for every capture under pcaps/ (pcap, pcapng) and every format the replay command offers
 * (text, json, ndjson), plus all of pcaps/ in one run per format, plus the --bench-mib MiB
 * bench capture (bench/lib/mixed-capture.mjs) per format, with both builds, and compares
 * stdout, stderr and the exit code byte for byte. The reference build's outputs are kept
 * under /tmp/imdswatch-replay-identical/<ref dir's hash + mtime>/ so later runs only run the
 * candidate. Exit 1 on any difference (the first few are printed).
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureMixedCapture } from './lib/mixed-capture.mjs';
import { arg } from './lib/measure.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ref = path.resolve(root, arg('--ref', 'dist-ref'));
const cand = path.resolve(root, arg('--cand', 'dist'));
const benchMiB = Number(arg('--bench-mib', '128'));
const jobs = Number(arg('--jobs', '2'));
const FORMATS = ['text', 'json', 'ndjson'];

function captures(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...captures(p));
    else if (/\.(pcap|pcapng)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

function run(dist, files, format) {
  return new Promise((resolve) => {
    const args = [path.join(dist, 'cli/main.js'), 'replay', ...files, '--format', format, '--no-progress', '--fail-on', 'v1,rejected,unknown'];
    const c = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    c.stdout.on('data', (d) => out.push(d));
    c.stderr.on('data', (d) => err.push(d));
    c.on('close', (code) => resolve(Buffer.concat([Buffer.from(`exit ${code}\n--stderr--\n`), ...err, Buffer.from('--stdout--\n'), ...out])));
  });
}

async function pool(tasks, n) {
  const results = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]();
      }
    }),
  );
  return results;
}

function dirStamp(dist) {
  const h = crypto.createHash('sha256');
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) h.update(p.slice(dist.length)).update(fs.readFileSync(p));
    }
  };
  walk(dist);
  return h.digest('hex').slice(0, 16);
}

const caps = captures(path.join(root, 'pcaps')).map((p) => path.relative(root, p));
const cases = [];
for (const f of FORMATS) for (const c of caps) cases.push({ name: `${c} ${f}`, files: [c], format: f });
for (const f of FORMATS) cases.push({ name: `all-of-pcaps ${f}`, files: caps, format: f });
if (benchMiB > 0) {
  const m = ensureMixedCapture({ sizeMiB: benchMiB });
  for (const f of FORMATS) cases.push({ name: `bench-${benchMiB}m ${f}`, files: [m.file], format: f });
}

const refDir = path.join('/tmp/imdswatch-replay-identical', dirStamp(ref));
fs.mkdirSync(refDir, { recursive: true });
const key = (c) => crypto.createHash('sha256').update(c.name).digest('hex').slice(0, 20);
const missing = cases.filter((c) => !fs.existsSync(path.join(refDir, key(c))));
if (missing.length > 0) {
  console.log(`reference ${path.relative(root, ref)}: ${missing.length} outputs to make in ${refDir}`);
  await pool(
    missing.map((c) => async () => fs.writeFileSync(path.join(refDir, key(c)), await run(ref, c.files, c.format))),
    jobs,
  );
}
const got = await pool(cases.map((c) => () => run(cand, c.files, c.format)), jobs);
let diffs = 0;
let bytes = 0;
cases.forEach((c, i) => {
  const want = fs.readFileSync(path.join(refDir, key(c)));
  bytes += want.length;
  if (!want.equals(got[i])) {
    diffs++;
    if (diffs <= 5) {
      let at = 0;
      while (at < want.length && want[at] === got[i][at]) at++;
      console.log(`DIFFERS: ${c.name} at byte ${at}\n  want: ${JSON.stringify(want.subarray(at, at + 120).toString())}\n  got:  ${JSON.stringify(got[i].subarray(at, at + 120).toString())}`);
    }
  }
});
console.log(`${cases.length - diffs}/${cases.length} identical (${caps.length} captures under pcaps/ + all of them in one run${benchMiB > 0 ? ` + the ${benchMiB} MiB bench capture` : ''}, × ${FORMATS.join('/')}; ${(bytes / 1048576).toFixed(1)} MiB of output, exit codes and stderr included)`);
process.exit(diffs === 0 ? 0 : 1);
