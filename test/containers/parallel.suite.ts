import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labAvailable } from '../support/lab/netns.js';
import { waitFor } from '../helpers/wait.js';
import { CI, createContainerHost, eventsOf, missingTools, startImdswatch, type ContainerHost, type EventLine, type RuntimeCli } from './host.js';
import { startDocker } from './docker.js';
import { PODMAN_RUN_FLAGS, startPodman } from './podman.js';

/**
 * Containers that call IMDS as their first command, started all at once (docs/design.md#attribution):
 * the real case of pods and containers fetching credentials in their entrypoint right after
 * start. imdswatch starts first, then the runtime, then N containers are run in parallel,
 * each `sh -c 'exec curl …'` (the container's own process is the caller, its network
 * namespace new). Every call must be held by the gate and named with its container.
 * Before the namespace fix, 2 of 5 Podman runs left calls unattributed and Docker named one
 * only passively.
 */
const N = Number(process.env.IMDSWATCH_PARALLEL_CONTAINERS ?? 8);
const V1 = 'exec curl -s -o /dev/null -m 10 http://169.254.169.254/latest/meta-data/instance-id';

interface Case {
  name: string;
  tools: string[];
  prefix: string;
  start(host: ContainerHost): Promise<{ cli: RuntimeCli; image: string; bind: { from: string; to: string }; runtime: string; runFlags: string[] }>;
  bindFor(host: ContainerHost): { from: string; to: string };
}

const CASES: Case[] = [
  {
    name: 'Docker',
    tools: ['dockerd', '/usr/bin/docker', 'containerd', 'runc', 'nsenter', 'iptables'],
    prefix: 'iwdkp',
    bindFor: (host) => ({ from: `/var/lib/${host.id}-docker`, to: '/var/lib/docker' }),
    start: async (host) => {
      const d = await startDocker(host);
      return { cli: d.cli, image: d.image, bind: d.bind, runtime: 'docker', runFlags: [] };
    },
  },
  {
    name: 'Podman',
    tools: ['podman', 'conmon', 'runc', 'nsenter', 'iptables', '/usr/lib/cni/bridge'],
    prefix: 'iwpmp',
    bindFor: (host) => ({ from: `/var/lib/${host.id}-podman/storage`, to: '/var/lib/containers/storage' }),
    start: async (host) => {
      const p = await startPodman(host);
      return { cli: p.cli, image: p.image, bind: p.bind, runtime: 'podman', runFlags: PODMAN_RUN_FLAGS };
    },
  },
];

for (const c of CASES) {
  const missing = missingTools(c.tools);
  const available = labAvailable() && missing.length === 0;
  describe.skipIf(!CI && !available)(`${c.name}: ${N} containers started at once, each calling IMDS first`, () => {
    let host: ContainerHost;
    const dir = mkdtempSync(join(tmpdir(), `iw-${c.prefix}-`));
    let events: EventLine[] = [];
    let ids: Map<string, string>;
    let runtime = '';

    beforeAll(async () => {
      expect(missing, `container runtime tools missing (run .ci/install-deps): ${missing.join(', ')}`).toEqual([]);
      host = await createContainerHost(c.prefix);
      const iw = await startImdswatch(host, dir, [c.bindFor(host)]);
      const rt = await c.start(host);
      runtime = rt.runtime;
      const names = Array.from({ length: N }, (_, i) => `first-call-${i}`);
      const runs = await Promise.all(names.map((name) => rt.cli(['run', '-d', '--name', name, ...rt.runFlags, rt.image, 'sh', '-c', V1], 120_000)));
      for (const r of runs) if (r.code !== 0) throw new Error(`${c.name} run failed: ${r.stderr}`);
      ids = new Map(runs.map((r, i) => [r.stdout.trim().split('\n').pop()!, names[i]!]));
      await waitFor(() => eventsOf(iw.out()).length >= N, 60_000, `${N} events`).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_000));
      await iw.stop('SIGTERM');
      events = eventsOf(iw.out());
    }, 400_000);

    afterAll(async () => {
      await host?.teardown();
      rmSync(dir, { recursive: true, force: true });
    }, 120_000);

    it('holds every call at the gate and names its container', () => {
      const seen = events.map((l) => ({ attribution: l.event.attribution, exe: l.event.process?.exe ?? null, id: l.event.process?.container?.id ?? null, name: l.event.process?.container?.name ?? null }));
      console.log(`${c.name}, ${N} at once: ${JSON.stringify(seen.map((s) => `${s.attribution}:${s.name}`))}`);
      expect(seen).toHaveLength(N);
      for (const s of seen) expect(s).toMatchObject({ attribution: 'gate', exe: '/usr/bin/curl' });
      expect(new Set(seen.map((s) => s.id))).toEqual(new Set(ids.keys()));
      for (const s of seen) expect(s.name).toBe(ids.get(s.id!));
      for (const l of events) expect(l.event.process?.container).toMatchObject({ runtime });
    });
  });
}
