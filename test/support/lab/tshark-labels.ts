import { run } from './proc.js';

/**
 * Labels for a capture, read with tshark (an independent decoder, not ours): one entry
 * per IMDS HTTP request in capture order, with the paired response's status.
 *
 *   tshark -r FILE -2 -Y http -T json -e frame.number -e tcp.stream
 *          -e http.request.method -e http.request.uri -e http.user_agent
 *          -e http.request.line -e http.response.code -e http.request_in
 *
 * Classification follows docs/imds-facts.md#classification: `PUT /latest/api/token` is "token"; a request with
 * an `X-aws-ec2-metadata-token` header (name case-insensitive) with a non-empty value
 * is "v2"; anything else is "v1". Header lines are inspected in memory only: no token
 * value ever leaves this function.
 */
export interface Label {
  version: 'v1' | 'v2' | 'token';
  method: string;
  path: string;
  status: number | null;
  userAgent: string | null;
}

export const TSHARK_ARGS = [
  '-2', '-Y', 'http', '-T', 'json',
  '-e', 'frame.number', '-e', 'tcp.stream',
  '-e', 'http.request.method', '-e', 'http.request.uri', '-e', 'http.user_agent',
  '-e', 'http.request.line', '-e', 'http.response.code', '-e', 'http.request_in',
];

type Fields = Record<string, string[] | undefined>;

const TOKEN_HEADER = /^x-aws-ec2-metadata-token[ \t]*:[ \t]*\S/i;

/** labels of one capture file; throws with code LAB_TSHARK_FAILED if tshark fails */
export async function tsharkLabels(file: string): Promise<Label[]> {
  const r = await run(['tshark', '-r', file, ...TSHARK_ARGS], { timeoutMs: 60_000 });
  if (r.code !== 0) {
    const err = new Error(`tshark failed on ${file} (${r.code}): ${r.stderr.trim().slice(0, 300)}`);
    (err as NodeJS.ErrnoException).code = 'LAB_TSHARK_FAILED';
    throw err;
  }
  const packets = JSON.parse(r.stdout || '[]') as Array<{ _source: { layers: Fields } }>;
  return labelsFromTsharkJson(packets.map((p) => p._source.layers));
}

/** pure part: tshark's per-frame field arrays → labels (exported for tests) */
export function labelsFromTsharkJson(frames: Fields[]): Label[] {
  const statusByRequestFrame = new Map<string, number>();
  for (const f of frames) {
    const codes = f['http.response.code'] ?? [];
    const reqs = f['http.request_in'] ?? [];
    reqs.forEach((req, i) => {
      const code = Number(codes[i]);
      if (Number.isFinite(code)) statusByRequestFrame.set(req, code);
    });
  }
  const labels: Array<Label & { frame: number }> = [];
  for (const f of frames) {
    const methods = f['http.request.method'] ?? [];
    if (methods.length === 0) continue;
    const frame = f['frame.number']?.[0] ?? '';
    const uris = f['http.request.uri'] ?? [];
    const uas = f['http.user_agent'] ?? [];
    const lines = f['http.request.line'] ?? [];
    // One frame can end several pipelined requests; tshark then repeats the fields.
    methods.forEach((method, i) => {
      const path = (uris[i] ?? '').split('?')[0];
      const v2 = lines.some((l) => TOKEN_HEADER.test(l));
      labels.push({
        frame: Number(frame),
        version: method === 'PUT' && path === '/latest/api/token' ? 'token' : v2 ? 'v2' : 'v1',
        method,
        path,
        status: methods.length === 1 ? (statusByRequestFrame.get(frame) ?? null) : null,
        userAgent: uas[i] ?? null,
      });
    });
  }
  labels.sort((a, b) => a.frame - b.frame);
  return labels.map(({ frame: _frame, ...rest }) => rest);
}
