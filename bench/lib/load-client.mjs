#!/usr/bin/env node
/**
 * HTTP load generator for the live benchmark (runs inside the lab's client namespace):
 * one new TCP connection per request (agent: false, `Connection: close`), as IMDS
 * clients do.
 *
 *   node load-client.mjs --rate R|0 --duration S [--count N] [--concurrency C] [--host H] [--path P]
 *
 * --rate 0: as fast as `concurrency` connections in flight allow. Prints "ready" first,
 * then one JSON line at the end: {started, ok, failed, errors, secs, rate, latencyMs:{p50,p99}}.
 */
import * as http from 'node:http';
import { arg } from './measure.mjs';

const rate = Number(arg('--rate', '0'));
const duration = Number(arg('--duration', '5'));
const concurrency = Number(arg('--concurrency', '64'));
const host = arg('--host', '169.254.169.254');
const reqPath = arg('--path', '/latest/meta-data/instance-id');
const count = Number(arg("--count", "0")); // stop after this many requests (0: run for --duration)

let started = 0;
let ok = 0;
let failed = 0;
let inflight = 0;
const errors = {};
const lat = [];
const t0 = performance.now();
const end = t0 + duration * 1000;

function one() {
  started++;
  inflight++;
  const s = performance.now();
  const req = http.request(
    { host, port: 80, path: reqPath, agent: false, headers: { Connection: 'close', 'User-Agent': 'imdswatch-bench/1' } },
    (res) => {
      res.resume();
      res.on('end', () => {
        inflight--;
        if (res.statusCode === 200) ok++;
        else failed++;
        if (lat.length < 200_000) lat.push(performance.now() - s);
        pump();
      });
    },
  );
  req.on('error', (e) => {
    inflight--;
    failed++;
    errors[e.code ?? 'error'] = (errors[e.code ?? 'error'] ?? 0) + 1;
    pump();
  });
  req.end();
}

function pump() {
  const now = performance.now();
  if (now >= end || (count > 0 && started >= count)) {
    if (inflight === 0) finish();
    return;
  }
  const due = rate > 0 ? Math.floor(((now - t0) / 1000) * rate) : Infinity;
  while (inflight < concurrency && started < due) one();
}

let done = false;
function finish() {
  if (done) return;
  done = true;
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)] : null);
  process.stdout.write(`${JSON.stringify({ started, ok, failed, errors, secs, rate: ok / secs, latencyMs: { p50: q(0.5), p99: q(0.99) } })}\n`);
  process.exit(0);
}

process.stdout.write('ready\n');
const timer = setInterval(() => {
  pump();
  if ((performance.now() >= end || (count > 0 && started >= count)) && inflight === 0) {
    clearInterval(timer);
    finish();
  }
}, 2);
pump();
