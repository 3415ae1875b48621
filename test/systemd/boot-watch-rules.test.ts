// The boot watch on real firewall rules (docs/design.md#boot-watch), in a private network
// namespace: systemd/imdswatch-generator arms the counting chain only when it should,
// counts real IMDS SYNs per uid, the daemon's take-over (dist/live/boot-watch.js) reads
// and removes it, and `imdswatch gate --remove` removes it (kept only after a failed run).
// Root, iptables and a built dist/ needed; under CI=true their absence fails the test.
// Run under the root-test lock (COORDINATION.md).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const GEN = join(REPO, 'systemd/imdswatch-generator');
const CLI = join(REPO, 'dist/cli/main.js');
const which = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;
const missing = Object.entries({ root: process.getuid?.() === 0, 'iptables-restore': which('iptables-restore'), curl: which('curl'), unshare: which('unshare'), 'dist/ (npm run build)': existsSync(CLI) })
  .filter(([, ok]) => !ok).map(([k]) => k);
if (missing.length > 0 && process.env.CI === 'true') throw new Error(`boot-watch rules test: missing under CI: ${missing.join(', ')}`);

const tmp = mkdtempSync(join(tmpdir(), `imdswatch-bootwatch-${process.pid}-`));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** bash SCRIPT in a fresh network namespace with a veth holding 169.254.1.2/16 (SYNs to IMDS leave, unanswered) */
function inNetns(script: string) {
  const wants = join(tmp, 'wants');
  writeFileSync(wants, '');
  const pre = [
    'set -e',
    'ip link add v0 type veth peer name v1; ip addr add 169.254.1.2/16 dev v0; ip link set v0 up; ip link set v1 up; ip link set lo up',
    `export IMDSWATCH_WANTS=${wants} IMDSWATCH_READY_FILE=${join(tmp, 'no-ready')}`,
    `gen() { sh ${GEN} "$@"; }`,
    'syn() { timeout 1 curl -s -o /dev/null http://169.254.169.254/latest/meta-data/ || true; }',
    'chains() { iptables -t mangle -S | grep -c -e "-N IMDSWATCH-EARLY" || true; }',
  ].join('\n');
  const r = spawnSync('unshare', ['--net', 'bash', '-c', `${pre}\n${script}`], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

describe.skipIf(missing.length > 0)('boot watch rules (private network namespace)', () => {
  it('arms when enabled and nothing watches; counts SYNs per uid; the take-over reads them and removes the chains', () => {
    const takeOver = `import(${JSON.stringify(join(REPO, 'dist/live/boot-watch.js'))}).then((m) => console.log("TAKEOVER " + JSON.stringify(m.takeOverBootWatch({ bootId: null, earlier: [] }).fields)))`;
    const r = inNetns([
      'gen /tmp/a /tmp/b /tmp/c',
      'echo "armed=$(chains)"',
      'gen; echo "again=$(iptables -t mangle -S OUTPUT | grep -c IMDSWATCH-EARLY)"',
      'syn; syn; setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "$(declare -f syn); syn"',
      `node -e '${takeOver}'`,
      'echo "after=$(chains) jumps=$(iptables -t mangle -S | grep -c IMDSWATCH || true)"',
    ].join('\n'));
    expect(r.status, r.out).toBe(0);
    expect(r.stdout).toContain('armed=2\n');
    expect(r.stdout).toContain('again=1\n'); // a second run (daemon-reload) adds nothing
    const f = JSON.parse(/TAKEOVER (.*)/.exec(r.stdout)![1]!);
    // curl's SYN to an unanswering address is sent again after 1 s at most once within `timeout 1`: count SYNs, >= connections
    expect(f.unwatched.source).toBe('early-rule');
    const byUid = Object.fromEntries(f.unwatched.makers.map((m: { uid: number | null; count: number }) => [String(m.uid), m.count]));
    expect(byUid['0']).toBeGreaterThanOrEqual(2);
    expect(byUid['65534']).toBeGreaterThanOrEqual(1);
    expect(f.startKind).toBe('boot');
    expect(r.stdout).toContain('after=0 jumps=0\n');
  });

  it('does not arm when not enabled, when the daemon is ready, or when the gate is up; --rearm arms even beside the gate', () => {
    const r = inNetns([
      `IMDSWATCH_WANTS=${join(tmp, 'not-there')} gen; echo "disabled=$(chains)"`,
      `touch ${join(tmp, 'ready')}; IMDSWATCH_READY_FILE=${join(tmp, 'ready')} gen; echo "ready=$(chains)"`,
      'iptables -t mangle -N IMDSWATCH; gen; echo "gate=$(chains)"',
      'gen --rearm; echo "rearm=$(chains)"',
      'iptables -t mangle -S | grep -o "kind=[a-z]*" | head -1',
    ].join('\n'));
    expect(r.status, r.out).toBe(0);
    expect(r.stdout).toContain('disabled=0\nready=0\ngate=0\nrearm=2\nkind=restart\n');
  });

  it('`gate --remove` removes the chains; `gate --remove --after-stop` (the unit, SERVICE_RESULT set) keeps what the unit re-armed', () => {
    const r = inNetns([
      'gen',
      `SERVICE_RESULT=exit-code node ${CLI} gate --remove --after-stop; echo "failed=$(chains)"`,
      `SERVICE_RESULT=success node ${CLI} gate --remove --after-stop; echo "success=$(chains)"`,
      `node ${CLI} gate --remove --after-stop; echo "no-unit=$(chains)"`,
      'gen',
      `node ${CLI} gate | grep -c "boot watch chain IMDSWATCH-EARLY armed" || true`,
      `node ${CLI} gate --remove; echo "manual=$(chains) jumps=$(iptables -t mangle -S | grep -c IMDSWATCH || true) v6=$(ip6tables -t mangle -S | grep -c IMDSWATCH || true)"`,
    ].join('\n'));
    expect(r.status, r.out).toBe(0);
    expect(r.stdout).toContain('failed=2\nsuccess=2\nno-unit=0\n');
    expect(r.stdout).toMatch(/\n[12]\nmanual=0 jumps=0 v6=0\n/);
  });
});
