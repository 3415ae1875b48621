import { execFile } from 'node:child_process';

/** Result of one curl invocation: the last response's status/headers/body, plus per-URL write-out. */
export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  code: number;
  stderr: string;
}

/**
 * Run curl with `args` (URLs included). `-s -i` is always added; the response head is
 * parsed from the output (the last response when several URLs are given).
 */
export function curl(args: string[], opts: { prefix?: string[]; timeoutMs?: number } = {}): Promise<CurlResult> {
  const argv = [...(opts.prefix ?? []), 'curl', '-s', '-S', '-i', '--max-time', '5', ...args];
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { timeout: opts.timeoutMs ?? 15_000, encoding: 'latin1' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      const text = stdout;
      const start = text.lastIndexOf('HTTP/1.');
      const head = start >= 0 ? text.slice(start) : '';
      const split = head.indexOf('\r\n\r\n');
      const lines = (split >= 0 ? head.slice(0, split) : head).split('\r\n');
      const status = Number(lines[0]?.split(' ')[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status, headers, body: split >= 0 ? head.slice(split + 4) : '', code, stderr });
    });
  });
}
