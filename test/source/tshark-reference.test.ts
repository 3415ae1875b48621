/**
 * Independent reference for what pcap-parser cannot read: every pcapng and
 * nanosecond pcap under pcaps/ that is not meant to be damaged must give the
 * frames tshark reads (time to the nanosecond, wire and captured lengths,
 * interface id).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../src/source/capture-file.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const root = path.resolve(__dirname, '../../pcaps');

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

function notDamaged(file: string): boolean {
  const labels = file.replace(/\.pcap(ng)?$/, '.labels.json');
  if (!fs.existsSync(labels)) return true;
  const j = JSON.parse(fs.readFileSync(labels, 'utf8'));
  return Array.isArray(j) || !j.expect?.error;
}

function isNgOrNano(file: string): boolean {
  const b = fs.readFileSync(file).subarray(0, 4);
  if (b.length < 4) return false;
  return b.readUInt32LE(0) === 0x0a0d0d0a || b.readUInt32LE(0) === 0xa1b23c4d || b.readUInt32BE(0) === 0xa1b23c4d;
}

const files = walk(root).filter((f) => /\.pcap(ng)?$/.test(f) && isNgOrNano(f) && notDamaged(f));

describe.skipIf(files.length === 0 || !has('tshark'))('readCaptureFile agrees with tshark', () => {
  for (const file of files) {
    it(path.relative(root, file), () => {
      const t = spawnSync(
        'tshark',
        ['-r', file, '-n', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.interface_id'],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      );
      // tshark stops at a packet for an undescribed interface (we count and skip it)
      const tsharkStopped = t.status !== 0;
      if (tsharkStopped) expect(t.stderr).toMatch(/interface index \d+ is not less than/);
      let prevTime = '0.000000000';
      const want = t.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => {
          const [epoch, len, capLen, iface] = l.split('|');
          // a Simple Packet Block has no time: we give it the previous packet's (documented)
          if (epoch !== '') {
            const [sec, frac = ''] = epoch.split('.');
            prevTime = `${sec}.${frac.padEnd(9, '0')}`;
          }
          return `${prevTime} ${len} ${capLen} ${iface || 0}`;
        });
      const got: string[] = [];
      readCaptureFile(file, (f) => got.push(`${f.sec}.${String(f.nsec).padStart(9, '0')} ${f.origLen} ${f.data.length} ${f.iface}`));
      expect(tsharkStopped ? got.slice(0, want.length) : got).toEqual(want);
    });
  }
});
