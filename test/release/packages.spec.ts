// The .deb and .rpm (npm run release): installed into a clean Debian 12 root (an
// overlay of the cached minbase root), they run; removal leaves the file list, users
// and groups as they were. .rpm: layout and scriptlets by rpm -qlp / --scripts, and
// installed with the host's rpm --root into the same kind of root.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanRoot, isRoot, onOverlay, prerequisites, REPO, sh, VERSION, which } from './artifacts.js';

const deb = (a: string) => join(REPO, 'release', `imdswatch_${VERSION}_${a}.deb`);
const rpm = (a: string) => join(REPO, 'release', `imdswatch-${VERSION}-1.${a}.rpm`);
const ready = prerequisites({
  root: isRoot,
  [deb('amd64')]: existsSync(deb('amd64')),
  [rpm('x86_64')]: existsSync(rpm('x86_64')),
  debootstrap: which('debootstrap'),
  rpm: which('rpm'),
});

// what a root holds, minus the package managers' own bookkeeping and the backups that
// useradd/userdel keep of the files they edit (/etc/shadow- etc., system files)
const LIST = [
  'cd "$m"',
  "find . -xdev \\( -path ./proc -o -path ./dev -o -path ./tmp -o -path ./var/lib/dpkg -o -path ./var/lib/rpm -o -path ./var/log -o -path ./var/cache -o -path ./release \\) -prune -o -print | grep -vxE '\\./etc/(passwd|group|shadow|gshadow)-' | LC_ALL=C sort",
  'echo "users: $(cut -d: -f1 etc/passwd | sort | tr "\\n" " ")"',
  'echo "groups: $(cut -d: -f1 etc/group | sort | tr "\\n" " ")"',
].join('\n');

