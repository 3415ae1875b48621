/**
 * Files written by real tools (editcap, mergecap, tcpdump) from a generated pcap
 * must read back as the same packets: pcapng, nanosecond pcap, several interfaces.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../src/source/capture-file.js';
import { classicPcap, prng, randomBytes, type Pkt } from './pcap-bytes.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `imdswatch-tools-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
}

interface Rec {
  sec: number;
  nsec: number;
  linkType: number;
  origLen: number;
  hex: string;
}

function read(file: string): { recs: Rec[]; ifaces: Set<number> } {
  const recs: Rec[] = [];
  const ifaces = new Set<number>();
  readCaptureFile(file, (f) => {
    ifaces.add(f.iface);
    recs.push({ sec: f.sec, nsec: f.nsec, linkType: f.linkType, origLen: f.origLen, hex: f.data.toString('hex') });
  });
  return { recs, ifaces };
}

function makePcap(name: string, seed: number, linkType: number, secBase: number): string {
  const rand = prng(seed);
  const pkts: Pkt[] = [];
  for (let i = 0; i < 300; i++) {
    pkts.push({ sec: secBase + i * 2, frac: rand() % 1_000_000, data: randomBytes(rand, 20 + (rand() % 1500)) });
  }
  const file = path.join(tmp, name);
  fs.writeFileSync(file, classicPcap(pkts, { linkType }));
  return file;
}

describe.skipIf(!has('editcap') || !has('mergecap'))('wireshark tools', () => {
  const a = makePcap('a.pcap', 1, 1, 1700000000);
  const b = makePcap('b.pcap', 2, 113, 1700000001);

  it('editcap pcapng (microsecond) reads the same as the source pcap', () => {
    const ng = path.join(tmp, 'a.pcapng');
    run('editcap', ['-F', 'pcapng', a, ng]);
    expect(fs.readFileSync(ng).readUInt32LE(0)).toBe(0x0a0d0d0a);
    expect(read(ng).recs).toEqual(read(a).recs);
  });

  it('editcap nanosecond pcap reads the same as the source pcap', () => {
    const ns = path.join(tmp, 'a-ns.pcap');
    run('editcap', ['-F', 'nsecpcap', a, ns]);
    expect(fs.readFileSync(ns).readUInt32LE(0)).toBe(0xa1b23c4d);
    expect(read(ns).recs).toEqual(read(a).recs);
  });

  it('mergecap of two link types gives two interfaces in one pcapng', () => {
    const merged = path.join(tmp, 'merged.pcapng');
    run('mergecap', ['-F', 'pcapng', '-w', merged, a, b]);
    const { recs, ifaces } = read(merged);
    expect(ifaces).toEqual(new Set([0, 1]));
    const want = [...read(a).recs, ...read(b).recs].sort((x, y) => x.sec - y.sec || x.nsec - y.nsec);
    expect(recs).toEqual(want);
    expect(new Set(recs.map((r) => r.linkType))).toEqual(new Set([1, 113]));
  });
});

describe.skipIf(!has('tcpdump'))('tcpdump', () => {
  it('tcpdump -w with nanosecond precision reads the same', () => {
    const a = makePcap('t.pcap', 3, 1, 1650000000);
    const out = path.join(tmp, 't-ns.pcap');
    run('tcpdump', ['-r', a, '--time-stamp-precision=nano', '-w', out]);
    expect(read(out).recs).toEqual(read(a).recs);
  });
});
