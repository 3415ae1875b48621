// The boot test (test/systemd/boot/boot-test.sh): install.sh into a minimal Debian,
// boot it under systemd-nspawn, an early-boot unit calls IMDSv1, the report inside
// must name it; shutdown leaves no gate rule, uninstall leaves nothing.
// Slow (about 20 s with the cached tree, plus about 3 min for the first debootstrap):
// runs when IMDSWATCH_BOOT_TEST=1 (set by .ci/run), as root, after `npm run build`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('./boot/boot-test.sh', import.meta.url));
const enabled = process.env.IMDSWATCH_BOOT_TEST === '1';

describe.skipIf(!enabled)('boot test', () => {
  it('catches an early-boot IMDSv1 call, then uninstalls without a trace', () => {
    const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8', timeout: 14 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    const out = `${r.stdout}${r.stderr}`;
    expect(out, out).toContain('BOOT TEST PASS');
    expect(r.status, out).toBe(0);
  }, 15 * 60_000);
});
