/** Child process for the stdin test: reads a capture from fd 0 and prints JSON. */
import { readCaptureFile } from '../../src/source/capture-file.js';
import { CaptureFormatError } from '../../src/source/frame.js';

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
