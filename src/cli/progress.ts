/**
 * A one-line progress bar on stderr, only when stderr is a terminal and not in CI:
 * pipes, files and CI logs never get control characters.
 */
export interface Progress {
  update(done: number, total: number | null): void;
  done(): void;
}

export function progressEnabled(stream: NodeJS.WriteStream = process.stderr): boolean {
  return Boolean(stream.isTTY) && !process.env.CI && process.env.TERM !== 'dumb';
}

export function createProgress(label: string, minTotal = 32 * 1024 * 1024, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!progressEnabled(stream)) return { update() {}, done() {} };
  const started = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100) return;
      if (total !== null && total < minTotal) return;
      last = now;
      shown = true;
      const secs = Math.max((now - started) / 1000, 0.001);
      const rate = done / secs / 1e6;
      const width = 30;
      let line: string;
      if (total) {
        const frac = Math.min(done / total, 1);
        const fill = Math.round(frac * width);
        const eta = frac > 0 ? (secs / frac - secs).toFixed(0) : '?';
        line = `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${rate.toFixed(0)} MB/s eta ${eta}s`;
      } else {
        line = `${label} ${(done / 1e6).toFixed(0)} MB ${rate.toFixed(0)} MB/s`;
      }
      stream.write(`\r${line}\x1b[K`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}