describe.skipIf(!ready)('.deb and .rpm', () => {
  let root: string;
  beforeAll(() => { root = cleanRoot('bookworm'); });

  it('.deb: dpkg -i installs, enables and runs; dpkg --purge leaves the root as it was', () => {
    const r = onOverlay(root, [
      'set -e',
      // other software under /opt: the purge must neither warn nor touch it
      'mkdir -p "$m/opt/other" && echo x > "$m/opt/other/file"',
      `(${LIST}) > /tmp/before.$$`,
      `cp ${deb('amd64')} "$m/tmp/p.deb"`,
      'chroot "$m" dpkg -i /tmp/p.deb',
      'echo "generator=$(stat -c %a "$m/lib/systemd/system-generators/imdswatch-generator")"',
      'grep "imdswatch-generator --rearm" "$m/lib/systemd/system/imdswatch.service" | grep -c "/lib/systemd/system-generators/imdswatch-generator"',
      'echo "version=$(chroot "$m" /usr/bin/imdswatch --version)"',
      'chroot "$m" getent passwd imdswatch',
      'echo "wants=$(readlink "$m/etc/systemd/system/sysinit.target.wants/imdswatch.service")"',
      'grep ^ExecStart= "$m/lib/systemd/system/imdswatch.service"',
      'mkdir -p "$m/var/log/imdswatch" "$m/var/lib/imdswatch" && touch "$m/var/log/imdswatch/imdswatch.log" "$m/var/lib/imdswatch/state.json"',
      'chroot "$m" chown -R imdswatch:imdswatch /var/log/imdswatch /var/lib/imdswatch',
      // remove keeps the logs and state: root's now, not the deleted uid's
      'chroot "$m" dpkg -r imdswatch 2>&1',
      'echo "kept-owner=$(stat -c %u:%g "$m/var/log/imdswatch" "$m/var/log/imdswatch/imdswatch.log" "$m/var/lib/imdswatch/state.json" | sort -u | tr "\\n" " ")"',
      'chroot "$m" dpkg --purge imdswatch 2>&1',
      'rm -f "$m/tmp/p.deb"',
      `(${LIST}) > /tmp/after.$$`,
      'echo "leftover:"; diff /tmp/before.$$ /tmp/after.$$ || true; echo "log: $(ls -d "$m/var/log/imdswatch" "$m/var/lib/imdswatch" 2>&1 | grep -c "No such")"',
      'rm -f /tmp/before.$$ /tmp/after.$$',
    ].join('\n'), '', [], 600_000);
    expect(r.status, r.out).toBe(0);
    expect(r.stdout).toContain(`version=${VERSION}\n`);
    expect(r.stdout).toMatch(/^imdswatch:x:\d+:\d+:.*:\/nonexistent:\/usr\/sbin\/nologin$/m);
    expect(r.stdout).toContain('wants=/lib/systemd/system/imdswatch.service\n');
    expect(r.stdout).toContain('ExecStart=/usr/bin/imdswatch daemon');
    expect(r.stdout).toContain('generator=755\n1\n');
    expect(r.stdout).toContain('kept-owner=0:0 \n');
    expect(r.out).not.toMatch(/not empty so not removed|warning/);
    expect(r.stdout.split('leftover:\n')[1]).toBe('log: 2\n');
  });

  it('.rpm: layout and scriptlets', () => {
    for (const a of ['x86_64', ...(existsSync(rpm('aarch64')) ? ['aarch64'] : [])]) {
      const files = sh('rpm', ['-qlp', rpm(a)]).stdout.split('\n').filter(Boolean);
      expect(files).toContain('/opt/imdswatch/bin/imdswatch');
      expect(files).toContain('/opt/imdswatch/node/bin/node');
      expect(files).toContain('/usr/bin/imdswatch');
      expect(files).toContain('/usr/lib/systemd/system/imdswatch.service');
      expect(files).toContain('/etc/logrotate.d/imdswatch');
      expect(files).toContain('/usr/lib/systemd/system-generators/imdswatch-generator');
      expect(files).toContain('/usr/lib/systemd/system-generators');
      expect(files.filter((f) => !f.startsWith('/opt/imdswatch/') && f !== '/opt/imdswatch')).toHaveLength(5);
      expect(sh('rpm', ['-qp', '--qf', '%{ARCH}', rpm(a)]).stdout).toBe(a);
      const scripts = sh('rpm', ['-qp', '--scripts', rpm(a)]).stdout;
      expect(scripts).toMatch(/postinstall scriptlet[\s\S]*imdswatch_add_user\s*\nimdswatch_enable \/usr\/lib\/systemd\/system\/imdswatch.service/);
      expect(scripts).toMatch(/preuninstall scriptlet[\s\S]*if \[ "\$1" -eq 0 \]; then imdswatch_stop; fi/);
      expect(scripts).toMatch(/postuninstall scriptlet[\s\S]*if \[ "\$1" -eq 0 \]; then imdswatch_forget; fi/);
      const parts = scripts.split(/^\S+ scriptlet \(using \/bin\/sh\):$/m).filter((x) => x.trim());
      expect(parts).toHaveLength(3);
      for (const part of parts) expect(sh('sh', ['-n', '-c', part]).status, part).toBe(0);
    }
  });

  it('.rpm: rpm --root -i into a clean root, runs, rpm -e leaves the root as it was', () => {
    const r = onOverlay(root, [
      'set -e',
      `(${LIST}) > /tmp/before.$$`,
      'rpm --root "$m" --dbpath /var/lib/rpm --initdb',
      `rpm --root "$m" --dbpath /var/lib/rpm -i --nodeps ${rpm('x86_64')}`,
      'echo "version=$(chroot "$m" /usr/bin/imdswatch --version)"',
      'chroot "$m" getent passwd imdswatch',
      'echo "wants=$(readlink "$m/etc/systemd/system/sysinit.target.wants/imdswatch.service")"',
      'rpm --root "$m" --dbpath /var/lib/rpm -e imdswatch',
      `(${LIST}) > /tmp/after.$$`,
      'echo "leftover:"; diff /tmp/before.$$ /tmp/after.$$ || true',
      'rm -f /tmp/before.$$ /tmp/after.$$',
    ].join('\n'), '', [], 600_000);
    expect(r.status, r.out).toBe(0);
    expect(r.stdout).toContain(`version=${VERSION}\n`);
    expect(r.stdout).toMatch(/^imdswatch:x:/m);
    expect(r.stdout).toContain('wants=/usr/lib/systemd/system/imdswatch.service\n');
    expect(r.stdout.split('leftover:\n')[1]).toBe('');
  });
});
