import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** the project's own addon (native/sockdiag): sock_diag, the /proc scanner and reader, mallocTune */
export const ADDON_RELATIVE_PATH = 'native/sockdiag/build/Release/sockdiag.node';

/** the package root: the nearest directory above this module holding the built addon (src/ under vitest, dist/ at run time) */
export function findAddonPath(from = dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, ADDON_RELATIVE_PATH);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}
