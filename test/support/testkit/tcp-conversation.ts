/**
 * Scripted TCP conversations: a correct 3-way handshake, data segments with correct
 * sequence and acknowledgement numbers, and a FIN close, as packet specs with
 * packet times. Tests edit the returned array (drop, reorder, duplicate, overlap)
 * to script edge cases tersely.
 */
import { type TcpSpec, ipTcp, isIPv6 } from './packet-builders.js';
import type { PcapRecord } from './capture-files.js';

export interface ConvEndpoint {
  ip: string;
  port: number;
}

export interface ConvPacket {
  sec: number;
  nsec: number;
  dir: 'toServer' | 'toClient';
  spec: TcpSpec;
}

export interface ConversationOptions {
  client: ConvEndpoint;
  /** default IMDS port 80 at 169.254.169.254, or [fd00:ec2::254] for an IPv6 client */
  server?: ConvEndpoint;
  requests: Array<string | Buffer>;
  /** response i answers request i; null or missing: no answer */
  responses?: Array<string | Buffer | null>;
  /**
   * where to cut each request into segments: byte offsets, or 'byte' for one
   * segment per byte. Default: one segment per request.
   */
  split?: number[] | 'byte';
  /** emission order of each request's segments (a permutation of their indices) */
  order?: number[];
  /** send every request before the first response (pipelining) */
  pipeline?: boolean;
  /** false: the capture starts mid-connection (no SYN / SYN-ACK / ACK) */
  handshake?: boolean;
  close?: 'fin' | 'rst' | 'none';
  /** time of the first packet; packets are `stepNs` apart */
  startSec?: number;
  startNsec?: number;
  stepNs?: number;
  clientIsn?: number;
  serverIsn?: number;
  /** client IP TTL (default 64); server TTL (default 64) */
  ttl?: number;
  serverTtl?: number;
  /** largest response segment (default 1448) */
  mss?: number;
}

function buf(x: string | Buffer): Buffer {
  return typeof x === 'string' ? Buffer.from(x, 'latin1') : x;
}

function cuts(len: number, split: number[] | 'byte' | undefined): Array<[number, number]> {
  if (len === 0) return [];
  const offs =
    split === 'byte'
      ? Array.from({ length: len - 1 }, (_, i) => i + 1)
      : [...new Set((split ?? []).filter((o) => o > 0 && o < len))].sort((a, b) => a - b);
  const pts = [0, ...offs, len];
  const out: Array<[number, number]> = [];
  for (let i = 0; i + 1 < pts.length; i++) out.push([pts[i], pts[i + 1]]);
  return out;
}

export function tcpConversation(o: ConversationOptions): ConvPacket[] {
  const c = o.client;
  const s = o.server ?? (isIPv6(c.ip) ? { ip: 'fd00:ec2::254', port: 80 } : { ip: '169.254.169.254', port: 80 });
  const step = o.stepNs ?? 100_000;
  let t = BigInt(o.startSec ?? 1_700_000_000) * 1_000_000_000n + BigInt(o.startNsec ?? 0);
  let cSeq = (o.clientIsn ?? 1_000_000) >>> 0;
  let sSeq = (o.serverIsn ?? 2_000_000) >>> 0;
  const out: ConvPacket[] = [];

  const emit = (dir: ConvPacket['dir'], seq: number, ack: number, flags: string, payload?: Buffer): void => {
    const toServer = dir === 'toServer';
    out.push({
      sec: Number(t / 1_000_000_000n),
      nsec: Number(t % 1_000_000_000n),
      dir,
      spec: {
        src: toServer ? c.ip : s.ip,
        dst: toServer ? s.ip : c.ip,
        srcPort: toServer ? c.port : s.port,
        dstPort: toServer ? s.port : c.port,
        seq: seq >>> 0,
        ack: ack >>> 0,
        flags,
        payload,
        ttl: toServer ? (o.ttl ?? 64) : (o.serverTtl ?? 64),
      },
    });
    t += BigInt(step);
  };

  if (o.handshake !== false) {
    emit('toServer', cSeq, 0, 'S');
    emit('toClient', sSeq, cSeq + 1, 'SA');
    cSeq = (cSeq + 1) >>> 0;
    sSeq = (sSeq + 1) >>> 0;
    emit('toServer', cSeq, sSeq, 'A');
  }

  const sendRequest = (req: Buffer): void => {
    const segs = cuts(req.length, o.split);
    const order = o.order && o.order.length === segs.length ? o.order : segs.map((_, i) => i);
    for (const i of order) {
      const [a, b] = segs[i];
      emit('toServer', cSeq + a, sSeq, 'PA', req.subarray(a, b));
    }
    cSeq = (cSeq + req.length) >>> 0;
  };
  const sendResponse = (res: Buffer): void => {
    const mss = o.mss ?? 1448;
    for (let a = 0; a < res.length; a += mss) {
      const seg = res.subarray(a, Math.min(res.length, a + mss));
      emit('toClient', sSeq, cSeq, 'PA', seg);
      sSeq = (sSeq + seg.length) >>> 0;
    }
    emit('toServer', cSeq, sSeq, 'A');
  };

  const reqs = o.requests.map(buf);
  const resps = reqs.map((_, i) => {
    const r = o.responses?.[i];
    return r === null || r === undefined ? null : buf(r);
  });
  if (o.pipeline) {
    reqs.forEach(sendRequest);
    emit('toClient', sSeq, cSeq, 'A');
    resps.forEach((r) => r && sendResponse(r));
  } else {
    reqs.forEach((r, i) => {
      sendRequest(r);
      emit('toClient', sSeq, cSeq, 'A');
      const res = resps[i];
      if (res) sendResponse(res);
    });
  }

  const close = o.close ?? 'fin';
  if (close === 'fin') {
    emit('toClient', sSeq, cSeq, 'FA');
    sSeq = (sSeq + 1) >>> 0;
    emit('toServer', cSeq, sSeq, 'FA');
    cSeq = (cSeq + 1) >>> 0;
    emit('toClient', sSeq, cSeq, 'A');
  } else if (close === 'rst') {
    emit('toServer', cSeq, sSeq, 'RA');
  }
  return out;
}

/** Sort packets of several conversations by time (stable). */
export function interleave<T extends ConvPacket>(...convs: T[][]): T[] {
  const all = convs.flat();
  return all
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.sec - b.p.sec || a.p.nsec - b.p.nsec || a.i - b.i)
    .map((x) => x.p);
}

/** Build IP packets, wrap them in a link layer, and make capture records. */
export function toRecords(packets: ConvPacket[], wrap: (ip: Buffer) => Buffer = (ip) => ip): PcapRecord[] {
  return packets.map((p) => ({ sec: p.sec, nsec: p.nsec, data: wrap(ipTcp(p.spec)) }));
}

/** Give packets fresh, evenly spaced times in their current array order. */
export function retime(packets: ConvPacket[], startSec: number, stepNs = 100_000): ConvPacket[] {
  let t = BigInt(startSec) * 1_000_000_000n;
  return packets.map((p) => {
    const q = { ...p, sec: Number(t / 1_000_000_000n), nsec: Number(t % 1_000_000_000n) };
    t += BigInt(stepNs);
    return q;
  });
}
