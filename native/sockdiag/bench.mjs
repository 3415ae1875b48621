#!/usr/bin/env node
/**
 * Socket-owner lookup time, sock_diag vs /proc/net/tcp, with N idle TCP connections in the same
 * network namespace. Root; run inside a namespace of its own (this script makes one and re-runs
 * itself there): `npm run build && node native/sockdiag/bench.mjs --idle 10000 --runs 200`.
 * The SYN_SENT clients connect to 127.0.0.1:9, which the namespace's firewall drops.
 *   fresh: a new curl per lookup (the one-shot client the gate exists for)
 *   old:   a process primed before (inode unknown, pid not new: uid list, then the rest)
 */
import { execFileSync, spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const idle = Number(arg('--idle', '10000'));
const runs = Number(arg('--runs', '200'));

if (!process.argv.includes('--inside')) {
  const ns = `imw-sdbench-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '9', '-j', 'DROP']);
    execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', `exec node ${fileURLToPath(import.meta.url)} --inside ${process.argv.slice(2).join(' ')}`], { stdio: 'inherit' });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
  process.exit(0);
}

const { ProcCorrelator } = await import(path.join(root, 'dist/enrich/process/proc-correlator.js'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const line = (child) =>
  new Promise((resolve) => {
    let t = '';
    const on = (d) => {
      t += d;
      if (t.includes('\n')) {
        child.stdout.off('data', on);
        resolve(t.trim());
      }
    };
    child.stdout.on('data', on);
  });

let holder = null;
if (idle > 0) {
  holder = spawn('node', [path.join(root, 'bench/lib/idle-sockets.mjs'), '--count', String(idle)], { stdio: ['ignore', 'pipe', 'inherit'] });
  console.log(await line(holder));
}
const old = spawn('python3', ['-u', '-c', `
import socket, sys
keep = []
for l in sys.stdin:
    c = socket.socket(); c.setblocking(False)
    try: c.connect(('127.0.0.1', 9))
    except BlockingIOError: pass
    keep.append(c)
    if len(keep) > 4: keep.pop(0).close()
    print(c.getsockname()[1], flush=True)
`], { stdio: ['pipe', 'pipe', 'inherit'] });
await sleep(300);

const variants = {
  sockdiag: new ProcCorrelator({ containerResolver: null }),
  proc: new ProcCorrelator({ containerResolver: null, sockDiag: null }),
};
for (const c of Object.values(variants)) {
  c.prime();
  // time ProcessInfo gathering (exe, cmdline, cgroup, ancestors) apart from the socket search
  const get = c.processes.get.bind(c.processes);
  c.processes.get = (...a) => {
    const t = performance.now();
    try {
      return get(...a);
    } finally {
      c.infoMs = performance.now() - t;
    }
  };
}
if (!variants.sockdiag.stats().sockDiag) throw new Error('addon not loaded: npm run build:native');

const times = {};
const misses = {};
const record = (k, ms) => (times[k] ??= []).push(ms);
const tuple = (sport) => ({ srcIp: '127.0.0.1', srcPort: sport, dstIp: '127.0.0.1', dstPort: 9, ipVersion: 4 });

async function synSentPort(pid) {
  for (let i = 0; i < 200; i++) {
    const out = execFileSync('ss', ['-Htnp', 'state', 'syn-sent', 'dport', '=', ':9'], { encoding: 'utf8' });
    for (const l of out.split('\n')) if (l.includes(`pid=${pid},`)) return Number(/:(\d+)\s/.exec(l)[1]);
    await sleep(5);
  }
  throw new Error('no SYN_SENT socket');
}

for (let i = 0; i < runs; i++) {
  const curl = spawn('curl', ['-s', '--connect-timeout', '20', 'http://127.0.0.1:9/'], { stdio: 'ignore' });
  const sport = await synSentPort(curl.pid);
  for (const [name, c] of Object.entries(variants)) {
    // the socket row alone (private method, reached from JS for this measurement)
    const t0 = performance.now();
    const row = c.findOwnRow(4, { ip: '127.0.0.1', port: sport }, { ip: '127.0.0.1', port: 9 });
    record(`${name} row only`, performance.now() - t0);
    if (!row) misses[`${name} row`] = (misses[`${name} row`] ?? 0) + 1;
    const r = c.findSocketOwner(tuple(sport), 1000);
    record(`${name} fresh: of which process info`, c.infoMs);
    if (r.process?.pid !== curl.pid) misses[`${name} fresh ${r.outcome}`] = (misses[`${name} fresh ${r.outcome}`] ?? 0) + 1;
    record(`${name} fresh`, r.elapsedMs);
    c.catchUp(50);
  }
  curl.kill();
  old.stdin.write('\n');
  const oport = Number(await line(old));
  for (const [name, c] of Object.entries(variants)) {
    const r = c.findSocketOwner(tuple(oport), 1000);
    if (r.process?.pid !== old.pid) misses[`${name} old ${r.outcome}`] = (misses[`${name} old ${r.outcome}`] ?? 0) + 1;
    record(`${name} old`, r.elapsedMs);
  }
  await sleep(10);
}
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];
console.log(`idle connections: ${idle}, runs: ${runs}`);
console.log('| lookup | p50 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: |');
for (const [k, v] of Object.entries(times)) {
  v.sort((a, b) => a - b);
  console.log(`| ${k} | ${pct(v, 50).toFixed(3)} | ${pct(v, 99).toFixed(3)} | ${v[v.length - 1].toFixed(3)} |`);
}
console.log('not attributed:', JSON.stringify(misses));
console.log(JSON.stringify(variants.sockdiag.stats().sockDiag));
old.kill();
holder?.kill('SIGTERM');
