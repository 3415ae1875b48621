#!/usr/bin/env node
/**
 * cap 0.2 hard-codes a 65 535-byte snaplen. In immediate mode libpcap then uses a
 * TPACKET_V2 ring of 64 KiB frames in 128 KiB blocks: a 16 MiB buffer holds only 256
 * packets and costs 32 MiB of resident memory. This patch makes cap read its snaplen
 * from IMDSWATCH_CAP_SNAPLEN (default unchanged: 65535), and rebuilds cap. imdswatch
 * sets 8000 (IMDS heads are < 8 KiB; bodies are never needed), so a frame fits one 8 KiB
 * block: 8x the packets per MiB. Idempotent; on any problem it warns and leaves cap as
 * it was (imdswatch then works with the larger ring).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const MARK = 'IMDSWATCH_CAP_SNAPLEN';
let capDir;
try {
  capDir = dirname(createRequire(import.meta.url).resolve('cap/package.json'));
} catch {
  console.warn('patch-cap: cap is not installed; nothing to patch');
  process.exit(0);
}
const src = join(capDir, 'src', 'binding.cc');
if (!existsSync(src)) {
  console.warn(`patch-cap: ${src} not found; cap keeps its 65535-byte snaplen`);
  process.exit(0);
}
const text = readFileSync(src, 'utf8');
if (!text.includes(MARK)) {
  const from = 'pcap_set_snaplen(obj->pcap_handle, 65535)';
  if (!text.includes(from)) {
    console.warn('patch-cap: unexpected cap source; cap keeps its 65535-byte snaplen');
    process.exit(0);
  }
  const patched =
    '#include <stdlib.h>\n' +
    text.replace(from, `pcap_set_snaplen(obj->pcap_handle, getenv("${MARK}") ? atoi(getenv("${MARK}")) : 65535)`);
  writeFileSync(src, patched);
} else if (existsSync(join(capDir, 'build', 'Release', '.imdswatch-snaplen'))) {
  process.exit(0);
}
const r = spawnSync('node-gyp', ['rebuild', '--silent'], { cwd: capDir, stdio: 'inherit', shell: false });
if (r.status !== 0) {
  writeFileSync(src, text);
  const again = spawnSync('node-gyp', ['rebuild', '--silent'], { cwd: capDir, stdio: 'inherit' });
  console.warn(`patch-cap: rebuilding cap failed; restored the original (${again.status === 0 ? 'rebuilt' : 'rebuild failed too'})`);
  process.exit(0);
}
writeFileSync(join(capDir, 'build', 'Release', '.imdswatch-snaplen'), 'patched\n');
console.log('patch-cap: cap reads its snaplen from IMDSWATCH_CAP_SNAPLEN');
