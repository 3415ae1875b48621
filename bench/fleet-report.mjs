#!/usr/bin/env node
/**
 * Fleet report benchmark (#11): `imdswatch report` over N host state files (default
 * 10 000), one process, text and JSON. Each file is a daemon state of 72 observed hours
 * with a cron job, a user shell, an agent, two containers and the AWS CLI; one host in
 * seven still makes IMDSv1 calls. Target: < 10 s and < 256 MiB peak RSS.
 *
 *   npm run build && node bench/fleet-report.mjs [--hosts 10000] [--keep]
 *   npm run bench -- --only fleet
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arg, flag, loadAverage, markdownTable, timed } from './lib/measure.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const FLEET_TARGET = { secs: 10, maxRssMiB: 256 };

const HOURS = 72;
const END = Date.parse('2026-11-30T00:00:00.000Z');

function program(exe, unit, container, user, cmd, perHour, v1) {
  const hours = {};
  const hourly = [];
  for (let h = 0; h < HOURS; h++) {
    const key = new Date(END - (HOURS - h) * 3_600_000).toISOString().slice(0, 13) + ':00:00Z';
    hours[key] = v1 ? [perHour, 0, 0, 0] : [0, 0, perHour, perHour];
    hourly.push(key);
  }
  const first = new Date(END - HOURS * 3_600_000 + 60_000).toISOString();
  const last = new Date(END - 120_000).toISOString();
  return {
    exe, unit, container, userAgent: 'curl/7.88.1', sdk: { name: 'curl', version: '7.88.1', minV2Version: null, supportsV2: true, kind: 'http-client' },
    v1: v1 ? perHour * HOURS : 0, v2: v1 ? 0 : perHour * HOURS, token: v1 ? 0 : perHour * HOURS, v1Rejected: 0, tokenRejected: 0,
    firstSeen: first, lastSeen: last, lastV1: v1 ? last : null, firstV1: v1 ? first : null, lastV1Rejected: null,
    v1Paths: v1 ? ['/latest/meta-data/instance-id'] : [], reasons: v1 ? { 'no-token-attempt': perHour * HOURS } : {},
    lastPid: 4242, lastCmdline: cmd, commands: [cmd], scripts: [], users: [user], origins: [], hours, hoursTrimmedBefore: null,
  };
}

export function hostState(i) {
  const dirty = i % 7 === 0;
  const software = {};
  const add = (p) => (software[JSON.stringify([p.exe, p.unit, p.container])] = p);
  add(program('/usr/bin/curl', 'cron.service', null, 'root', 'curl -s http://169.254.169.254/latest/meta-data/instance-id', 1, dirty));
  add(program('/usr/bin/python3.11', 'legacy-metrics.service', null, 'metrics', '/usr/bin/python3 /opt/legacy/metrics-agent.py', 6, dirty));
  add(program('/usr/local/bin/node', 'docker-abc.scope', 'web', 'root', 'node /app/server.js', 4, false));
  add(program('/usr/local/bin/python3.8', 'docker-def.scope', 'billing-export', 'root', 'python /srv/export.py', 1, false));
  add(program('/usr/local/aws-cli/v2/2.15.0/dist/aws', 'backup.service', null, 'root', 'aws s3 sync /var/backups s3://b', 1, false));
  const hourly = {};
  for (let h = 0; h < HOURS; h++) hourly[new Date(END - (HOURS - h) * 3_600_000).toISOString().slice(0, 13) + ':00:00Z'] = { v1: dirty ? 7 : 0, v2: 6, token: 6 };
  return {
    format: 'imdswatch-state/1',
    host: `ip-10-${(i >> 16) & 255}-${(i >> 8) & 255}-${i & 255}.eu-west-1.compute.internal`,
    instanceId: `i-${(0x1000000000000 + i).toString(16).padStart(17, '0')}`,
    bootId: null,
    windows: [{ start: new Date(END - HOURS * 3_600_000).toISOString(), end: new Date(END).toISOString(), bootId: null }],
    software,
    softwareOverflow: 0,
    hourly,
    drops: { pcap: 0, flowsEvicted: 0, unattributed: 0, parseErrors: 0, logLinesDropped: 0 },
  };
}

export function benchFleet({ hosts = 10_000, keep = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'imdswatch-fleet-'));
  const files = [];
  let bytes = 0;
  mkdirSync(join(dir, 'hosts'));
  for (let i = 0; i < hosts; i++) {
    const f = join(dir, 'hosts', `h${i}.json`);
    const text = JSON.stringify(hostState(i));
    bytes += text.length;
    writeFileSync(f, text);
    files.push(f);
  }
  const results = {};
  try {
    for (const format of ['text', 'json']) {
      const out = join(dir, `report.${format}`);
      const r = timed(process.execPath, [CLI, 'report', '--format', format, '--output', out, ...files]);
      if (r.status !== 0) throw new Error(`report --format ${format} exited ${r.status}: ${r.stderr.slice(-400)}`);
      results[format] = { secs: r.secs, cpuSecs: Math.round(r.cpuSecs * 100) / 100, maxRssMiB: Math.round(r.maxRssMiB) };
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  const verdicts = Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.secs < FLEET_TARGET.secs && r.maxRssMiB < FLEET_TARGET.maxRssMiB]));
  return { hosts, inputMiB: Math.round(bytes / 1048576), results, verdicts, loadAverage: loadAverage(), dir: keep ? dir : null };
}

export function fleetMarkdown(r) {
  return [
    `### fleet report: ${r.hosts} host state files (${r.inputMiB} MiB; load average ${r.loadAverage})`,
    '',
    markdownTable(
      ['format', 'wall s', 'CPU s', 'peak RSS MiB', `target < ${FLEET_TARGET.secs} s, < ${FLEET_TARGET.maxRssMiB} MiB`],
      Object.entries(r.results).map(([k, x]) => [k, x.secs.toFixed(2), x.cpuSecs.toFixed(2), String(x.maxRssMiB), r.verdicts[k] ? 'met' : 'MISSED']),
    ),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = benchFleet({ hosts: Number(arg('--hosts', '10000')), keep: flag('--keep') });
  console.log(fleetMarkdown(r));
  if (Object.values(r.verdicts).includes(false)) process.exitCode = 1;
}
