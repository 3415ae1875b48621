import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { groupId, MetricsServer } from '../../src/service/metrics-server.js';
import { Metrics } from '../../src/sinks/metrics.js';

/** src/service/metrics-server.ts on its own (the daemon against a port squatter: test/security/metrics-squatter.test.ts) */
describe('metrics server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdswatch-metrics-server-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('groupId: a number as it is, a name from the group file, null for an unknown group', () => {
    const f = join(dir, 'group');
    writeFileSync(f, 'root:x:0:\nimdswatch-metrics:x:998:prom\n');
    expect(groupId('4242', f)).toBe(4242);
    expect(groupId('imdswatch-metrics', f)).toBe(998);
    expect(groupId('nope', f)).toBeNull();
  });

  it('a taken port: the first attempt resolves (capture is not held), one warning, counted, retried until it is free', async () => {
    const squat = createServer();
    await new Promise<void>((r) => squat.listen(0, '127.0.0.1', () => r()));
    const port = (squat.address() as { port: number }).port;
    const lines: string[] = [];
    const log = { info: (_: unknown, m: string) => lines.push(`info ${m}`), warn: (_: unknown, m: string) => lines.push(`warn ${m}`) };
    const metrics = new Metrics();
    const server = new MetricsServer(metrics, log, 20);
    await server.startTcp(port, '127.0.0.1');
    expect(lines).toEqual([expect.stringMatching(/^warn cannot serve metrics on 127\.0\.0\.1:\d+ \(EADDRINUSE\): capture goes on/)]);
    await new Promise<void>((r) => squat.close(() => r()));
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (lines.some((l) => l.startsWith('info metrics on'))) {
          clearInterval(t);
          r();
        }
      }, 10);
    });
    expect(lines.filter((l) => l.startsWith('warn'))).toHaveLength(1);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/^imdswatch_metrics_listen_failures_total\{listener="tcp"\} [1-9]\d*$/m);
    await server.close();
  });
});
