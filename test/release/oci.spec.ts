// The OCI images (npm run release): a valid OCI image layout (index -> manifest ->
// config and layer, every digest and size right, the architecture named), and the
// image's own root runs imdswatch: chroot for x64, qemu-aarch64 with the image's root as
// its library root for arm64 — replay from stdin gives the development build's NDJSON.
// Run by Podman next to an IMDSv1 caller: oci-podman.spec.ts.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRoot, prerequisites, REPO, removeTree, sh, VERSION, which } from './artifacts.js';

const ociPath = (arch: string) => join(REPO, 'release', `imdswatch-${VERSION}-oci-${arch}.tar`);
const arches = (process.env.IMDSWATCH_RELEASE_ARCHES ?? 'x64 arm64').split(/\s+/).filter(Boolean);
const CAPTURE = join(REPO, 'pcaps/real/curl-v1-required-401.pcap');
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeTree));

for (const arch of arches) {
  const ready = prerequisites({
    root: isRoot,
    [ociPath(arch)]: existsSync(ociPath(arch)),
    ...(arch === 'arm64' ? { 'qemu-aarch64-static': which('qemu-aarch64-static') } : {}),
    [CAPTURE]: existsSync(CAPTURE),
  });
  describe.skipIf(!ready)(`OCI image ${arch}`, () => {
    it('is a valid OCI image layout whose root runs imdswatch', () => {
      const d = mkdtempSync(join(tmpdir(), `imdswatch-oci-${arch}-${process.pid}-`));
      dirs.push(d);
      expect(sh('tar', ['-xf', ociPath(arch), '-C', d]).status).toBe(0);
      expect(JSON.parse(readFileSync(join(d, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
      const blob = (digest: string, size: number) => {
        const p = join(d, 'blobs/sha256', digest.replace(/^sha256:/, ''));
        const data = readFileSync(p);
        expect(`sha256:${createHash('sha256').update(data).digest('hex')}`).toBe(digest);
        expect(statSync(p).size).toBe(size);
        return p;
      };
      const index = JSON.parse(readFileSync(join(d, 'index.json'), 'utf8'));
      expect(index.manifests).toHaveLength(1);
      const m = index.manifests[0];
      const ociArch = arch === 'x64' ? 'amd64' : 'arm64';
      expect(m.platform).toEqual({ architecture: ociArch, os: 'linux' });
      expect(m.annotations['io.containerd.image.name']).toBe(`localhost/imdswatch:${VERSION}`);
      const manifest = JSON.parse(readFileSync(blob(m.digest, m.size), 'utf8'));
      expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      const config = JSON.parse(readFileSync(blob(manifest.config.digest, manifest.config.size), 'utf8'));
      expect(config.architecture).toBe(ociArch);
      expect(manifest.layers).toHaveLength(1);
      const layer = blob(manifest.layers[0].digest, manifest.layers[0].size);
      // the uncompressed layer is the config's diff_id
      const raw = sh('sh', ['-c', 'gzip -dc "$1" | sha256sum | cut -d" " -f1', '_', layer]).stdout.trim();
      expect(config.rootfs.diff_ids).toEqual([`sha256:${raw}`]);

      const rootfs = join(d, 'rootfs');
      mkdirSync(rootfs);
      expect(sh('tar', ['-xzf', layer, '-C', rootfs]).status).toBe(0);
      const [entry, ...entryArgs] = config.config.Entrypoint as string[];
      const dev = sh('node', [join(REPO, 'dist/cli/main.js'), 'replay', '--format', 'ndjson', '--no-progress', CAPTURE]);
      expect(dev.status, dev.stderr).toBe(0);
      // in a network namespace of its own, with only the image's files (x64: chroot;
      // arm64: qemu with the image's root as its library root); replay reads stdin
      const cmd = arch === 'x64'
        ? `unshare -n chroot "$2" ${[entry, ...entryArgs].join(' ')}`
        : `unshare -n qemu-aarch64-static -L "$2" "$2${entry}" ${entryArgs.map((x) => `"$2${x}"`).join(' ')}`;
      const v = sh('sh', ['-c', `${cmd} --version`, '_', CAPTURE, rootfs], { timeout: 600_000 });
      expect(v.stdout, v.stderr).toBe(`${VERSION}\n`);
      const rep = sh('sh', ['-c', `${cmd} replay --format ndjson --no-progress - < "$1"`, '_', CAPTURE, rootfs], { timeout: 600_000 });
      expect(rep.status, rep.stderr).toBe(0);
      expect(rep.stdout).toBe(dev.stdout);
    });
  });
}
