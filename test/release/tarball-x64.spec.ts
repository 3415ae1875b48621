// The x64 release tarball (npm run release): its layout, its glibc floor, and that it
// runs in clean Debian 12 and 11 roots that have no node, npm, compiler or libpcap:
// replay gives byte-identical NDJSON to the development build, --version, doctor, and
// install.sh from the unpacked tarball installs and uninstalls.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanRoot, compareVersions, elfFiles, inRoot, isRoot, maxGlibc, prerequisites, REPO, removeTree, sh,
  tarballName, tarballPath, unpack, VERSION, which,
} from './artifacts.js';

/** RHEL 8 has 2.28 (Amazon Linux 2023: 2.34, Ubuntu 20.04: 2.31, Debian 11: 2.31) */
const GLIBC_FLOOR = '2.28';
const ready = prerequisites({
  root: isRoot,
  [tarballPath('x64')]: existsSync(tarballPath('x64')),
  debootstrap: which('debootstrap'),
  readelf: which('readelf'),
  'dist/ (npm run build)': existsSync(join(REPO, 'dist/cli/main.js')),
});
const captures = readdirSync(join(REPO, 'pcaps/real')).filter((f) => /\.pcap(ng)?$/.test(f)).sort().map((f) => join(REPO, 'pcaps/real', f));

