import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkLogDir, RUN_AS_ROOT } from '../../src/doctor/checks.js';
import { resolveTool } from '../../src/doctor/probe.js';

/**
 * #11 item 5: run as a user who may not read them, `report` and `doctor` must say the
 * state file, log directory and iptables are there and to run as root — never "does
 * not exist" or "not installed". The live part runs the built CLI as `nobody` (root only).
 */
const CLI = resolve('dist/cli/main.js');
const asNobody = process.getuid?.() === 0 && existsSync(CLI);

describe('non-root report and doctor', () => {
  it('an unreadable log directory is not "missing"', () => {
    const l = checkLogDir({ path: '/var/log/imdswatch', exists: true, mode: 0o700, uid: 990, unreadable: true }, 990);
    expect(l.status).toBe('warn');
    expect(l.message).not.toMatch(/does not exist/);
    expect(l.fix).toContain(RUN_AS_ROOT);
  });

  it('finds iptables in /usr/sbin when PATH lacks it', () => {
    if (!existsSync('/usr/sbin/iptables')) return expect(process.env.CI).toBeFalsy();
    expect(resolveTool('iptables', '/usr/bin:/bin')).toBe('/usr/sbin/iptables');
    expect(resolveTool('no-such-tool-here', '/usr/bin')).toBe('no-such-tool-here');
  });

  it.runIf(!!process.env.CI)('can run the CLI as nobody under CI', () => expect(asNobody).toBe(true));

  it.runIf(asNobody)('as nobody: report says run as root for a state file in a 0700 directory; doctor finds the log directory and iptables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-nonroot-'));
    chmodSync(dir, 0o755);
    try {
      const lib = join(dir, 'lib');
      mkdirSync(lib, { mode: 0o700 });
      writeFileSync(join(lib, 'state.json'), '{"format":"imdswatch-state/1"}');
      const logs = join(dir, 'log');
      mkdirSync(logs, { mode: 0o700 });
      writeFileSync(join(logs, 'imdswatch.log'), '');
      const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/' };
      const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { uid: 65534, gid: 65534, env, encoding: 'utf8', timeout: 60_000 });
      const rep = run(['report', join(lib, 'state.json')]);
      expect(rep.status).toBe(2);
      expect(rep.stderr).toContain(RUN_AS_ROOT);
      expect(rep.stderr).not.toMatch(/no such file/);
      const doc = run(['doctor', '--no-imds', '--format', 'json', '--log-dir', logs]);
      const lines = JSON.parse(doc.stdout).lines as Array<{ id: string; status: string; message: string; fix?: string }>;
      const logLine = lines.find((l) => l.id === 'log-dir')!;
      expect(logLine.message).not.toMatch(/does not exist/);
      expect(logLine.fix).toContain(RUN_AS_ROOT);
      const fw = lines.find((l) => l.id === 'firewall')!;
      if (existsSync('/usr/sbin/iptables')) expect(fw.message).not.toMatch(/not installed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
