/**
 * Child process for the stdin tests: reads a capture from fd 0 and prints JSON.
 * With IMDSWATCH_TEST_NONBLOCK=1 it first opens process.stdin, which puts a pipe
 * into non-blocking mode, so the reader meets EAGAIN.
 */
import { readCaptureFile } from '../../src/source/capture-file.js';
import { CaptureFormatError } from '../../src/source/frame.js';

if (process.env.IMDSWATCH_TEST_NONBLOCK === '1') {
  process.stdin.pause();
}
let sum = 0;
try {
  const stats = readCaptureFile('-', (f) => {
    sum += f.data[0];
  });
  process.stdout.write(JSON.stringify({ packets: stats.packets, bytes: stats.bytes, sum }));
} catch (err) {
  if (!(err instanceof CaptureFormatError)) throw err;
  process.stdout.write(JSON.stringify({ code: err.code, packetsRead: err.packetsRead, offset: err.offset }));
}
process.exit(0);
