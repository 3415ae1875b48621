#!/usr/bin/env node
/**
 * Speed of the capture-file reader and the decoder against tcpdump.
 *
 *   npm run build && node bench/readers.mjs [--size-mib 1024] [--format pcap|pcapng] [--runs 3] [--keep] [--file F]
 *
 * Generates a pcap of mixed traffic in /tmp (bulk background TCP, small ACKs,
 * UDP, and a few IMDS request/response packets), then times, each in its own
 * process with the file in the page cache:
 *   raw       fs.readSync of 4 MiB chunks, nothing parsed (the floor)
 *   read      readCaptureFile, counting frames
 *   decode    readCaptureFile + Decoder.decode on every frame
 *   tcpdump   tcpdump -r FILE -w /dev/null
 * and prints MB/s, packets/s and peak RSS. Environment: BENCH_SIZE_MIB.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, '../dist');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

// ---------- child: one measurement ----------
if (process.argv[2] === '--child') {
  const [, , , mode, file] = process.argv;
  const { readCaptureFile } = await import(pathToFileURL(path.join(dist, 'source/capture-file.js')).href);
  const { Decoder } = await import(pathToFileURL(path.join(dist, 'decode/decoder.js')).href);
  const dec = new Decoder();
  let n = 0;
  let payload = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const rawRead = () => {
    // the floor: read the file in 4 MiB chunks and touch nothing
    const fd = fs.openSync(file, 'r');
    const b = Buffer.allocUnsafe(4 * 1024 * 1024);
    let total = 0;
    for (let got; (got = fs.readSync(fd, b, 0, b.length, null)) > 0; ) total += got;
    fs.closeSync(fd);
    return { packets: 0, bytes: total };
  };
  const stats =
    mode === 'raw'
      ? rawRead()
      : mode === 'decode'
      ? readCaptureFile(file, (f) => {
          const seg = dec.decode(f);
          if (seg !== null) payload += seg.payload.length;
        })
      : readCaptureFile(file, () => {
          n++;
        });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = process.cpuUsage(c0);
  const cpuSecs = (c1.user + c1.system) / 1e6;
  process.stdout.write(
    JSON.stringify({
      secs,
      cpuSecs,
      packets: stats.packets,
      bytes: stats.bytes,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      imdsSegments: dec.stats.imdsSegments,
      notImds: dec.stats.notImds,
      payload,
      n,
    }),
  );
  process.exit(0);
}

// ---------- generator ----------
const ETH_SRC_DST = Buffer.from('0affffffff010afffffffe020800', 'hex');

function ipv4Tcp(src, dst, sport, dport, seq, flags, payload) {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(40 + payload.length, 2);
  ip.writeUInt16BE(0x4000, 6);
  ip[8] = 64;
  ip[9] = 6;
  Buffer.from(src).copy(ip, 12);
  Buffer.from(dst).copy(ip, 16);
  const t = Buffer.alloc(20);
  t.writeUInt16BE(sport, 0);
  t.writeUInt16BE(dport, 2);
  t.writeUInt32BE(seq >>> 0, 4);
  t[12] = 0x50;
  t[13] = flags;
  return Buffer.concat([ETH_SRC_DST, ip, t, payload]);
}

function udp(src, dst, len) {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(28 + len, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from(src).copy(ip, 12);
  Buffer.from(dst).copy(ip, 16);
  return Buffer.concat([ETH_SRC_DST, ip, Buffer.alloc(8 + len, 7)]);
}

function templates() {
  const me = [10, 0, 0, 5];
  const peer = [10, 0, 0, 9];
  const imds = [169, 254, 169, 254];
  const bulk = [];
  for (let i = 0; i < 32; i++) bulk.push(ipv4Tcp(peer, me, 443, 50000 + i, i * 1448, 0x10, Buffer.alloc(1448, i)));
  const acks = [];
  for (let i = 0; i < 8; i++) acks.push(ipv4Tcp(me, peer, 50000 + i, 443, i, 0x10, Buffer.alloc(0)));
  const other = [udp(me, [169, 254, 169, 123], 48), udp(me, [169, 254, 169, 253], 40)];
  const req = Buffer.from('GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: bench\r\n\r\n');
  const resp = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 8\r\nServer: EC2ws\r\n\r\nbenchrol');
  const imdsPkts = [
    ipv4Tcp(me, imds, 41000, 80, 1, 0x02, Buffer.alloc(0)),
    ipv4Tcp(imds, me, 80, 41000, 9, 0x12, Buffer.alloc(0)),
    ipv4Tcp(me, imds, 41000, 80, 2, 0x18, req),
    ipv4Tcp(imds, me, 80, 41000, 10, 0x18, resp),
  ];
  return { bulk, acks, other, imdsPkts };
}

function pcapngHeader() {
  const shb = Buffer.alloc(28);
  shb.writeUInt32LE(0x0a0d0d0a, 0);
  shb.writeUInt32LE(28, 4);
  shb.writeUInt32LE(0x1a2b3c4d, 8);
  shb.writeUInt16LE(1, 12);
  shb.writeInt32LE(-1, 16);
  shb.writeInt32LE(-1, 20);
  shb.writeUInt32LE(28, 24);
  const idb = Buffer.alloc(20);
  idb.writeUInt32LE(1, 0);
  idb.writeUInt32LE(20, 4);
  idb.writeUInt16LE(1, 8);
  idb.writeUInt32LE(262144, 12);
  idb.writeUInt32LE(20, 16);
  return Buffer.concat([shb, idb]);
}

function generate(file, sizeMiB, format) {
  const { bulk, acks, other, imdsPkts } = templates();
  const target = sizeMiB * 1024 * 1024;
  const fd = fs.openSync(file, 'w');
  const out = Buffer.alloc(8 * 1024 * 1024);
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(262144, 16);
  hdr.writeUInt32LE(1, 20);
  const fileHeader = format === 'pcapng' ? pcapngHeader() : hdr;
  fs.writeSync(fd, fileHeader);
  let written = fileHeader.length;
  let o = 0;
  let i = 0;
  let sec = 1700000000;
  let usec = 0;
  while (written + o < target) {
    let p;
    const k = i % 1000;
    if (k < 4) p = imdsPkts[k];
    else if (k % 3 === 0) p = acks[i % acks.length];
    else if (k % 97 === 0) p = other[i % 2];
    else p = bulk[i % bulk.length];
    if (o + 64 + p.length > out.length) {
      fs.writeSync(fd, out, 0, o);
      written += o;
      o = 0;
    }
    usec += 7;
    if (usec >= 1_000_000) {
      usec -= 1_000_000;
      sec++;
    }
    if (format === 'pcapng') {
      const padded = (p.length + 3) & ~3;
      const blen = 32 + padded;
      const ts = sec * 1e6 + usec;
      out.writeUInt32LE(6, o);
      out.writeUInt32LE(blen, o + 4);
      out.writeUInt32LE(0, o + 8);
      out.writeUInt32LE(Math.floor(ts / 2 ** 32), o + 12);
      out.writeUInt32LE(ts % 2 ** 32, o + 16);
      out.writeUInt32LE(p.length, o + 20);
      out.writeUInt32LE(p.length, o + 24);
      p.copy(out, o + 28);
      out.fill(0, o + 28 + p.length, o + 28 + padded);
      out.writeUInt32LE(blen, o + 28 + padded);
      o += blen;
    } else {
      out.writeUInt32LE(sec, o);
      out.writeUInt32LE(usec, o + 4);
      out.writeUInt32LE(p.length, o + 8);
      out.writeUInt32LE(p.length, o + 12);
      p.copy(out, o + 16);
      o += 16 + p.length;
    }
    i++;
  }
  fs.writeSync(fd, out, 0, o);
  fs.closeSync(fd);
}

// ---------- parent ----------
const sizeMiB = Number(arg('--size-mib', process.env.BENCH_SIZE_MIB ?? '1024'));
const format = arg('--format', 'pcap');
const given = arg('--file', null);
const file = given ?? `/tmp/imdswatch-bench-${process.pid}.${format}`;
if (!fs.existsSync(path.join(dist, 'source/capture-file.js'))) {
  console.error('dist/ not built: run `npm run build` first');
  process.exit(2);
}
if (!given) {
  const t0 = Date.now();
  generate(file, sizeMiB, format);
  console.log(`generated ${file}: ${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const size = fs.statSync(file).size;

function child(mode) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function tcpdump() {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', 'tcpdump', '-Z', 'root', '-r', file, '-w', '/dev/null'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tcpdump failed: ${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop().split(' ');
  return { secs: Number(last[0]), cpuSecs: Number(last[1]) + Number(last[2]), maxRssMiB: Number(last[3]) / 1024 };
}

try {
  // warm the page cache
  spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] });
  const runs = Number(arg('--runs', '3'));
  const best = (f) => {
    let b = null;
    for (let i = 0; i < runs; i++) {
      const r = f();
      if (!b || r.secs < b.secs) b = r;
    }
    return b;
  };
  const raw = best(() => child('raw'));
  const read = best(() => child('read'));
  const decode = best(() => child('decode'));
  const td = best(tcpdump);
  const gib = size / 2 ** 30;
  const row = (name, r, packets) =>
    `${name.padEnd(8)} ${r.secs.toFixed(3).padStart(7)} s  ${(size / 1e6 / r.secs).toFixed(0).padStart(6)} MB/s  ` +
    `${(r.secs / gib).toFixed(3)} s/GiB  cpu ${(r.cpuSecs / gib).toFixed(3)} s/GiB  ${packets ? ((packets / r.secs / 1e6).toFixed(2) + ' Mpkt/s').padStart(12) : '           -'}  ` +
    `peak RSS ${r.maxRssMiB.toFixed(0)} MiB`;
  console.log(`file ${(size / 2 ** 20).toFixed(0)} MiB, ${read.packets} packets, best of ${runs}`);
  console.log(row('raw', raw, 0));
  console.log(row('read', read, read.packets));
  console.log(row('decode', decode, decode.packets));
  console.log(row('tcpdump', td, read.packets));
  console.log(`decoder: ${decode.imdsSegments} IMDS segments, ${decode.notImds} not IMDS`);
} finally {
  if (!given && !process.argv.includes('--keep')) fs.rmSync(file, { force: true });
}
