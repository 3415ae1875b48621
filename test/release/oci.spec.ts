// The OCI images (npm run release): a valid OCI image layout (index -> manifest ->
// config and layer, every digest and size right, the architecture named), and the
// image's own root runs imdswatch: chroot for x64, qemu-aarch64 with the image's root as
// its library root for arm64 — replay from stdin gives the development build's NDJSON —
// and the image's iptables (the SYN gate's tool, #12) runs from the image's own libraries:
// both backends, and for x64 the gate's exact rule accepted in a namespace of its own.
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

      // the gate runs `iptables`/`ip6tables` by name: the image's PATH has /usr/sbin, whose
      // plain names are nf_tables; /usr/lib/imdswatch/xtables-legacy/ has the legacy ones
      expect(config.config.Env).toContain('PATH=/opt/imdswatch/node/bin:/usr/sbin:/usr/bin:/bin');
      for (const ext of ['libxt_NFQUEUE.so', 'libxt_tcp.so', 'libxt_standard.so', 'libip6t_icmp6.so', 'libxt_comment.so', 'libxt_mark.so']) {
        expect(existsSync(join(rootfs, 'usr/lib', arch === 'x64' ? 'x86_64-linux-gnu' : 'aarch64-linux-gnu', 'xtables', ext)), ext).toBe(true);
      }
      const tools: Array<[string, RegExp]> = [
        ['/usr/sbin/iptables', /^iptables v1\.8\.7 \(nf_tables\)$/],
        ['/usr/sbin/ip6tables', /^ip6tables v1\.8\.7 \(nf_tables\)$/],
        ['/usr/lib/imdswatch/xtables-legacy/iptables', /^iptables v1\.8\.7 \(legacy\)$/],
        ['/usr/lib/imdswatch/xtables-legacy/ip6tables', /^ip6tables v1\.8\.7 \(legacy\)$/],
      ];
      for (const [tool, version] of tools) {
        if (arch === 'x64') {
          const r = sh('sh', ['-c', `unshare -n chroot "$1" ${tool} -V`, '_', rootfs], { timeout: 120_000 });
          expect(r.stdout.trim(), `${tool}: ${r.stderr}`).toMatch(version);
          continue;
        }
        // arm64 under qemu: the dynamic loader resolves every library from the image's root
        // (LD_TRACE_LOADED_OBJECTS; no "not found"); the legacy backend also runs -V (the
        // nf_tables one opens a netfilter netlink socket even for -V, which qemu-user does
        // not translate: "Failed to initialize nft: Protocol not supported")
        const real = `"$1$(dirname ${tool})/$(readlink "$1${tool}")"`;
        const trace = sh('sh', ['-c', `unshare -n qemu-aarch64-static -L "$1" -E LD_TRACE_LOADED_OBJECTS=1 ${real}`, '_', rootfs], { timeout: 120_000 });
        expect(trace.stdout, `${tool}: ${trace.stderr}`).toMatch(/libxtables\.so\.12 => \S+/);
        expect(trace.stdout, tool).not.toMatch(/not found/);
        if (version.source.includes('legacy')) {
          const base = tool.split('/').pop()!;
          const r = sh('sh', ['-c', `unshare -n qemu-aarch64-static -L "$1" -0 ${base} ${real} -V`, '_', rootfs], { timeout: 120_000 });
          expect(r.stdout.trim(), `${tool}: ${r.stderr}`).toMatch(version);
        }
      }
      if (arch === 'x64') {
        // the gate's rule (src/live/gate-rules.ts) in a network namespace of its own, both
        // backends, listed back; nothing outside that namespace is touched
        const gate = (ipt: string) => [
          `${ipt} -w 5 -t mangle -N IMDSWATCH`,
          `${ipt} -w 5 -t mangle -A IMDSWATCH -p tcp --syn -d 169.254.169.254 --dport 80 -j NFQUEUE --queue-num 7 --queue-bypass`,
          `${ipt} -w 5 -t mangle -I OUTPUT 1 -j IMDSWATCH`,
          `${ipt} -w 5 -t mangle -S`,
        ].map((c) => `chroot "$1" ${c}`).join(' && ');
        for (const ipt of ['/usr/sbin/iptables', '/usr/lib/imdswatch/xtables-legacy/iptables']) {
          const r = sh('unshare', ['-n', 'sh', '-c', gate(ipt), '_', rootfs], { timeout: 120_000 });
          expect(r.status, `${ipt}: ${r.stderr}`).toBe(0);
          // "-p 6": the image has no /etc/protocols (nor NSS modules) to print "tcp" by; the
          // daemon matches only the chain, the jumps and --queue-num (inspectGateRules)
          expect(r.stdout, ipt).toMatch(/^-A IMDSWATCH -d 169\.254\.169\.254\/32 -p (tcp|6) -m tcp --dport 80 --tcp-flags FIN,SYN,RST,ACK SYN -j NFQUEUE --queue-num 7 --queue-bypass$/m);
          expect(r.stdout, ipt).toContain('-A OUTPUT -j IMDSWATCH');
        }
      }
    });
  });
}
