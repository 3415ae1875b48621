#!/usr/bin/env node
/**
 * Long fuzzing run of every parser (properties in bench/lib/fuzz-properties.mjs).
 *
 *   npm run fuzz -- --minutes N [--property NAME[,NAME]] [--batch 200] [--seed S]
 *
 * Runs the properties round robin, in batches of --batch runs with fresh seeds, in a
 * worker thread watched for hangs (no progress for 60 s) and memory (512 MiB heap).
 * A failing property's shrunk counterexample is saved under test/fuzz/regressions/
 * (replayed by `npx vitest run test/fuzz`); a hang or crash is saved as the seed of the
 * batch that caused it (in bench/out/fuzz-hangs.json). Prints runs and time per
 * property and writes bench/out/fuzz.json. Exit 1 when something was found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { DIST } from './lib/mixed-capture.mjs';
import { loadDistModules, makeProperties } from './lib/fuzz-properties.mjs';
import { saveRegression } from './lib/regressions.mjs';
import { arg, markdownTable } from './lib/measure.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(here, 'out');
const HANG_MS = 60_000;

if (!isMainThread) {
  // ---------- worker: run batches until told to stop ----------
  const { names, batch, baseSeed, deadline } = workerData;
  const mods = await loadDistModules(DIST);
  const props = makeProperties(mods, fc).filter((p) => names.includes(p.name));
  let seed = baseSeed;
  const failed = new Set();
  while (Date.now() < deadline) {
    for (const p of props) {
      if (Date.now() >= deadline) break;
      if (failed.has(p.name)) continue;
      seed = (seed * 1103515245 + 12345) % 2147483647;
      parentPort.postMessage({ type: 'start', name: p.name, seed, batch });
      const t0 = performance.now();
      const r = fc.check(fc.property(p.arb, (v) => p.check(v)), { numRuns: batch, seed });
      const ms = performance.now() - t0;
      if (r.failed) {
        failed.add(p.name);
        const value = r.counterexample ? r.counterexample[0] : null;
        const error = r.errorInstance ? String(r.errorInstance.stack ?? r.errorInstance) : String(r.error);
        const file = value !== null ? saveRegression({ property: p.name, value, error, seed, path: r.counterexamplePath }) : null;
        parentPort.postMessage({ type: 'found', name: p.name, seed, runs: r.numRuns, ms, file, error: error.split('\n')[0] });
      } else {
        parentPort.postMessage({ type: 'done', name: p.name, runs: r.numRuns, ms });
      }
    }
  }
  parentPort.postMessage({ type: 'finished' });
} else {
  // ---------- main: start workers, watch them, report ----------
  const minutes = Number(arg('--minutes', '1'));
  const batch = Number(arg('--batch', '200'));
  if (!fs.existsSync(path.join(DIST, 'source/capture-file.js'))) {
    console.error('dist/ is not built: run `npm run build` first');
    process.exit(2);
  }
  const mods = await loadDistModules(DIST);
  const all = makeProperties(mods, fc).map((p) => p.name);
  const only = arg('--property', null);
  let names = only ? only.split(',') : all;
  const unknown = names.filter((n) => !all.includes(n));
  if (unknown.length) {
    console.error(`unknown property ${unknown.join(', ')}; known: ${all.join(', ')}`);
    process.exit(2);
  }
  const started = Date.now();
  const deadline = started + minutes * 60_000;
  const stats = Object.fromEntries(names.map((n) => [n, { runs: 0, ms: 0, findings: 0 }]));
  const findings = [];
  let lastProgress = Date.now();
  let nextReport = Date.now() + 60_000;

  const runWorker = (baseSeed) =>
    new Promise((resolve) => {
      let current = null;
      const w = new Worker(fileURLToPath(import.meta.url), {
        workerData: { names, batch, baseSeed, deadline },
        resourceLimits: { maxOldGenerationSizeMb: 512 },
      });
      const watch = setInterval(() => {
        if (Date.now() - lastProgress > HANG_MS) {
          const f = { kind: 'hang', ...current, after: `${HANG_MS / 1000}s without progress` };
          findings.push(f);
          if (current) stats[current.name].findings++;
          console.error(`HANG in ${current?.name} (seed ${current?.seed}, numRuns ${current?.batch})`);
          void w.terminate();
        }
        if (Date.now() >= nextReport) {
          nextReport += 60_000;
          const total = Object.values(stats).reduce((a, s) => a + s.runs, 0);
          console.error(`${((Date.now() - started) / 60000).toFixed(1)} min: ${total} runs, ${findings.length} findings`);
        }
      }, 1000);
      w.on('message', (m) => {
        lastProgress = Date.now();
        if (m.type === 'start') current = { name: m.name, seed: m.seed, batch: m.batch };
        else if (m.type === 'done') {
          stats[m.name].runs += m.runs;
          stats[m.name].ms += m.ms;
        } else if (m.type === 'found') {
          stats[m.name].runs += m.runs;
          stats[m.name].ms += m.ms;
          stats[m.name].findings++;
          findings.push({ kind: 'counterexample', name: m.name, seed: m.seed, file: m.file, error: m.error });
          console.error(`FOUND in ${m.name}: ${m.error}\n  saved ${m.file}`);
        }
      });
      w.on('error', (err) => {
        findings.push({ kind: 'crash', ...current, error: String(err).split('\n')[0] });
        if (current) stats[current.name].findings++;
        console.error(`CRASH in ${current?.name} (seed ${current?.seed}): ${err}`);
      });
      w.on('exit', () => {
        clearInterval(watch);
        resolve(current);
      });
    });

  // restart after a hang or crash (without the property that caused it) until the time is up
  let baseSeed = Number(arg('--seed', String(Date.now() % 2147483647)));
  while (Date.now() < deadline && names.length > 0) {
    const before = findings.length;
    lastProgress = Date.now();
    await runWorker(baseSeed);
    baseSeed = (baseSeed + 7919) % 2147483647;
    const bad = findings.slice(before).filter((f) => f.kind !== 'counterexample').map((f) => f.name);
    if (bad.length) names = names.filter((n) => !bad.includes(n));
    else if (findings.length === before || Date.now() < deadline) {
      // worker ended at the deadline, or every property failed
      if (Date.now() >= deadline) break;
      const found = new Set(findings.filter((f) => f.kind === 'counterexample').map((f) => f.name));
      names = names.filter((n) => !found.has(n));
    }
  }

  const secs = (Date.now() - started) / 1000;
  const totalRuns = Object.values(stats).reduce((a, s) => a + s.runs, 0);
  const hangs = findings.filter((f) => f.kind !== 'counterexample');
  if (hangs.length) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'fuzz-hangs.json'), JSON.stringify(hangs, null, 2) + '\n');
  }
  console.log(`### fuzz: ${(secs / 60).toFixed(1)} minutes, ${totalRuns} runs, ${findings.length} findings\n`);
  console.log(
    markdownTable(
      ['property', 'runs', 'seconds', 'runs/s', 'findings'],
      Object.entries(stats).map(([n, s]) => [n, String(s.runs), (s.ms / 1000).toFixed(0), (s.runs / Math.max(0.001, s.ms / 1000)).toFixed(0), String(s.findings)]),
    ),
  );
  for (const f of findings) console.log(`- ${f.kind} in ${f.name}: ${f.error ?? f.after ?? ''} ${f.file ? `(saved ${path.relative(process.cwd(), f.file)})` : `(seed ${f.seed})`}`);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(
    path.join(outDir, 'fuzz.json'),
    JSON.stringify({ when: new Date().toISOString(), minutes: secs / 60, totalRuns, batch, stats, findings }, null, 2) + '\n',
  );
  process.exit(findings.length ? 1 : 0);
}