describe.skipIf(!ready)('release tarball linux-x64', () => {
  let dir: string;
  let tree: string;
  beforeAll(() => {
    dir = unpack('x64');
    tree = join(dir, tarballName('x64'));
  });
  afterAll(() => removeTree(dir));

  it('unpacks to one folder with the launcher, installer, unit, README, licences and nothing of development', () => {
    const list = sh('tar', ['-tzf', tarballPath('x64')]).stdout.split('\n').filter(Boolean);
    const top = new Set(list.map((p) => p.split('/')[0]));
    expect([...top]).toEqual([tarballName('x64')]);
    const rel = list.map((p) => p.slice(tarballName('x64').length + 1));
    for (const f of ['bin/imdswatch', 'install.sh', 'systemd/imdswatch.service', 'systemd/imdswatch-generator', 'README.md', 'licenses/imdswatch-Apache-2.0.txt',
      'licenses/nodejs.txt', 'licenses/libpcap.txt', 'node/bin/node', 'dist/cli/main.js', 'RELEASE',
      'node_modules/cap/build/Release/cap.node', 'native/sockdiag/build/Release/sockdiag.node']) {
      expect(rel, f).toContain(f);
    }
    const bad = rel.filter((p) => /^(test|bench|build|src|pcaps|\.ci)\//.test(p) || /^dist\/(lab|testkit)\//.test(p)
      || /^node_modules\/(vitest|typescript|fast-check|@aws-sdk|@smithy|pcap-parser|@types)\//.test(p));
    expect(bad).toEqual([]);
  });

  it(`every ELF file needs glibc <= ${GLIBC_FLOOR}`, () => {
    const elfs = elfFiles(tree);
    expect(elfs.map((f) => f.slice(tree.length + 1))).toEqual([
      'native/sockdiag/build/Release/sockdiag.node', 'node/bin/node', 'node_modules/cap/build/Release/cap.node',
    ]);
    const needs = Object.fromEntries(elfs.map((f) => [f.slice(tree.length + 1), maxGlibc(f)]));
    const over = Object.entries(needs).filter(([, v]) => v !== null && compareVersions(v, GLIBC_FLOOR) > 0);
    expect(over, JSON.stringify(needs)).toEqual([]);
    // libpcap is linked in: no host libpcap needed
    expect(sh('readelf', ['-d', join(tree, 'node_modules/cap/build/Release/cap.node')]).stdout).not.toMatch(/NEEDED.*libpcap/);
  });

  for (const suite of ['bookworm', 'bullseye'] as const) {
    describe(`in a clean Debian ${suite === 'bookworm' ? 12 : 11} root`, () => {
      let root: string;
      beforeAll(() => { root = cleanRoot(suite); });

      it('the root has no node, npm, compiler or libpcap', () => {
        const r = inRoot(root, 'for c in node nodejs npm gcc cc g++ tcpdump; do command -v $c; done; ls /usr/lib/*/libpcap* /lib/*/libpcap* 2>/dev/null; echo end');
        expect(r.stdout.trim()).toBe('end');
      });

      it('--version, replay (byte-identical NDJSON to the development build) and doctor', () => {
        const dev = sh('node', [join(REPO, 'dist/cli/main.js'), 'replay', '--format', 'ndjson', '--no-progress', ...captures]);
        expect(dev.status, dev.stderr).toBe(0);
        expect(dev.stdout.split('\n').length).toBeGreaterThan(20);
        const q = (s: string) => `'${s}'`;
        const cli = `${tree}/bin/imdswatch`;
        const r = inRoot(root, [
          `${cli} --version`, 'echo "rc=$?"',
          `${cli} replay --format ndjson --no-progress ${captures.map(q).join(' ')} > /tmp/replay.ndjson; echo "rc=$?"`,
          `${cli} doctor > /tmp/doctor.txt 2>&1; echo "doctor-rc=$?"`,
          'echo ---; cat /tmp/doctor.txt; echo ---; cat /tmp/replay.ndjson',
        ].join('\n'), [dir, join(REPO, 'pcaps')]);
        const [head, doctor, replay] = r.stdout.split('---\n');
        // doctor: 2 = a problem to fix (this root has no iptables or nft)
        expect(head, r.stderr).toBe(`${VERSION}\nrc=0\nrc=0\ndoctor-rc=2\n`);
        expect(doctor).not.toMatch(/unexpected error|Cannot find module|GLIBC|error while loading shared libraries/);
        expect(doctor).toMatch(/✓ node +Node\.js v22\./);
        expect(doctor).toContain('✓ libpcap       libpcap and the cap binding load');
        expect(doctor).toMatch(/✗ firewall +neither iptables nor nft is installed/);
        expect(replay).toBe(dev.stdout);
      });

      it('install.sh from the unpacked tarball installs without node, npm or compiler, and uninstalls', () => {
        const r = inRoot(root, [
          'set -e',
          `cd ${tree}`,
          './install.sh --no-start',
          'echo "version=$(/usr/local/bin/imdswatch --version)"',
          'getent passwd imdswatch',
          'readlink /etc/systemd/system/sysinit.target.wants/imdswatch.service',
          'ls /opt/imdswatch',
          './install.sh --no-start | grep -c "nothing changed"',
          './install.sh --uninstall --purge',
          'ls /opt/imdswatch /etc/systemd/system/imdswatch.service /usr/local/bin/imdswatch 2>&1 | grep -c "No such file"',
          'getent passwd imdswatch || echo no-user',
        ].join('\n'), [dir]);
        expect(r.status, r.out).toBe(0);
        expect(r.stdout).toContain(`version=${VERSION}\n`);
        expect(r.stdout).toContain('/etc/systemd/system/imdswatch.service\n');
        expect(r.stdout).toMatch(/command: \/usr\/local\/bin\/imdswatch \(Node\.js v22\.[0-9.]+ at \/opt\/imdswatch\/node\/bin\/node\)/);
        expect(r.out).not.toMatch(/apt-get|installing /); // nothing to install: no libpcap needed, no firewall tool without consent
        expect(r.stdout).toMatch(/\n1\n/); // the rerun changed nothing
        expect(r.stdout).toMatch(/\n3\nno-user\n$/);
      });

      it("the README's command from /root (a root shell's home), then `imdswatch uninstall` once the folder is gone", () => {
        const r = inRoot(root, [
          'set -e',
          'cd /root',
          `tar -xzf ${tarballPath('x64')}`,
          `${tarballName('x64')}/install.sh --no-start`,
          'echo "version=$(/usr/local/bin/imdswatch --version)"',
          'head -c 2 /etc/systemd/system-generators/imdswatch-generator; echo',
          `rm -rf /root/${tarballName('x64')}`,
          'mkdir -p /var/log/imdswatch && touch /var/log/imdswatch/imdswatch.log && chown -R imdswatch:imdswatch /var/log/imdswatch',
          '/usr/local/bin/imdswatch uninstall',
          'echo "kept-owner=$(stat -c %u:%g /var/log/imdswatch/imdswatch.log)"',
          'ls /opt/imdswatch /usr/local/bin/imdswatch /etc/systemd/system-generators/imdswatch-generator 2>&1 | grep -c "No such file"',
          'getent passwd imdswatch || echo no-user',
        ].join('\n'), [dirname(tarballPath('x64'))]);
        expect(r.status, r.out).toBe(0);
        expect(r.out).not.toContain('inside a home directory');
        expect(r.stdout).toContain(`version=${VERSION}\n`);
        expect(r.stdout).toContain('#!\n');
        expect(r.stdout).toMatch(/command: \/usr\/local\/bin\/imdswatch \(Node\.js v22\.[0-9.]+ at \/opt\/imdswatch\/node\/bin\/node\)/);
        expect(r.stdout).toContain('kept-owner=0:0\n');
        expect(r.stdout).toMatch(/\n3\nno-user\n$/);
      });
    });
  }
});
