import { readFileSync } from 'node:fs';

/** imdswatch's version, from the package.json beside dist/ ("unknown" if it cannot be read) */
export const VERSION: string = (() => {
  try {
    const v = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : 'unknown';
  } catch {
    return 'unknown';
  }
})();
