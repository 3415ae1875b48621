/** Edge cases where the capture file itself ends early or turns into garbage. */
import { type BuiltCase, type EdgeCase, T0, at } from './edge-case.js';
import { v1 } from './edge-exchanges.js';
import { classicPcap } from './capture-files.js';
import { LINKTYPE, ethernet } from './packet-builders.js';
import { UA } from './fake-values.js';
import { Scenario, pseudoRandomBytes } from './edge-scenario.js';
import { toRecords } from './tcp-conversation.js';

const C = '10.0.1.23';

/** a complete v1 GET conversation (10 packets) as a classic pcap, with its events */
function goodPcap(port: number): { file: Buffer; events: BuiltCase['events']; packets: number; lastRecordSize: number } {
  const s = new Scenario();
  const pk = s.session({ client: at(C, port), startSec: T0 }, [v1('/latest/meta-data/instance-id', UA.curl)]);
  const recs = toRecords(pk, (ip) => ethernet(ip));
  return { file: classicPcap(recs, { linkType: LINKTYPE.ETHERNET }), events: s.events(), packets: recs.length, lastRecordSize: 16 + recs[recs.length - 1].data.length };
}

function errorCase(name: string, description: string, build: () => BuiltCase): EdgeCase {
  return { name, ext: 'pcap', description, build };
}

const NOT_READ = 'tshark reports the same damage as an error (this file checks the reader\'s error path)';

export const errorCases: EdgeCase[] = [
  errorCase('truncated-last-record', 'A complete v1 conversation whose last record (the final ACK) is cut in the middle of its data, as when tcpdump is still writing: the event is reported, then exit 2 (E_CAPTURE_TRUNCATED) after 9 packets.', () => {
    const g = goodPcap(43000);
    return { file: g.file.subarray(0, g.file.length - 20), events: g.events, expect: { exitCode: 2, error: 'E_CAPTURE_TRUNCATED', packetsRead: g.packets - 1 }, tsharkExcluded: NOT_READ };
  }),
  errorCase('truncated-record-header', 'A complete v1 conversation followed by 7 bytes of a next record header: the event is reported, then exit 2 (E_CAPTURE_TRUNCATED) after 10 packets.', () => {
    const g = goodPcap(43010);
    const partial = Buffer.from([0xf1, 0x53, 0x65, 0x65, 0x00, 0x00, 0x00]);
    return { file: Buffer.concat([g.file, partial]), events: g.events, expect: { exitCode: 2, error: 'E_CAPTURE_TRUNCATED', packetsRead: g.packets }, tsharkExcluded: NOT_READ };
  }),
  errorCase('garbage-after-header', 'A valid pcap file header followed by text that is no record (its first "record" claims about 1.7 GB): exit 2 (E_CAPTURE_MALFORMED) after 0 packets.', () => {
    const hdr = classicPcap([], { linkType: LINKTYPE.ETHERNET });
    const junk = Buffer.from('this is not a packet record, it is garbage after the header\n'.repeat(4));
    return { file: Buffer.concat([hdr, junk]), events: [], expect: { exitCode: 2, error: 'E_CAPTURE_MALFORMED', packetsRead: 0 }, tsharkExcluded: NOT_READ };
  }),
  errorCase('garbage-after-packets', 'A complete v1 conversation (10 packets) followed by pseudo-random bytes whose first record header claims 2 GiB: the event is reported, then exit 2 (E_CAPTURE_MALFORMED) after 10 packets.', () => {
    const g = goodPcap(43020);
    const junk = pseudoRandomBytes(200, 42);
    junk.writeUInt32LE(0x7fffffff, 8);
    junk.writeUInt32LE(0x7fffffff, 12);
    return { file: Buffer.concat([g.file, junk]), events: g.events, expect: { exitCode: 2, error: 'E_CAPTURE_MALFORMED', packetsRead: g.packets }, tsharkExcluded: NOT_READ };
  }),
  errorCase('empty-file', 'A zero-byte file: exit 2 (E_CAPTURE_EMPTY).', () => ({
    file: Buffer.alloc(0),
    events: [],
    expect: { exitCode: 2, error: 'E_CAPTURE_EMPTY', packetsRead: 0 },
    tsharkExcluded: 'tshark cannot open an empty file either',
  })),
  errorCase('header-only', 'A valid classic pcap header and no packets (a capture that saw nothing): exit 0, no events.', () => ({
    file: classicPcap([], { linkType: LINKTYPE.ETHERNET }),
    events: [],
    expect: { exitCode: 0, packetsRead: 0 },
  })),
];
