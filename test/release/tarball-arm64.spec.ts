// The arm64 release tarball, run on this x86_64 machine with qemu-user-static: the
// bundled arm64 Node.js with the arm64 C library of the build root's cross toolchain
// (/usr/aarch64-linux-gnu, Debian 11) as its sysroot. --version, a replay that must
// give the same NDJSON as the development build, doctor, and the glibc floor.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUILD_ROOT, compareVersions, elfFiles, isRoot, maxGlibc, prerequisites, REPO, removeTree, sh,
  tarballName, tarballPath, unpack, VERSION, which,
} from './artifacts.js';

const GLIBC_FLOOR = '2.28';
const SYSROOT = join(BUILD_ROOT, 'usr/aarch64-linux-gnu');
// IMDSWATCH_RELEASE_ARCHES=x64 (a build of x64 only) is an explicit choice, not a missing prerequisite
const wanted = (process.env.IMDSWATCH_RELEASE_ARCHES ?? 'x64 arm64').split(/\s+/).includes('arm64');
const ready = wanted && prerequisites({
  root: isRoot,
  [tarballPath('arm64')]: existsSync(tarballPath('arm64')),
  'qemu-aarch64-static': which('qemu-aarch64-static'),
  readelf: which('readelf'),
  [`${SYSROOT} (packaging/build-root.sh)`]: existsSync(join(SYSROOT, 'lib/ld-linux-aarch64.so.1')),
  'dist/ (npm run build)': existsSync(join(REPO, 'dist/cli/main.js')),
});
const captures = readdirSync(join(REPO, 'pcaps/real')).filter((f) => /\.pcap(ng)?$/.test(f)).sort().map((f) => join(REPO, 'pcaps/real', f));

describe.skipIf(!ready)('release tarball linux-arm64 (qemu-user)', () => {
  let dir: string;
  let tree: string;
  const node = (args: string[]) =>
    sh('qemu-aarch64-static', ['-L', SYSROOT, join(tree, 'node/bin/node'), join(tree, 'dist/cli/main.js'), ...args], { timeout: 600_000 });
  beforeAll(() => {
    dir = unpack('arm64');
    tree = join(dir, tarballName('arm64'));
  });
  afterAll(() => removeTree(dir));

  it('holds aarch64 binaries only, each needing glibc <= 2.28', () => {
    const elfs = elfFiles(tree);
    expect(elfs.length).toBe(3);
    for (const f of elfs) expect(sh('readelf', ['-h', f]).stdout, f).toMatch(/Machine:\s+AArch64/);
    const needs = Object.fromEntries(elfs.map((f) => [f.slice(tree.length + 1), maxGlibc(f)]));
    const over = Object.entries(needs).filter(([, v]) => v !== null && compareVersions(v, GLIBC_FLOOR) > 0);
    expect(over, JSON.stringify(needs)).toEqual([]);
    expect(sh('readelf', ['-d', join(tree, 'node_modules/cap/build/Release/cap.node')]).stdout).not.toMatch(/NEEDED.*libpcap/);
  });

  it('--version, replay (same NDJSON as the development build) and doctor run under qemu-aarch64', () => {
    const v = node(['--version']);
    expect(v.stdout, v.stderr).toBe(`${VERSION}\n`);
    const dev = sh('node', [join(REPO, 'dist/cli/main.js'), 'replay', '--format', 'ndjson', '--no-progress', ...captures]);
    expect(dev.status, dev.stderr).toBe(0);
    const arm = node(['replay', '--format', 'ndjson', '--no-progress', ...captures]);
    expect(arm.status, arm.stderr).toBe(0);
    expect(arm.stdout).toBe(dev.stdout);
    // doctor in a network namespace of its own (it probes IMDS), with a clean environment
    const doctor = sh('unshare', ['-n', 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'qemu-aarch64-static', '-L', SYSROOT,
      join(tree, 'node/bin/node'), join(tree, 'dist/cli/main.js'), 'doctor'], { timeout: 600_000 });
    expect([0, 2], doctor.out).toContain(doctor.status);
    expect(doctor.out).not.toMatch(/unexpected error|Cannot find module|error while loading shared libraries/);
    expect(doctor.out).toContain('✓ libpcap       libpcap and the cap binding load');
    expect(doctor.out).toMatch(/✓ node +Node\.js v22\./);
  });

  it('the capture addon loads (libpcap linked in) under qemu-aarch64', () => {
    const r = sh('qemu-aarch64-static', ['-L', SYSROOT, join(tree, 'node/bin/node'), '-e',
      `const c = require(${JSON.stringify(join(tree, 'node_modules/cap'))}); console.log(typeof c.Cap, typeof c.Cap.deviceList)`]);
    expect(r.stdout, r.stderr).toBe('function function\n');
    const s = sh('qemu-aarch64-static', ['-L', SYSROOT, join(tree, 'node/bin/node'), '-e',
      `const a = require(${JSON.stringify(join(tree, 'native/sockdiag/build/Release/sockdiag.node'))}); console.log(Object.keys(a).length > 0)`]);
    expect(s.stdout, s.stderr).toBe('true\n');
  });
});
