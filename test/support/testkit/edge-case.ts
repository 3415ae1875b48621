/** The shape of a generated edge case and the helpers that turn scripts into files. */
import { classicPcap, type ClassicPcapOptions, type PcapRecord } from './capture-files.js';
import { LINKTYPE, ethernet } from './packet-builders.js';
import { type LabelEvent, type Labels, Scenario } from './edge-scenario.js';
import { type ConvPacket, toRecords } from './tcp-conversation.js';

export interface BuiltCase {
  file: Buffer;
  events: LabelEvent[];
  expect?: Labels['expect'];
  tsharkExcluded?: string;
}

export interface EdgeCase {
  /** file name without extension */
  name: string;
  ext: 'pcap' | 'pcapng';
  description: string;
  build(): BuiltCase;
}

export function labelsOf(c: EdgeCase, b: BuiltCase): Labels {
  const l: Labels = { description: c.description, expect: b.expect ?? { exitCode: 0 }, events: b.events };
  if (b.tsharkExcluded) l.tsharkExcluded = b.tsharkExcluded;
  return l;
}

export interface PcapCaseOptions {
  wrap?: (ip: Buffer) => Buffer;
  pcap?: Partial<ClassicPcapOptions>;
  expect?: Labels['expect'];
  tsharkExcluded?: string;
  /** records written before the scripted packets (e.g. UDP) */
  prefix?: () => PcapRecord[];
}

/**
 * A classic pcap case from a script: `make` adds sessions to the scenario and returns
 * the final packet list (Ethernet, microsecond, little-endian by default).
 */
export function pcapCase(name: string, description: string, make: (s: Scenario) => ConvPacket[], o: PcapCaseOptions = {}): EdgeCase {
  return {
    name,
    ext: 'pcap',
    description,
    build() {
      const s = new Scenario();
      const packets = make(s);
      const wrap = o.wrap ?? ((ip: Buffer) => ethernet(ip));
      const recs = [...(o.prefix?.() ?? []), ...toRecords(packets, wrap)];
      const file = classicPcap(recs, { linkType: LINKTYPE.ETHERNET, ...o.pcap });
      return { file, events: s.events(packets), expect: o.expect, tsharkExcluded: o.tsharkExcluded };
    },
  };
}

/** Client endpoint shorthand. */
export function at(ip: string, port: number): { ip: string; port: number } {
  return { ip, port };
}

/** Seconds offsets so that sessions of one case do not overlap in time. */
export const T0 = 1_700_000_000;
