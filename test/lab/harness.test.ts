import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupStale, createLab, labAvailable, listLabNamespaces, type Lab } from '../support/lab/netns.js';
import { run } from '../support/lab/proc.js';
import { curl } from './curl.js';

// The harness end to end: real namespaces, the simulator inside, curl as the client.
// Needs root and a build (build/lab/*.js); namespaces carry this process's pid.

const PREFIX = 'iwlabt';
const TTL = 'X-aws-ec2-metadata-token-ttl-seconds: 60';
const IMDS4 = 'http://169.254.169.254';
const IMDS6 = 'http://[fd00:ec2::254]';
const mine = async (): Promise<string[]> =>
  (await listLabNamespaces(PREFIX)).filter((n) => n.startsWith(`${PREFIX}-${process.pid}-`));

describe.skipIf(!labAvailable())('lab harness', () => {
  let lab: Lab;
  let required: Lab;
  const dir = mkdtempSync(join(tmpdir(), 'iwlab-'));

  beforeAll(async () => {
    lab = await createLab({ prefix: PREFIX, hopLimitOnTokenPut: true, proxy: true });
    required = await createLab({ prefix: PREFIX, tokens: 'required' });
  });

  afterAll(async () => {
    await lab?.teardown();
    await required?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  const inNs = (l: Lab, n: 'client' | 'container') => ({ prefix: l.execPrefix(n) });

  it('serves the client namespace over IPv4 and IPv6', async () => {
    const v4 = await curl([`${IMDS4}/latest/meta-data/instance-id`], inNs(lab, 'client'));
    expect(v4.status).toBe(200);
    expect(v4.headers.server).toBe('EC2ws');
    expect(v4.body).toMatch(/^i-/);
    const v6 = await curl([`${IMDS6}/latest/meta-data/placement/region`], inNs(lab, 'client'));
    expect(v6.status).toBe(200);
    expect(v6.body).toBe('us-east-1');
  });

  it('routes the container namespace to IMDS through the client namespace', async () => {
    for (const base of [IMDS4, IMDS6]) {
      const r = await curl([`${base}/latest/meta-data/ami-id`], inNs(lab, 'container'));
      expect(r.status).toBe(200);
    }
  });

  it('gives the client a token but not the container one hop further (TTL 1 on the PUT answer)', async () => {
    for (const base of [IMDS4, IMDS6]) {
      const near = await curl(['-X', 'PUT', '-H', TTL, `${base}/latest/api/token`], inNs(lab, 'client'));
      expect(near.status).toBe(200);
      expect(near.body.length).toBeGreaterThan(30);
      const far = await curl(['--max-time', '2', '-X', 'PUT', '-H', TTL, `${base}/latest/api/token`], inNs(lab, 'container'));
      expect(far.code).toBe(28); // curl: operation timed out, no answer ever arrived
      expect(far.status).toBe(0);
    }
    // The simulator did answer all four: the loss is on the path, as on EC2.
    expect(lab.serverLog().filter((l) => l === 'PUT /latest/api/token 200').length).toBeGreaterThanOrEqual(4);
  });

  it('has no route anywhere but IMDS, so other addresses fail at once', async () => {
    for (const n of ['client', 'container'] as const) {
      const r = await curl(['--max-time', '5', 'http://10.0.0.1/'], inNs(lab, n));
      expect(r.code).toBe(7); // could not connect (ENETUNREACH), not a timeout (28)
      const get = await lab.run(n, ['ip', 'route', 'get', '1.1.1.1']);
      expect(get.code).not.toBe(0);
      expect(get.stderr).toMatch(/unreachable/i);
      const def = await lab.run(n, ['ip', 'route', 'show', 'default']);
      expect(def.stdout.trim()).toBe('');
    }
  });

  it('refuses a token PUT through the X-Forwarded-For proxy (403) but serves GETs', async () => {
    expect(lab.proxyUrl).not.toBeNull();
    const put = await curl(['-x', lab.proxyUrl!, '-X', 'PUT', '-H', TTL, `${IMDS4}/latest/api/token`], inNs(lab, 'client'));
    expect(put.status).toBe(403);
    const get = await curl(['-x', lab.proxyUrl!, `${IMDS4}/latest/meta-data/instance-type`], inNs(lab, 'client'));
    expect(get.status).toBe(200);
    expect(get.body).toBe('t3.micro');
  });

  it('answers 401 to a token-less GET in required mode, 200 with a token', async () => {
    const v1 = await curl([`${IMDS4}/latest/meta-data/instance-id`], inNs(required, 'client'));
    expect(v1.status).toBe(401);
    const t = await curl(['-X', 'PUT', '-H', TTL, `${IMDS4}/latest/api/token`], inNs(required, 'client'));
    const v2 = await curl(['-H', `X-aws-ec2-metadata-token: ${t.body}`, `${IMDS4}/latest/meta-data/instance-id`], inNs(required, 'client'));
    expect(v2.status).toBe(200);
    expect(required.serverLog().join('\n')).not.toContain(t.body);
  });

  it('captures with tcpdump: -i any gives SLL2 (276), the veth gives Ethernet (1)', async () => {
    for (const [iface, linktype] of [['any', 276], ['veth', 1]] as const) {
      const file = join(dir, `${iface}.pcap`);
      const cap = await lab.capture('client', { file, iface });
      await curl([`${IMDS4}/latest/meta-data/mac`], inNs(lab, 'client'));
      await cap.stop();
      const bytes = readFileSync(file);
      expect(bytes.readUInt32LE(20)).toBe(linktype);
      const r = await run(['tshark', '-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']);
      expect(r.stdout.trim()).toBe('/latest/meta-data/mac');
    }
  });

  it('tears down on a failed start and on teardown, leaving no namespaces', async () => {
    const before = (await mine()).length;
    await expect(createLab({ prefix: PREFIX, tokens: 'bogus' as 'required' })).rejects.toMatchObject({ code: 'LAB_DAEMON_FAILED' });
    expect((await mine()).length).toBe(before);

    const extra = await createLab({ prefix: PREFIX, server: false });
    expect((await mine()).length).toBe(before + 3);
    await extra.teardown();
    await extra.teardown(); // idempotent
    expect((await mine()).length).toBe(before);
  });

  it('cleanupStale removes namespaces of dead owners only', async () => {
    const stale = `${PREFIX}-4194301-1-imds`;
    await run(['ip', 'netns', 'add', stale]);
    const removed = await cleanupStale(PREFIX);
    expect(removed).toContain(stale);
    expect(await listLabNamespaces(PREFIX)).not.toContain(stale);
    expect((await mine()).length).toBe(6); // the two live labs survive
  });
});
