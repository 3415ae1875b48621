import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { CliError } from './exit-codes.js';

/**
 * Where a command's output goes: stdout, or a file written next to its final name and
 * renamed into place only when complete, so a failure never leaves a half-written file.
 */
export interface Output {
  write(text: string): void;
  /** finish: rename the file into place (or nothing for stdout) */
  commit(): void;
  /** failure: remove the partial file */
  abort(): void;
}

export function openOutput(path: string | undefined): Output {
  if (!path || path === '-') {
    return {
      write: (t) => {
        writeAllSync(1, t);
      },
      commit() {},
      abort() {},
    };
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w', 0o600);
  } catch (err) {
    throw new CliError(`cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}): check that its directory exists and is writable`, 'E_OUTPUT');
  }
  let open = true;
  return {
    write: (t) => writeAllSync(fd, t),
    commit() {
      if (!open) return;
      open = false;
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, path);
    },
    abort() {
      if (!open) return;
      open = false;
      closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    },
  };
}

function writeAllSync(fd: number, text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw err;
    }
  }
}
