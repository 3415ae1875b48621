// install.sh into a temporary tree (--prefix, --bindir, --systemd-dir, ...), with a
// per-process user name, so it never touches the real /etc/systemd or /opt and can
// run in parallel with other test files. Needs root (useradd); skipped otherwise.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(REPO, 'install.sh');
const isRoot = process.getuid?.() === 0;
const USER = `imdswt${process.pid}`;
const METRICS_GROUP = `imdswm${process.pid}`;

let base: string;
let src: string;
let root: string;

function layout(r: string) {
  return {
    prefix: join(r, 'opt/imdswatch'),
    bindir: join(r, 'bin'),
    systemd: join(r, 'systemd'),
    logrotate: join(r, 'logrotate.d'),
    log: join(r, 'log'),
    state: join(r, 'state'),
    config: join(r, 'config'),
    generators: join(r, 'system-generators'),
  };
}

function args(r: string, extra: string[] = []): string[] {
  const l = layout(r);
  return [
    '--from', src, '--prefix', l.prefix, '--bindir', l.bindir, '--systemd-dir', l.systemd,
    '--logrotate-dir', l.logrotate, '--log-dir', l.log, '--state-dir', l.state, '--config-dir', l.config,
    '--user', USER, '--metrics-group', METRICS_GROUP, '--no-packages', ...extra,
  ];
}

// In a private network namespace: --uninstall removes firewall rules, and must only
// ever see this test's rules, never the host's or another test's.
function run(extra: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync('unshare', ['--net', 'bash', SCRIPT, ...args(root, extra)], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, out: r.stdout + r.stderr };
}

function userExists(name: string): boolean {
  return spawnSync('getent', ['passwd', name]).status === 0;
}
function groupExists(name: string): boolean {
  return spawnSync('getent', ['group', name]).status === 0;
}

