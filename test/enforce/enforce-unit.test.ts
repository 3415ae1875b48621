import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRequestHead, rejectedUnderRequired, unauthorizedResponse } from '../../src/enforce/request-head.js';
import { tableCommands } from '../../src/enforce/owned-table.js';
import { Responder, type Decision } from '../../src/enforce/responder.js';
import { cgroup2MountFrom, containerPid, findCgroup2Root, normalizeCgroupPath, resolveSelection } from '../../src/enforce/workload.js';
import { describeSummary } from '../../src/cli/enforce-command.js';
import { startImdsServer, type ImdsServer } from '../support/lab/imds-server.js';

const head = (text: string) => parseRequestHead(Buffer.from(text, 'latin1'));

describe('enforce: request heads', () => {
  it('reads method, path without query and whether a non-empty token is there', () => {
    expect(head('GET /latest/meta-data/?x=1 HTTP/1.1\r\nHost: a\r\n\r\n')).toMatchObject({ method: 'GET', path: '/latest/meta-data/', hasToken: false, bodyLength: 0 });
    expect(head('GET / HTTP/1.1\r\nx-AWS-ec2-metadata-token: abc\r\n\r\n')).toMatchObject({ hasToken: true });
    expect(head('GET / HTTP/1.1\r\nX-aws-ec2-metadata-token:   \r\n\r\n')).toMatchObject({ hasToken: false });
    expect(head('PUT /latest/api/token HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc')).toMatchObject({ method: 'PUT', bodyLength: 3, headLength: 53 });
    expect(head('GET / HTTP/1.1\r\nHost: a\r\n')).toBeNull();
    // a path is shown, never passed raw to a terminal (the shared sanitizer)
    expect(head('GET /a\x1b[2Jb HTTP/1.1\r\n\r\n')).toMatchObject({ path: '/a\\x1b[2Jb' });
    expect(head('hello\r\n\r\n')).toBe('bad');
    expect(head(`GET / HTTP/1.1\r\nX: ${'a'.repeat(20_000)}`)).toBe('too-large');
  });

  it('GET and HEAD without a token are what required rejects; PUT and tokened calls pass', () => {
    expect(rejectedUnderRequired({ method: 'GET', hasToken: false })).toBe(true);
    expect(rejectedUnderRequired({ method: 'HEAD', hasToken: false })).toBe(true);
    expect(rejectedUnderRequired({ method: 'GET', hasToken: true })).toBe(false);
    expect(rejectedUnderRequired({ method: 'PUT', hasToken: false })).toBe(false);
    expect(rejectedUnderRequired({ method: 'POST', hasToken: false })).toBe(false);
  });

  it('the 401 has an empty body and closes the connection', () => {
    const text = unauthorizedResponse(new Date(0)).toString('latin1');
    expect(text).toBe('HTTP/1.1 401 Unauthorized\r\nServer: EC2ws\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nConnection: close\r\n\r\n');
  });
});

