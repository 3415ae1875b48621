/** The parsers under fuzz, from src/ (the long runner bench/fuzz.mjs loads the same from dist/). */
import { readCaptureFile } from '../../src/source/capture-file.js';
import { CaptureFormatError } from '../../src/source/frame.js';
import { Decoder } from '../../src/decode/decoder.js';
import { Reassembler } from '../../src/tcp/reassembler.js';
import { FlowTable } from '../../src/tcp/flow-table.js';

const emptyFlowStats = () => ({ ...new FlowTable({ onFlow: () => null as never }).stats });
import { TCP_FIN, TCP_SYN } from '../../src/decode/packet.js';
import { HttpExchange } from '../../src/http/exchange.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import * as testkit from '../support/testkit/pcap-writer.js';

export const srcModules = {
  readCaptureFile,
  CaptureFormatError,
  Decoder,
  Reassembler,
  emptyFlowStats,
  TCP_FIN,
  TCP_SYN,
  HttpExchange,
  createPipeline,
  testkit,
};
