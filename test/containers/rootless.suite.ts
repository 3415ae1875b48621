import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labAvailable } from '../support/lab/netns.js';
import { waitFor } from '../helpers/wait.js';
import { CI, createContainerHost, eventsOf, missingTools, report, runWaiting, startImdswatch, type ContainerHost, type EventLine } from './host.js';
import { startRootlessPodman, type RootlessPodman } from './rootless.js';
import { PODMAN_RUN_FLAGS } from './podman.js';
import { IMAGE_NAME } from './image.js';

/**
 * Rootless Podman (#10 item 3): the container's connection leaves the host from
 * slirp4netns, so the socket the gate holds is slirp4netns's. The event must name the
 * process inside the container (found through the rootless container's own socket table),
 * the container (from its conmon), the in-container user, and say the call came through
 * the rootless network proxy; the report must not tell anyone to fix slirp4netns.
 */
const missing = missingTools(['podman', 'slirp4netns', 'newuidmap', 'newgidmap', 'runc', 'conmon', 'nsenter', 'setpriv', 'useradd']);
const available = labAvailable() && missing.length === 0;
const V1 = 'exec curl -s -o /dev/null -m 5 http://169.254.169.254/latest/meta-data/instance-id';

describe.skipIf(!CI && !available)('Podman rootless (slirp4netns), started after imdswatch', () => {
  let host: ContainerHost;
  let rl: RootlessPodman;
  const dir = mkdtempSync(join(tmpdir(), 'iw-rootless-'));
  let out = '';
  let state = '';
  let verdict: ReturnType<typeof report>;
  let c: { id: string; pid: number };

  beforeAll(async () => {
    expect(missing, `container runtime tools missing (run .ci/install-deps): ${missing.join(', ')}`).toEqual([]);
    host = await createContainerHost('iwrl');
    const t0 = Date.now();
    const iw = await startImdswatch(host, dir, []);
    rl = await startRootlessPodman(host);
    const w = await runWaiting(rl.cli, 'rootless podman', IMAGE_NAME, 'billing-api', '1000:1000', V1, PODMAN_RUN_FLAGS);
    c = w;
    await w.go();
    await waitFor(() => eventsOf(iw.out()).length >= 1, 20_000, 'the rootless billing-api event');
    await new Promise((r) => setTimeout(r, 1_500));
    await iw.stop('SIGTERM');
    out = iw.out();
    state = readFileSync(iw.stateFile, 'utf8');
    verdict = report(iw.stateFile);
    console.log(`podman rootless: set-up and run in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 300_000);

  afterAll(async () => {
    await host?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('names the process inside the container, the container and the user, and the proxy it came through', () => {
    const evs = eventsOf(out);
    console.log(`podman rootless events: ${JSON.stringify(evs.map(summary))}`);
    expect(evs).toHaveLength(1);
    const e = evs[0]!.event;
    expect(e).toMatchObject({ version: 'v1', attribution: 'gate' });
    expect(e.process).toMatchObject({ pid: c.pid, exe: '/usr/bin/curl', user: 'billing' });
    expect(e.process!.container).toEqual({ runtime: 'podman', id: c.id, name: 'billing-api' });
    expect((e.process as unknown as { via: unknown }).via).toMatchObject({ kind: 'rootless-network-proxy', exe: '/usr/bin/slirp4netns' });
  });

  it('no capture loss; the report names billing-api and never slirp4netns', () => {
    expect(JSON.parse(state).drops).toMatchObject({ pcap: 0 });
    expect(verdict.text).toMatch(/VERDICT: NOT READY/);
    expect(verdict.text).toContain('billing-api');
    expect(verdict.text).not.toMatch(/slirp4netns/);
  });
});

function summary(l: EventLine): Record<string, unknown> {
  const p = l.event.process as (EventLine['event']['process'] & { via?: unknown }) | null;
  return { v: l.event.version, attribution: l.event.attribution, pid: p?.pid, exe: p?.exe, uid: p?.uid, user: p?.user, container: p?.container, via: p?.via };
}