describe('enforce: rules and selection', () => {
  it('builds an owned table redirecting only the workload, with imdswatch excluded when it is inside', () => {
    const lines = tableCommands({ table: 'imdswatch_enforce_1', rules: [{ workload: { path: 'system.slice/app.service', level: 2 }, port4: 4000, port6: null }], exclude: { path: 'system.slice/imdswatch.service', level: 2 } });
    expect(lines).toEqual([
      'add table inet imdswatch_enforce_1 { flags owner; }',
      'add chain inet imdswatch_enforce_1 out { type nat hook output priority -100; policy accept; }',
      'add rule inet imdswatch_enforce_1 out socket cgroupv2 level 2 "system.slice/imdswatch.service" accept',
      'add rule inet imdswatch_enforce_1 out socket cgroupv2 level 2 "system.slice/app.service" ip daddr 169.254.169.254 tcp dport 80 redirect to :4000',
    ]);
  });

  it('finds the cgroup v2 mount (hybrid layout) and refuses what is not cgroup v2', () => {
    const mounts = 'tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n';
    expect(cgroup2MountFrom(mounts)).toBe('/sys/fs/cgroup/unified');
    expect(cgroup2MountFrom('tmpfs /sys/fs/cgroup tmpfs rw 0 0\n')).toBeNull();
    expect(() => findCgroup2Root('/tmp')).toThrow(/not a cgroup v2 hierarchy/);
  });

  it('normalizes paths and refuses the root, .. and characters nft cannot take', () => {
    expect(normalizeCgroupPath('/a/b/')).toBe('a/b');
    expect(() => normalizeCgroupPath('/')).toThrow(/every process/);
    expect(() => normalizeCgroupPath('a/../b')).toThrow();
    expect(() => normalizeCgroupPath('a"; flush ruleset')).toThrow();
  });

  it('resolves a unit by its cgroup directory and a container through docker/podman inspect', () => {
    const root = mkdtempSync(join(tmpdir(), 'iwenf-cg-'));
    try {
      mkdirSync(join(root, 'system.slice', 'app.service'), { recursive: true });
      expect(resolveSelection(root, { kind: 'unit', name: 'app' })).toEqual({ label: 'unit:app.service', path: 'system.slice/app.service', level: 2 });
      expect(() => resolveSelection(root, { kind: 'unit', name: 'nope' })).toThrow(/nope.service has no cgroup/);
      expect(() => resolveSelection(root, { kind: 'cgroup', name: 'x/y' })).toThrow(/no cgroup x\/y/);
      expect(containerPid('web', (cmd) => (cmd === 'podman' ? '4242' : null))).toEqual({ pid: 4242, runtime: 'podman' });
      expect(containerPid('web', () => '0')).toBeNull();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('says what would break per workload', () => {
    const s = { workload: 'unit:app.service', cgroup: '/system.slice/app.service', rejected: 0, wouldReject: 2, passed: 5, calls: ['GET /latest/meta-data/ by /usr/bin/curl'] };
    expect(describeSummary(s, true)).toBe('unit:app.service: would break — 2 token-less calls would have been rejected (GET /latest/meta-data/ by /usr/bin/curl); 5 passed');
    expect(describeSummary({ ...s, wouldReject: 0 }, true)).toMatch(/ready for HttpTokens=required/);
  });
});

/** the responder alone on loopback, in front of the simulator (no root needed) */
describe('enforce: responder', () => {
  let sim: ImdsServer;
  let responder: Responder;
  let port = 0;
  const decisions: Decision[] = [];
  beforeAll(async () => {
    sim = await startImdsServer({ hosts: ['127.0.0.1'], port: 0 });
    const up = { host: '127.0.0.1', port: sim.port };
    responder = new Responder({ dryRun: false, upstream: { 4: up, 6: up }, onDecision: (d) => decisions.push(d) });
    port = (await responder.listen()).port4!;
  });
  afterAll(async () => {
    await responder?.close(0);
    await sim?.close();
  });

  /** send raw bytes on one connection, read until the responder closes it */
  const exchange = (data: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      let out = '';
      s.setEncoding('latin1').on('data', (d: string) => (out += d));
      s.on('close', () => resolve(out));
      s.on('error', reject);
      s.end(data);
    });

  it('answers a token-less GET 401 without asking IMDS, and passes a PUT and a tokened GET on one connection', async () => {
    const before = sim.stats().requests;
    expect(await exchange('GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(sim.stats().requests).toBe(before);
    // keep-alive: PUT, then GET with the token: both reach IMDS, both 200
    const put = 'PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: 0\r\n\r\n';
    const first = await new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      let out = '';
      s.setEncoding('latin1').on('data', (d: string) => {
        out += d;
        const m = /\r\n\r\n(.+)$/s.exec(out);
        if (m && !out.includes('meta-data-answer')) {
          out += 'meta-data-answer';
          s.end(`GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: ${m[1]}\r\n\r\n`);
        }
      });
      s.on('close', () => resolve(out));
      s.write(put);
    });
    expect(first.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    expect(decisions.map((d) => d.verdict)).toEqual(['rejected', 'passed', 'passed']);
  });

  it('a token-less GET after a passed request on the same connection gets 401 after the earlier answer', async () => {
    decisions.length = 0;
    const out = await exchange('PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\nGET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(out.indexOf('HTTP/1.1 200 OK')).toBe(0);
    expect(out.indexOf('HTTP/1.1 401 Unauthorized')).toBeGreaterThan(0);
    expect(decisions.map((d) => d.verdict)).toEqual(['passed', 'rejected']);
  });
});
