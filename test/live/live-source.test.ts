import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// #13: live-source.ts merged into the one LiveSession (src/live/live-session.ts)
import { LiveSession } from '../../src/live/live-session.js';
import type { FlowInfo } from '../../src/tcp/stream.js';

/** attributionFor without gate or capture: the passive path against a real loopback connection. */
describe('LiveSession attributionFor (passive path)', () => {
  let server: Server;
  let child: ChildProcess;
  let live: LiveSession;
  let flow: FlowInfo;
  const warnings: string[] = [];

  beforeAll(async () => {
    server = createServer(() => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const accepted = new Promise<number>((resolve) => server.once('connection', (s) => resolve(s.remotePort!)));
    child = spawn(process.execPath, ['-e', `require('net').connect(${port}, '127.0.0.1'); setTimeout(() => {}, 60000)`], { stdio: 'ignore' });
    const clientPort = await accepted;
    const now = Date.now();
    flow = {
      key: `127.0.0.1|${clientPort}|127.0.0.1|${port}`,
      client: { ip: '127.0.0.1', port: clientPort },
      server: { ip: '127.0.0.1', port },
      ipVersion: 4,
      sawSyn: false,
      sec: Math.floor(now / 1000),
      nsec: (now % 1000) * 1e6,
    };
    live = LiveSession.start({ interfaces: [], gate: false, capture: false, queueNum: 7, onEvent: () => {}, onWarning: (m) => warnings.push(m) });
  });
  afterAll(() => {
    live?.stop();
    child?.kill('SIGKILL');
    server?.close();
  });

  it('finds a live connection passively', () => {
    const r = live.attributionFor(flow);
    expect(r.attribution).toBe('passive');
    expect(r.process?.pid).toBe(child.pid);
  });

  it("answers 'none' for a flow whose socket is gone", () => {
    const r = live.attributionFor({ ...flow, client: { ip: '127.0.0.1', port: 1 }, key: 'x' });
    expect(r).toEqual({ process: null, attribution: 'none' });
    expect(live.stats().attribution).toEqual({ gate: 0, passive: 1, none: 1 });
    expect(live.gateActive).toBe(false);
    expect(warnings).toEqual([]);
  });
});