/** every file/dir/link under dir, with content hashes and modes: a whole-tree snapshot */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) out[rel] = `link:${readlinkSync(p)}`;
    else if (st.isDirectory()) {
      out[rel] = `dir:${(st.mode & 0o7777).toString(8)}`;
      for (const n of readdirSync(p).sort()) walk(join(p, n), `${rel}/${n}`);
    } else out[rel] = `file:${(st.mode & 0o7777).toString(8)}:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
  };
  if (existsSync(dir)) walk(dir, '');
  return out;
}

function files(dir: string): string[] {
  return Object.entries(snapshot(dir)).filter(([, v]) => !v.startsWith('dir:')).map(([k]) => k);
}

function cleanupUser() {
  if (userExists(USER)) spawnSync('userdel', [USER]);
  if (groupExists(USER)) spawnSync('groupdel', [USER]);
  if (groupExists(METRICS_GROUP)) spawnSync('groupdel', [METRICS_GROUP]);
}

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), `imdswatch-install-${process.pid}-`));
  chmodSync(base, 0o755); // the refusal test runs the script as nobody
  // A small built tree: install.sh only copies it, so the real dist/ isn't needed.
  src = join(base, 'src');
  mkdirSync(join(src, 'dist/cli'), { recursive: true });
  mkdirSync(join(src, 'node_modules'), { recursive: true });
  writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'imdswatch-fake', version: '0.0.0', type: 'module' }));
  writeFileSync(join(src, 'dist/cli/main.js'), 'console.log("fake-cli " + process.argv.slice(2).join(" "));\n');
  cpSync(join(REPO, 'systemd'), join(src, 'systemd'), { recursive: true });
  cpSync(SCRIPT, join(base, 'install.sh'));
});

afterAll(() => {
  cleanupUser();
  if (base) rmSync(base, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('install.sh', () => {
  beforeEach(() => {
    cleanupUser();
    root = mkdtempSync(join(base, 'root-'));
    chmodSync(root, 0o755); // as /var/log is: the service user must reach its log dir
  });

  it('installs the app, command, user, unit (enabled) and logrotate snippet', () => {
    const r = run(['--no-start']);
    expect(r.status, r.out).toBe(0);
    const l = layout(root);
    expect(existsSync(join(l.prefix, 'dist/cli/main.js'))).toBe(true);
    expect(statSync(join(l.prefix, 'dist/cli/main.js')).uid).toBe(0);
    expect(userExists(USER)).toBe(true);
    // the metrics socket's readers (README "Security")
    expect(groupExists(METRICS_GROUP)).toBe(true);
    const passwd = spawnSync('getent', ['passwd', USER], { encoding: 'utf8' }).stdout;
    expect(passwd).toMatch(/:\/usr\/sbin\/nologin\n?$/);

    const cli = spawnSync(join(l.bindir, 'imdswatch'), ['doctor'], { encoding: 'utf8' });
    expect(cli.stdout).toBe('fake-cli doctor\n');

    const unit = readFileSync(join(l.systemd, 'imdswatch.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${join(l.bindir, 'imdswatch')} daemon`);
    expect(unit).toContain(`ExecStopPost=-${join(l.bindir, 'imdswatch')} gate --remove`);
    expect(unit).toMatch(new RegExp(`^User=${USER}$`, 'm'));
    expect(unit).not.toContain('/usr/local/bin/imdswatch ');
    expect(readlinkSync(join(l.systemd, 'sysinit.target.wants/imdswatch.service'))).toBe(join(l.systemd, 'imdswatch.service'));
    expect(readFileSync(join(l.logrotate, 'imdswatch'), 'utf8')).toContain(`su ${USER} ${USER}`);
    expect(r.out).toMatch(/not starting/);
  });

  it('installs the boot-watch generator beside the unit dir, pointed at this install (docs/design.md#boot-watch)', () => {
    const r = run(['--no-start']);
    expect(r.status, r.out).toBe(0);
    const l = layout(root);
    const gen = join(l.generators, 'imdswatch-generator');
    expect(statSync(gen).mode & 0o777).toBe(0o755);
    const text = readFileSync(gen, 'utf8');
    expect(text).toContain(`WANTS=\${IMDSWATCH_WANTS:-${join(l.systemd, 'sysinit.target.wants/imdswatch.service')}}\n`);
    expect(spawnSync('sh', ['-n', gen]).status).toBe(0);
    const unit = readFileSync(join(l.systemd, 'imdswatch.service'), 'utf8');
    expect(unit).toContain(`|| exec ${gen} --rearm'`);
    expect(unit).not.toContain('/usr/lib/systemd/system-generators');
    expect(r.out).toContain(`boot watch generator: ${gen}`);
  });

  it('`imdswatch uninstall` works once the unpacked folder is gone; kept logs and state go to root, not to the deleted uid', () => {
    // a copy of the source tree that is deleted after the install, as an operator's download is
    const from = mkdtempSync(join(base, 'unpacked-'));
    cpSync(src, from, { recursive: true });
    cpSync(SCRIPT, join(from, 'install.sh'));
    const r = spawnSync('unshare', ['--net', 'bash', join(from, 'install.sh'), ...args(root, ['--no-start']).map((a) => (a === src ? from : a))], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    rmSync(from, { recursive: true, force: true });
    const l = layout(root);
    expect(existsSync(join(l.prefix, 'install.sh'))).toBe(true);
    for (const d of [l.log, l.state]) {
      mkdirSync(d, { mode: 0o700 });
      writeFileSync(join(d, 'kept'), 'x\n');
      spawnSync('chown', ['-R', `${USER}:${USER}`, d]);
    }
    const uid = Number(spawnSync('id', ['-u', USER], { encoding: 'utf8' }).stdout.trim());
    expect(statSync(join(l.log, 'kept')).uid).toBe(uid);
    const un = spawnSync('unshare', ['--net', join(l.bindir, 'imdswatch'), 'uninstall'], { encoding: 'utf8' });
    expect(un.status, un.stdout + un.stderr).toBe(0);
    expect(un.stdout).toContain('uninstalled');
    expect(userExists(USER)).toBe(false);
    expect(files(root)).toEqual(['/log/kept', '/state/kept']);
    for (const p of [l.log, join(l.log, 'kept'), l.state, join(l.state, 'kept')]) expect([p, statSync(p).uid, statSync(p).gid]).toEqual([p, 0, 0]);
  });

  it('`imdswatch uninstall --purge` removes the logs and state too', () => {
    expect(run(['--no-start']).status).toBe(0);
    const l = layout(root);
    mkdirSync(l.log);
    writeFileSync(join(l.log, 'imdswatch.log'), 'x\n');
    const un = spawnSync('unshare', ['--net', join(l.bindir, 'imdswatch'), 'uninstall', '--purge'], { encoding: 'utf8' });
    expect(un.status, un.stdout + un.stderr).toBe(0);
    expect(files(root)).toEqual([]);
  });

  // a release tree (packaging/build-release.sh) unpacked where a root shell or a user
  // usually is: its bundled Node.js is copied to PREFIX and runs from there
  for (const where of ['/root', '/home'] as const) {
    it(`installs a release tree unpacked in ${where} (the bundled Node.js runs from the prefix)`, () => {
      const dir = mkdtempSync(join(where, `imdswatch-0.0.0-linux-x64-${process.pid}-`));
      try {
        cpSync(src, dir, { recursive: true });
        cpSync(SCRIPT, join(dir, 'install.sh'));
        mkdirSync(join(dir, 'node/bin'), { recursive: true });
        symlinkSync(process.execPath, join(dir, 'node/bin/node'));
        writeFileSync(join(dir, 'RELEASE'), 'name=imdswatch\n');
        const r = spawnSync('unshare', ['--net', 'bash', join(dir, 'install.sh'), ...args(root, ['--no-start']).map((a) => (a === src ? dir : a))], { encoding: 'utf8' });
        expect(r.status, r.stdout + r.stderr).toBe(0);
        const l = layout(root);
        expect(r.stdout).toContain(`at ${join(l.prefix, 'node/bin/node')})`);
        const wrapper = readFileSync(join(l.bindir, 'imdswatch'), 'utf8');
        expect(wrapper).toContain(`exec ${join(l.prefix, 'node/bin/node')} `);
        expect(wrapper).not.toContain(where === '/root' ? '/root/' : '/home/');
        expect(spawnSync(join(l.bindir, 'imdswatch'), ['doctor'], { encoding: 'utf8' }).stdout).toBe('fake-cli doctor\n');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('still refuses a Node.js inside a home directory that is not bundled (the service cannot see it)', () => {
    const dir = mkdtempSync(join('/root', `imdswatch-node-${process.pid}-`));
    try {
      symlinkSync(process.execPath, join(dir, 'node'));
      const before = snapshot(root);
      const r = run(['--no-start', '--node', join(dir, 'node')]);
      expect(r.status).toBe(2);
      expect(r.out).toMatch(/inside a home directory, which the service cannot see \(ProtectHome=yes\)/);
      expect(snapshot(root)).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the installed logrotate snippet is valid for logrotate', () => {
    expect(run(['--no-start']).status).toBe(0);
    const l = layout(root);
    // as systemd's LogsDirectory= makes it: owned by the service user
    mkdirSync(l.log, { mode: 0o700 });
    writeFileSync(join(l.log, 'imdswatch.log'), 'x\n', { mode: 0o600 });
    spawnSync('chown', ['-R', `${USER}:${USER}`, l.log]);
    const lr = spawnSync('logrotate', ['-d', join(l.logrotate, 'imdswatch')], { encoding: 'utf8' });
    expect(lr.stderr + lr.stdout).not.toMatch(/error/i);
    expect(lr.stderr + lr.stdout).toContain(join(l.log, 'imdswatch.log'));
  });

  it('is idempotent: a second run succeeds and leaves the same files', () => {
    expect(run(['--no-start']).status).toBe(0);
    const first = snapshot(root);
    const again = run(['--no-start']);
    expect(again.status, again.out).toBe(0);
    expect(again.out).toContain('already enabled');
    expect(again.out).toContain(`user ${USER} exists`);
    expect(snapshot(root)).toEqual(first);
  });

  it('--uninstall removes files, unit, user; keeps logs unless --purge', () => {
    expect(run(['--no-start']).status).toBe(0);
    const l = layout(root);
    mkdirSync(l.log, { mode: 0o700 });
    writeFileSync(join(l.log, 'imdswatch.log'), 'x\n');
    mkdirSync(l.state);
    writeFileSync(join(l.state, 'state.json'), '{}');
    mkdirSync(l.config);
    writeFileSync(join(l.config, 'config.json'), '{}');
    const un = run(['--uninstall']);
    expect(un.status, un.out).toBe(0);
    expect(userExists(USER)).toBe(false);
    expect(groupExists(USER)).toBe(false);
    expect(groupExists(METRICS_GROUP)).toBe(false);
    expect(files(root)).toEqual(['/config/config.json', '/log/imdswatch.log', '/state/state.json']);
    expect(un.out).toContain(`kept: ${l.log} (logs), ${l.state} (state), ${l.config} (configuration)`);
    const purge = run(['--uninstall', '--purge']);
    expect(purge.status, purge.out).toBe(0);
    expect(files(root)).toEqual([]);
    expect(existsSync(l.log)).toBe(false);
    expect(purge.out).toContain('kept: no logs, state or configuration');
  });

  for (const step of ['packages', 'user', 'app', 'wrapper', 'unit', 'generator', 'logrotate', 'enable', 'start']) {
    it(`a failure at step '${step}' of a fresh install rolls everything back`, () => {
      const before = snapshot(root);
      const r = run(['--no-start'], { IMDSWATCH_INSTALL_FAIL_AT: step });
      expect(r.status, r.out).toBe(1);
      expect(r.out).toContain('rolled back');
      expect(snapshot(root)).toEqual(before);
      expect(userExists(USER)).toBe(false);
    });
  }

  it('a failure during an upgrade restores the previous installation', () => {
    expect(run(['--no-start']).status).toBe(0);
    const before = snapshot(root);
    // a new version of the app and of the unit...
    writeFileSync(join(src, 'dist/cli/main.js'), 'console.log("v2");\n');
    try {
      const r = run(['--no-start'], { IMDSWATCH_INSTALL_FAIL_AT: 'start' });
      expect(r.status, r.out).toBe(1);
      // ...is not left behind: the old one is back, and the user is kept
      expect(snapshot(root)).toEqual(before);
      expect(userExists(USER)).toBe(true);
    } finally {
      writeFileSync(join(src, 'dist/cli/main.js'), 'console.log("fake-cli " + process.argv.slice(2).join(" "));\n');
    }
  });

  it('--uninstall removes the gate rules even without the application', () => {
    // the rules the gate installs (src/live/gate-rules.ts), set up in a private netns
    const script = [
      'set -e',
      'iptables -N IMDSWATCH',
      'iptables -A IMDSWATCH -p tcp --syn -d 169.254.169.254 --dport 80 -j NFQUEUE --queue-num 7 --queue-bypass',
      'iptables -I OUTPUT 1 -j IMDSWATCH',
      'iptables -I FORWARD 1 -j IMDSWATCH',
      'ip6tables -N IMDSWATCH',
      'ip6tables -I OUTPUT 1 -j IMDSWATCH',
      'nft add table inet imdswatch',
      // the boot watch's counting chain (systemd/imdswatch-generator)
      'iptables -t mangle -N IMDSWATCH-EARLY',
      'iptables -t mangle -A IMDSWATCH-EARLY -p tcp --syn -d 169.254.169.254 --dport 80 -m owner --uid-owner 0 -j RETURN',
      'iptables -t mangle -I OUTPUT 1 -j IMDSWATCH-EARLY',
      'iptables -S | grep -c IMDSWATCH',
      'iptables -t mangle -S | grep -c IMDSWATCH-EARLY',
      `bash ${SCRIPT} ${args(root, ['--uninstall']).join(' ')} >/dev/null`,
      'echo ---',
      'iptables -S; iptables -t mangle -S; ip6tables -S; nft list tables',
    ].join('\n');
    const r = spawnSync('unshare', ['--net', 'bash', '-c', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [before, after] = r.stdout.split('---');
    expect(before.trim()).toBe('4\n3');
    expect(after).not.toMatch(/IMDSWATCH|imdswatch/);
    expect(after).toContain('-P OUTPUT ACCEPT');
  });

  it('refuses when Node is too old, before changing anything', () => {
    const old = join(base, 'old-node');
    writeFileSync(old, '#!/bin/sh\necho v18.19.0\n');
    chmodSync(old, 0o755);
    const before = snapshot(root);
    const r = run(['--node', old]);
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/v18\.19\.0 .* too old: imdswatch needs >= 20/);
    expect(snapshot(root)).toEqual(before);
    expect(userExists(USER)).toBe(false);
  });

  it('refuses when not root', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', join(base, 'install.sh'), '--no-start'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/must run as root/);
  });

  it('rejects unknown options with usage', () => {
    const r = spawnSync('bash', [SCRIPT, '--frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown option --frobnicate/);
    expect(r.stderr).toMatch(/Usage: install\.sh/);
  });
});
