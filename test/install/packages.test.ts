// install.sh's package step and reruns (#11 item 2): an installer may only undo what it
// did, a rerun with nothing changed leaves the running service alone, and without npm
// the development packages are still left out. System commands (ldconfig, apt-get,
// dpkg-query, npm) are replaced or hidden through a PATH made of links to the real ones.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(REPO, 'install.sh');
const isRoot = process.getuid?.() === 0;
const USER = `imdswp${process.pid}`;
/** the metrics socket's group, this test's own (install.sh would create imdswatch-metrics) */
const METRICS_GROUP = `imdswq${process.pid}`;
const REAL_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

let base: string;
let src: string;
let root: string;
let aptLog: string;

/** PATH with `fakes` in front of the normal one */
function fakePath(name: string, fakes: Record<string, string>): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  for (const [n, text] of Object.entries(fakes)) {
    writeFileSync(join(dir, n), `#!/bin/bash\n${text}\n`);
    chmodSync(join(dir, n), 0o755);
  }
  return `${dir}:${process.env.PATH}`;
}

/** a PATH of links to every command on the normal one except `hide` */
function pathWithout(name: string, hide: string[]): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  for (const d of REAL_PATH) {
    if (!existsSync(d)) continue;
    for (const n of readdirSync(d)) {
      if (hide.includes(n) || existsSync(join(dir, n))) continue;
      try { symlinkSync(join(d, n), join(dir, n)); } catch { /* a dangling link of the same name */ }
    }
  }
  return dir;
}

const LDCONFIG_WITH_PCAP = [
  'echo "1000 libs found in cache \\`/etc/ld.so.cache\'"',
  'echo "	libpcap.so.0.8 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libpcap.so.0.8"',
  // far more than a pipe holds: a reader that stops early makes this die of SIGPIPE
  'yes "	libfiller.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libfiller.so.1" | head -n 20000',
].join('\n');
const LDCONFIG_WITHOUT_PCAP = 'echo "0 libs found in cache"';
const DPKG_INSTALLED = 'printf "install ok installed"';
const DPKG_NOT_INSTALLED = 'printf "unknown ok not-installed"; exit 1';
const fakeAptGet = () => `echo "apt-get $*" >> ${aptLog}`;

function layoutArgs(r: string): string[] {
  return [
    '--from', src, '--prefix', join(r, 'opt/imdswatch'), '--bindir', join(r, 'bin'),
    '--systemd-dir', join(r, 'systemd'), '--logrotate-dir', join(r, 'logrotate.d'),
    '--log-dir', join(r, 'log'), '--state-dir', join(r, 'state'), '--config-dir', join(r, 'config'),
    '--user', USER, '--metrics-group', METRICS_GROUP,
  ];
}

function run(path: string, extra: string[], env: Record<string, string> = {}) {
  const r = spawnSync('unshare', ['--net', 'bash', SCRIPT, ...layoutArgs(root), ...extra], {
    encoding: 'utf8', env: { ...process.env, PATH: path, ...env },
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

function aptCalls(): string[] {
  return existsSync(aptLog) ? readFileSync(aptLog, 'utf8').trim().split('\n').filter(Boolean) : [];
}

function cleanupUser() {
  if (spawnSync('getent', ['passwd', USER]).status === 0) spawnSync('userdel', [USER]);
  if (spawnSync('getent', ['group', USER]).status === 0) spawnSync('groupdel', [USER]);
  if (spawnSync('getent', ['group', METRICS_GROUP]).status === 0) spawnSync('groupdel', [METRICS_GROUP]);
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), `imdswatch-install-pkg-${process.pid}-`));
  chmodSync(base, 0o755);
  src = join(base, 'src');
  mkdirSync(join(src, 'dist/cli'), { recursive: true });
  writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'imdswatch-fake', version: '0.0.0' }));
  writeFileSync(join(src, 'dist/cli/main.js'), 'console.log("fake-cli");\n');
  cpSync(join(REPO, 'systemd'), join(src, 'systemd'), { recursive: true });
  // node_modules as `npm ci` leaves it: production and development packages, one of
  // them nested, and a .bin link into a development package
  const mod = (p: string) => { mkdirSync(join(src, 'node_modules', p), { recursive: true }); writeFileSync(join(src, 'node_modules', p, 'index.js'), `// ${p}\n`); };
  for (const p of ['prod-a', 'prod-b', 'dev-x', 'prod-a/node_modules/dev-nested', 'prod-a/node_modules/prod-nested', '@scope/dev-y']) mod(p);
  mkdirSync(join(src, 'node_modules/.bin'));
  symlinkSync('../dev-x/index.js', join(src, 'node_modules/.bin/dev-x'));
  writeFileSync(join(src, 'package-lock.json'), JSON.stringify({
    lockfileVersion: 3,
    packages: {
      '': { name: 'imdswatch-fake' },
      'node_modules/prod-a': {},
      'node_modules/prod-b': { optional: true },
      'node_modules/dev-x': { dev: true },
      'node_modules/@scope/dev-y': { dev: true },
      'node_modules/prod-a/node_modules/dev-nested': { dev: true },
      'node_modules/prod-a/node_modules/prod-nested': {},
      'node_modules/../../escape': { dev: true },
    },
  }));
});

