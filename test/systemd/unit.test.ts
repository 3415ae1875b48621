// The shipped unit: hardening score and `systemd-analyze verify`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const UNIT = fileURLToPath(new URL('../../systemd/imdswatch.service', import.meta.url));
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const tmp = mkdtempSync(join(tmpdir(), `imdswatch-unit-${process.pid}-`));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Parses "→ Overall exposure level for X: 2.4 OK 🙂" */
function exposure(output: string): number {
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(output);
  if (!m) throw new Error(`no exposure level in output:\n${output}`);
  return Number(m[1]);
}

function unitText(): string {
  return readFileSync(UNIT, 'utf8');
}

/** Values of a directive (all occurrences), ignoring comments. */
function directive(name: string): string[] {
  return unitText()
    .split('\n')
    .filter((l) => l.startsWith(`${name}=`))
    .map((l) => l.slice(name.length + 1).trim());
}

describe.skipIf(!hasAnalyze)('systemd/imdswatch.service', () => {
  it('rates 2.5 or lower with systemd-analyze security --offline', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', UNIT], { encoding: 'utf8' });
    const score = exposure(r.stdout + r.stderr);
    expect(score).toBeLessThanOrEqual(2.5);
  });

  it('passes systemd-analyze verify (ExecStart pointed at an existing executable)', () => {
    const bin = join(tmp, 'imdswatch');
    writeFileSync(bin, '#!/bin/sh\nexit 0\n');
    chmodSync(bin, 0o755);
    const copy = join(tmp, 'imdswatch.service');
    writeFileSync(copy, unitText().replaceAll('/usr/local/bin/imdswatch', bin));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('verify catches a broken unit (the check above can fail)', () => {
    const copy = join(tmp, 'broken.service');
    writeFileSync(copy, unitText().replaceAll('/usr/local/bin/imdswatch', join(tmp, 'does-not-exist')));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });
});

describe('imdswatch.service content', () => {
  it('starts before networking and cloud-init, from sysinit', () => {
    expect(directive('DefaultDependencies')).toEqual(['no']);
    expect(directive('Before').join(' ')).toMatch(/network-pre\.target/);
    expect(directive('Before').join(' ')).toMatch(/cloud-init-local\.service/);
    expect(directive('After').join(' ')).toMatch(/local-fs\.target/);
    expect(directive('Wants')).toContain('network-pre.target');
    expect(directive('WantedBy')).toEqual(['sysinit.target']);
    expect(directive('Conflicts')).toEqual(['shutdown.target']);
  });

  it('grants exactly the four capabilities', () => {
    const want = ['CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SYS_PTRACE'];
    for (const d of ['AmbientCapabilities', 'CapabilityBoundingSet']) {
      expect(directive(d).join(' ').split(/\s+/).sort()).toEqual(want);
    }
    expect(directive('User')).toEqual(['imdswatch']);
  });

  it('removes gate rules after every stop, restarts on failure', () => {
    const post = directive('ExecStopPost');
    // the boot watch is armed first after a failure, then the gate's rules go (docs/design.md#boot-watch)
    // re-armed after every stop but at shutdown, as root (+): systemctl answers root only
    expect(post[0]).toMatch(/^-\+\/bin\/sh -c '\[ "\$\$\(systemctl is-system-running 2>\/dev\/null\)" = stopping \] \|\| exec \/usr\/lib\/systemd\/system-generators\/imdswatch-generator --rearm'$/);
    expect(post[1]).toMatch(/imdswatch gate --remove --after-stop$/);
    expect(post).toHaveLength(2);
    expect(directive('Restart')).toEqual(['on-failure']);
  });

  it('does not restart a usage error (exit 2) (#11)', () => {
    expect(directive('RestartPreventExitStatus').join(' ').split(/\s+/)).toContain('2');
  });

  it('the readiness wait (ExecStartPost) stops at once when the daemon has exited (#11)', () => {
    const line = directive('ExecStartPost')[0];
    const m = /^-\/bin\/sh -c '(.*)'$/.exec(line);
    expect(m).not.toBeNull();
    const script = m![1].replaceAll('$$', '$');
    const runtime = mkdtempSync(join(tmpdir(), `imdswatch-rt-${process.pid}-`));
    try {
      // a pid that has exited: a child we started and reaped
      const dead = spawnSync('true').pid!;
      const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', RUNTIME_DIRECTORY: runtime, MAINPID: String(dead) }, timeout: 30_000 });
      expect(r.stderr).toMatch(/the daemon exited before it was ready/);
      // a ready daemon: exit 0 at once, nothing said
      writeFileSync(join(runtime, 'ready'), '');
      const ok = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', RUNTIME_DIRECTORY: runtime, MAINPID: String(process.pid) }, timeout: 30_000 });
      expect([ok.status, ok.stderr]).toEqual([0, '']);
    } finally {
      rmSync(runtime, { recursive: true, force: true });
    }
  });

  it('keeps what Node and attribution need', () => {
    // V8's JIT needs W+X memory; attribution needs every pid and /proc/net.
    expect(directive('MemoryDenyWriteExecute')).toEqual([]);
    expect(directive('ProtectProc')).toEqual(['default']);
    expect(directive('ProcSubset')).toEqual(['all']);
    expect(directive('PrivateNetwork')).toEqual([]);
    expect(directive('PrivateUsers')).toEqual(['no']);
    expect(directive('LogsDirectoryMode')).toEqual(['0700']);
    expect(directive('StateDirectoryMode')).toEqual(['0700']);
    expect(directive('UMask')).toEqual(['0077']);
  });
});

// Sanity: systemd-analyze is what we think it is.
it.skipIf(!hasAnalyze)('systemd-analyze supports --offline (systemd >= 250)', () => {
  const v = execFileSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  const major = Number(/systemd (\d+)/.exec(v)?.[1]);
  expect(major).toBeGreaterThanOrEqual(250);
});
