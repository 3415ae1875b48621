import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * #11 item 8 against a real journald: a private mount namespace with its own /run and
 * /var/log, systemd-journald started there, the event log's stdout piped in through
 * systemd-cat; `journalctl -p warning` must show the IMDSv1 calls and only them.
 * Needs root, unshare, systemd-journald and a build (dist/); under CI a missing one fails.
 */
const JOURNALD = '/lib/systemd/systemd-journald';
const EVENT_LOG = resolve('dist/sinks/event-log.js');
const ready = process.getuid?.() === 0 && existsSync(JOURNALD) && existsSync('/usr/bin/systemd-cat') && existsSync(EVENT_LOG);

describe('journald priorities (real journald)', () => {
  it.runIf(!!process.env.CI)('has what it needs under CI', () => expect(ready).toBe(true));

  it.runIf(ready)('journalctl -p warning shows the IMDSv1 calls, with PRIORITY=4', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-journald-'));
    try {
      const script = join(dir, 'emit.mjs');
      writeFileSync(
        script,
        `import { EventLog } from ${JSON.stringify(EVENT_LOG)};
const log = new EventLog({ file: null, maxBytes: 0, maxFiles: 0, stdout: true, host: { name: 'h', instanceId: null } });
const p = { pid: 9, exe: '/usr/bin/curl', cmdline: 'curl', uid: 1000, user: 'alice', unit: 'cron.service', container: null, ancestors: [] };
const base = { ts: '2026-11-28T10:00:00Z', method: 'GET', path: '/latest/meta-data/', status: 200, client: { ip: '10.0.0.2', port: 1 }, server: { ip: '169.254.169.254', port: 80 }, userAgent: 'curl/7.88.1', sdk: null, process: p, attribution: 'gate', reason: null, httpVersion: 'HTTP/1.1' };
log.event({ ...base, version: 'v1' }); log.event({ ...base, version: 'v2' }); log.event({ ...base, version: 'token', method: 'PUT' }); log.event({ ...base, version: 'v1', path: '/latest/user-data' });
`,
      );
      const tag = `imdswatch-jtest-${process.pid}`;
      const sh = `set -e
mount -t tmpfs tmpfs /run; mkdir -p /run/systemd/journal ${dir}/log; mount --bind ${dir}/log /var/log
${JOURNALD} & J=$!
for i in $(seq 50); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.1; done
JOURNAL_STREAM=1 systemd-cat -t ${tag} ${process.execPath} ${script}
sleep 0.5
journalctl -t ${tag} -p warning -o cat --no-pager > ${dir}/warning.txt
journalctl -t ${tag} -o verbose --no-pager | grep -c PRIORITY= > ${dir}/all.txt
kill $J; wait $J || true`;
      const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', sh], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status, r.stderr).toBe(0);
      const warning = spawnSync('cat', [join(dir, 'warning.txt')], { encoding: 'utf8' }).stdout.trim().split('\n');
      expect(warning).toHaveLength(2);
      for (const l of warning) expect(JSON.parse(l).msg).toMatch(/^IMDSv1 GET \/latest\/(meta-data\/|user-data) by \/usr\/bin\/curl \(cron\.service, user alice\)$/);
      expect(spawnSync('cat', [join(dir, 'all.txt')], { encoding: 'utf8' }).stdout.trim()).toBe('4');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