afterAll(() => {
  cleanupUser();
  if (base) rmSync(base, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('install.sh packages, reruns and npm-less installs', () => {
  beforeEach(() => {
    cleanupUser();
    root = mkdtempSync(join(base, 'root-'));
    chmodSync(root, 0o755);
    aptLog = join(root, 'apt-get.log');
  });

  it('libpcap present: an ldconfig killed by SIGPIPE does not make it look missing; the rollback removes nothing', () => {
    const path = fakePath('p1', { ldconfig: LDCONFIG_WITH_PCAP, 'apt-get': fakeAptGet(), 'dpkg-query': DPKG_INSTALLED });
    for (let i = 0; i < 2; i++) {
      const r = run(path, ['--no-start'], { IMDSWATCH_INSTALL_FAIL_AT: 'user' });
      expect(r.status, r.out).toBe(1);
      expect(r.out).toContain('rolled back');
    }
    expect(aptCalls()).toEqual([]);
  });

  it('a package dpkg already had is never removed by the rollback', () => {
    const path = fakePath('p2', { ldconfig: LDCONFIG_WITHOUT_PCAP, 'apt-get': fakeAptGet(), 'dpkg-query': DPKG_INSTALLED });
    const r = run(path, ['--no-start'], { IMDSWATCH_INSTALL_FAIL_AT: 'app' });
    expect(r.status, r.out).toBe(1);
    const calls = aptCalls();
    expect(calls.some((c) => / install .*libpcap0\.8/.test(c))).toBe(true);
    expect(calls.filter((c) => / remove /.test(c))).toEqual([]);
  });

  it('a package this run installed is removed by the rollback', () => {
    const path = fakePath('p3', { ldconfig: LDCONFIG_WITHOUT_PCAP, 'apt-get': fakeAptGet(), 'dpkg-query': DPKG_NOT_INSTALLED });
    const r = run(path, ['--no-start'], { IMDSWATCH_INSTALL_FAIL_AT: 'wrapper' });
    expect(r.status, r.out).toBe(1);
    expect(aptCalls().filter((c) => / remove /.test(c))).toEqual(['apt-get remove -y -qq libpcap0.8']);
  });

  it('without npm, the development packages listed in package-lock.json are left out', () => {
    const path = pathWithout('p4', ['npm', 'npx']);
    const r = run(path, ['--no-start', '--no-packages']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('npm not found: removed 3 development packages');
    const nm = join(root, 'opt/imdswatch/node_modules');
    const present = (p: string) => existsSync(join(nm, p));
    expect(['prod-a', 'prod-b', 'prod-a/node_modules/prod-nested'].every(present)).toBe(true);
    expect(['dev-x', '@scope/dev-y', '@scope', 'prod-a/node_modules/dev-nested', '.bin/dev-x'].some(present)).toBe(false);
    expect(existsSync(join(src, 'node_modules/dev-x'))).toBe(true); // the source is untouched
  });

  it('a rerun with nothing changed replaces nothing (so a running service is not restarted); a change is installed', () => {
    const path = process.env.PATH ?? '';
    expect(run(path, ['--no-start', '--no-packages']).status).toBe(0);
    const app = join(root, 'opt/imdswatch');
    const ino = statSync(app).ino;
    const again = run(path, ['--no-start', '--no-packages']);
    expect(again.status, again.out).toBe(0);
    expect(again.out).toContain('unchanged');
    expect(again.out).toContain('nothing changed: already installed');
    expect(again.out).not.toContain('installed the application');
    expect(statSync(app).ino).toBe(ino);
    writeFileSync(join(src, 'dist/cli/main.js'), 'console.log("fake-cli v2");\n');
    try {
      const up = run(path, ['--no-start', '--no-packages']);
      expect(up.status, up.out).toBe(0);
      expect(up.out).toContain('installed the application');
      expect(up.out).not.toContain('nothing changed');
      expect(readFileSync(join(app, 'dist/cli/main.js'), 'utf8')).toContain('v2');
    } finally {
      writeFileSync(join(src, 'dist/cli/main.js'), 'console.log("fake-cli");\n');
    }
  });
});
