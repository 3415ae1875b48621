import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { run, startDaemon, type Daemon, type RunResult } from '../support/lab/proc.js';
import { npmModule, prepare } from '../support/lab/real-clients.js';
import { REPO_ROOT } from '../support/repo-root.js';
import { cgroup2MountFrom } from '../../src/enforce/workload.js';

/**
 * Real SDKs under `imdswatch enforce` (docs/design.md#enforce): a release that uses tokens
 * keeps working in the enforced group, and a release without token support fails exactly as
 * it fails against IMDS with HttpTokens=required (the lab simulator in `required` mode, a
 * second lab). Clients: JavaScript SDK v2 aws-sdk@2.574.0 (the last without tokens) and
 * 2.575.0 (the first with), installed into the record cache (test/support/lab/real-clients.ts);
 * botocore from Debian's python3-botocore.
 */
const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const ROOT = cgroup2MountFrom(readFileSync('/proc/self/mounts', 'utf8'));
const PY = '/usr/bin/python3';
const available = labAvailable() && ROOT !== null && existsSync(CLI) && existsSync(PY);
const GROUP = `iwenfs-${process.pid}`;
const OLD = '2.574.0';
const NEW = '2.575.0';
const done = "(e, c) => { console.log(e ? 'error ' + e.code + ' ' + e.statusCode : 'ok'); }";
const js = (v: string): string[] => [process.execPath, '-e', `const AWS = require(${JSON.stringify(`${npmModule(`aws-sdk@${v}`)}/global`)}); new AWS.EC2MetadataCredentials({ maxRetries: 0 }).get(${done});`];
const BOTOCORE = [PY, '-c', "import botocore.session; c = botocore.session.get_session().get_credentials(); print('credentials', c is not None and c.method)"];

describe.skipIf(!available)('imdswatch enforce with real SDKs', () => {
  let lab: Lab;
  let required: Lab;
  const daemons: Daemon[] = [];
  const inGroup = (l: Lab, argv: string[], group: boolean): Promise<RunResult> =>
    run(['nsenter', `--net=/run/netns/${l.names.client}`, 'sh', '-c', `${group ? `echo $$ > ${join(ROOT!, GROUP, 'cgroup.procs')} && ` : ''}exec "$@"`, 'sh', ...argv], {
      timeoutMs: 60_000,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/nonexistent' },
    });

  beforeAll(async () => {
    for (const v of [OLD, NEW]) await prepare({ npm: `aws-sdk@${v}` }, REPO_ROOT);
    lab = await createLab({ prefix: 'iwenfs', connection: 'close' });
    required = await createLab({ prefix: 'iwenfr', connection: 'close', tokens: 'required' });
    mkdirSync(join(ROOT!, GROUP));
  }, 900_000);
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop('SIGTERM').catch(() => undefined);
  });
  afterAll(async () => {
    await lab?.teardown();
    await required?.teardown();
    if (ROOT && existsSync(join(ROOT, GROUP))) rmdirSync(join(ROOT, GROUP));
  });

  it('a token-using SDK works in the group; a release without tokens fails there as it fails under HttpTokens=required', async () => {
    // reference: what each client does against IMDS with required, and with optional
    const underRequired = { old: (await inGroup(required, js(OLD), false)).stdout.trim(), new: (await inGroup(required, js(NEW), false)).stdout.trim(), boto: (await inGroup(required, BOTOCORE, false)).stdout.trim() };
    expect(underRequired).toEqual({ old: expect.stringMatching(/^error/), new: 'ok', boto: 'credentials iam-role' });
    expect((await inGroup(lab, js(OLD), true)).stdout.trim()).toBe('ok');

    const d = await startDaemon(['nsenter', `--net=/run/netns/${lab.names.client}`, process.execPath, CLI, 'enforce', '--cgroup', GROUP], /"type":"enforce-ready"/, { timeoutMs: 30_000 });
    daemons.push(d);
    const enforced = { old: (await inGroup(lab, js(OLD), true)).stdout.trim(), new: (await inGroup(lab, js(NEW), true)).stdout.trim(), boto: (await inGroup(lab, BOTOCORE, true)).stdout.trim() };
    expect(enforced).toEqual(underRequired);
    // outside the group the old release still works
    expect((await inGroup(lab, js(OLD), false)).stdout.trim()).toBe('ok');
    await d.stop('SIGTERM');
    const evs = d.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const rejected = evs.filter((e) => e.type === 'enforce');
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.every((e) => e.exe === process.execPath && e.verdict === 'rejected')).toBe(true);
    expect(d.lines.join('\n')).toMatch(/cgroup:\/iwenfs-\d+: broke — \d+ token-less calls? were rejected \(GET \/latest\/meta-data\/iam\/security-credentials\/ by /);
  }, 300_000);
});
