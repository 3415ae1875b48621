/**
 * Measuring other processes: wall time, CPU time and peak RSS through GNU time
 * (`/usr/bin/time -f '%e %U %S %M'`), best of N runs, and the markdown table the
 * benches print.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

const TIME = '/usr/bin/time';
const MARK = '@@imdswatch-bench-time';

export function requireTools(tools) {
  const missing = [];
  if (!fs.existsSync(TIME)) missing.push('time (apt-get install time)');
  for (const t of tools) {
    const r = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' });
    if (r.status !== 0) missing.push(t);
  }
  if (missing.length > 0) {
    console.error(`bench: missing ${missing.join(', ')}`);
    process.exit(2);
  }
}

/**
 * Run `cmd args` once under GNU time. Returns {secs, cpuSecs, maxRssMiB, status, stdout, stderr}.
 * stdout is kept (up to maxBuffer) for the caller to check.
 */
export function timed(cmd, args, { maxBuffer = 256 * 1024 * 1024, env } = {}) {
  const r = spawnSync(TIME, ['-f', `${MARK} %e %U %S %M`, cmd, ...args], { encoding: 'utf8', maxBuffer, env: env ?? process.env });
  if (r.error) throw r.error;
  const lines = r.stderr.split('\n');
  const li = lines.findLastIndex((l) => l.startsWith(MARK));
  if (li < 0) throw new Error(`${cmd}: no timing line in stderr: ${r.stderr.slice(-500)}`);
  const [, e, u, s, m] = lines[li].split(' ');
  lines.splice(li, 1);
  return {
    secs: Number(e),
    cpuSecs: Number(u) + Number(s),
    maxRssMiB: Number(m) / 1024,
    status: r.status,
    stdout: r.stdout,
    stderr: lines.join('\n'),
  };
}

/**
 * Best of `runs` runs: the run with the shortest wall time, except `cpuSecs`, the least CPU
 * time of any run (on a shared machine the two minima are often different runs); `allSecs`
 * and `allCpuSecs` list every run. `check(result)` throws on a wrong answer.
 */
export function bestOf(runs, fn, check) {
  return bestOfEach(runs, [[fn, check]])[0];
}

/**
 * bestOf for several programs whose runs alternate (a b a b ...), so that a change of load
 * on a shared machine weighs on each alike: `progs` is a list of [fn, check].
 */
export function bestOfEach(runs, progs) {
  const results = progs.map(() => []);
  for (let i = 0; i < runs; i++) {
    progs.forEach(([fn, check], k) => {
      const r = fn();
      if (check) check(r);
      results[k].push(r);
    });
  }
  return results.map((rs) => {
    const best = rs.reduce((a, b) => (b.secs < a.secs ? b : a));
    return { ...best, cpuSecs: Math.min(...rs.map((r) => r.cpuSecs)), allSecs: rs.map((r) => r.secs), allCpuSecs: rs.map((r) => r.cpuSecs) };
  });
}

/** Put a file in the page cache. */
export function warm(file) {
  spawnSync('sh', ['-c', `cat '${file}' > /dev/null`]);
}

export function markdownTable(header, rows) {
  const out = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

export function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

export function flag(name) {
  return process.argv.includes(name);
}

export function loadAverage() {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return null;
  }
}
