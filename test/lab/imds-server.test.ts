import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImdsServer, type ImdsServer } from '../support/lab/imds-server.js';
import { curl } from './curl.js';

// The simulator driven by a real HTTP client (curl) over loopback. The netns variant is
// in harness.test.ts.

const TTL = 'X-aws-ec2-metadata-token-ttl-seconds';
const TOK = 'X-aws-ec2-metadata-token';

let clock = 1_700_000_000_000;
const logLines: string[] = [];
let optional: ImdsServer;
let required: ImdsServer;
let closing: ImdsServer;
let base: string;
let baseRequired: string;
let baseClose: string;

beforeAll(async () => {
  const common = { hosts: ['127.0.0.1'], port: 0, now: () => clock };
  optional = await startImdsServer({ ...common, log: (l) => logLines.push(l) });
  required = await startImdsServer({ ...common, tokens: 'required' });
  closing = await startImdsServer({ ...common, connection: 'close' });
  base = `http://127.0.0.1:${optional.port}`;
  baseRequired = `http://127.0.0.1:${required.port}`;
  baseClose = `http://127.0.0.1:${closing.port}`;
});

afterAll(async () => {
  await Promise.all([optional?.close(), required?.close(), closing?.close()]);
});

async function token(b: string, ttl = '21600'): Promise<string> {
  const r = await curl(['-X', 'PUT', '-H', `${TTL}: ${ttl}`, `${b}/latest/api/token`]);
  expect(r.status).toBe(200);
  return r.body;
}

describe('token PUT', () => {
  it('issues a token for a TTL in 1..21600 and echoes the TTL', async () => {
    for (const ttl of ['1', '300', '21600']) {
      const r = await curl(['-X', 'PUT', '-H', `${TTL}: ${ttl}`, `${base}/latest/api/token`]);
      expect(r.status).toBe(200);
      expect(r.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe(ttl);
      expect(r.headers.server).toBe('EC2ws');
      expect(r.body.length).toBeGreaterThan(30);
    }
  });

  it.each([['0'], ['21601'], ['-1'], ['abc'], ['1.5'], ['']])('answers 400 to TTL %j', async (ttl) => {
    const header = ttl === '' ? `${TTL};` : `${TTL}: ${ttl}`;
    const r = await curl(['-X', 'PUT', '-H', header, `${base}/latest/api/token`]);
    expect(r.status).toBe(400);
    expect(r.headers.server).toBe('EC2ws');
  });

  it('answers 400 without the TTL header', async () => {
    expect((await curl(['-X', 'PUT', `${base}/latest/api/token`])).status).toBe(400);
  });

  it('answers 403 to a PUT carrying X-Forwarded-For, even with a valid TTL', async () => {
    const r = await curl(['-X', 'PUT', '-H', `${TTL}: 60`, '-H', 'X-Forwarded-For: 10.0.0.7', `${base}/latest/api/token`]);
    expect(r.status).toBe(403);
    expect(r.body).not.toMatch(/^AQAEA/);
  });

  it('forwardedFor (a transparent X-Forwarded-For proxy in the path): every token PUT 403, metadata still served', async () => {
    const fwd = await startImdsServer({ hosts: ['127.0.0.1'], port: 0, forwardedFor: true });
    try {
      const b = `http://127.0.0.1:${fwd.port}`;
      const put = await curl(['-X', 'PUT', '-H', `${TTL}: 60`, `${b}/latest/api/token`]);
      expect(put.status).toBe(403);
      expect(put.body).not.toMatch(/^AQAEA/);
      expect((await curl([`${b}/latest/meta-data/instance-id`])).status).toBe(200);
      expect(fwd.stats().tokensIssued).toBe(0);
    } finally {
      await fwd.close();
    }
  });

  it('answers 403 to a PUT on a versioned token path and 405 elsewhere', async () => {
    expect((await curl(['-X', 'PUT', '-H', `${TTL}: 60`, `${base}/2021-03-23/api/token`])).status).toBe(403);
    expect((await curl(['-X', 'PUT', '-H', `${TTL}: 60`, `${base}/latest/meta-data/`])).status).toBe(405);
  });

  it('makes opaque tokens of varied length and ending', async () => {
    // Six at a time: 30 parallel curls on a loaded 2-core machine hit curl's 5 s limit.
    const tokens: string[] = [];
    for (let i = 0; i < 5; i++) tokens.push(...(await Promise.all(Array.from({ length: 6 }, () => token(base)))));
    expect(new Set(tokens).size).toBe(30);
    expect(new Set(tokens.map((t) => t.length)).size).toBeGreaterThan(3);
    expect(tokens.some((t) => !t.endsWith('=='))).toBe(true);
    expect(tokens.every((t) => /^[A-Za-z0-9+/_=-]+$/.test(t))).toBe(true);
  });
});

describe('metadata GET/HEAD', () => {
  const tree: Array<[string, RegExp]> = [
    ['/', /latest/],
    ['/latest/', /meta-data\//],
    ['/latest/meta-data/', /^ami-id$/m],
    ['/latest/meta-data/ami-id', /^ami-[0-9a-f]+$/],
    ['/latest/meta-data/instance-id', /^i-[0-9a-f]+$/],
    ['/latest/meta-data/instance-type', /^t3\.micro$/],
    ['/latest/meta-data/local-ipv4', /^\d+\.\d+\.\d+\.\d+$/],
    ['/latest/meta-data/mac', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/],
    ['/latest/meta-data/placement/region', /^us-east-1$/],
    ['/latest/meta-data/placement/availability-zone', /^us-east-1a$/],
    ['/latest/meta-data/iam/info', /"InstanceProfileArn"/],
    ['/latest/meta-data/iam/security-credentials/', /^imdswatch-lab-role$/],
    ['/latest/meta-data/iam/security-credentials/imdswatch-lab-role', /"AccessKeyId": "ASIA/],
    ['/latest/dynamic/instance-identity/document', /"instanceId": "i-/],
    ['/latest/user-data', /imdswatch lab user-data/],
  ];
  it.each(tree)('GET %s → 200', async (path, body) => {
    const r = await curl([`${base}${path}`]);
    expect(r.status).toBe(200);
    expect(r.headers.server).toBe('EC2ws');
    expect(r.body).toMatch(body);
  });

  it('serves credentials whose JSON an SDK can parse', async () => {
    const r = await curl([`${base}/latest/meta-data/iam/security-credentials/imdswatch-lab-role`]);
    const doc = JSON.parse(r.body) as Record<string, string>;
    expect(doc.Code).toBe('Success');
    expect(Date.parse(doc.Expiration)).toBeGreaterThan(clock);
  });

  it.each([['/nope'], ['/latest/meta-data/nope'], ['/latest/meta-data/ami-id/'], ['/latest/meta-data/iam/security-credentials/other-role']])(
    'GET %s → 404',
    async (path) => {
      const r = await curl([`${base}${path}`]);
      expect(r.status).toBe(404);
      expect(r.headers.server).toBe('EC2ws');
    },
  );

  it('answers HEAD with the headers and no body', async () => {
    const r = await curl(['-I', `${base}/latest/meta-data/instance-id`]);
    expect(r.status).toBe(200);
    expect(Number(r.headers['content-length'])).toBeGreaterThan(0);
    expect(r.body).toBe('');
    expect((await curl(['-I', `${base}/latest/meta-data/nope`])).status).toBe(404);
  });

  it.each([['POST'], ['DELETE'], ['PATCH'], ['OPTIONS']])('answers 405 to %s', async (method) => {
    const r = await curl(['-X', method, `${base}/latest/meta-data/`]);
    expect(r.status).toBe(405);
    expect(r.headers.server).toBe('EC2ws');
  });

  it('answers 400 with Server: EC2ws to a request it cannot parse', async () => {
    const r = await curl(['-X', 'BAD METHOD', `${base}/latest/meta-data/`]);
    expect(r.status).toBe(400);
    expect(r.headers.server).toBe('EC2ws');
  });

  it('answers 405 to a GET of the token path', async () => {
    expect((await curl([`${base}/latest/api/token`])).status).toBe(405);
  });
});

describe('tokens on GET', () => {
  it('accepts a valid token and reports its remaining TTL', async () => {
    const t = await token(base, '600');
    const r = await curl(['-H', `${TOK}: ${t}`, `${base}/latest/meta-data/instance-id`]);
    expect(r.status).toBe(200);
    expect(r.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('600');
  });

  it('answers 401 to an invalid token in optional mode', async () => {
    const r = await curl(['-H', `${TOK}: AQAEAnot-a-real-token`, `${base}/latest/meta-data/instance-id`]);
    expect(r.status).toBe(401);
    expect(r.body).toBe('');
  });

  it('treats an empty token header as no token', async () => {
    expect((await curl(['-H', `${TOK};`, `${base}/latest/meta-data/instance-id`])).status).toBe(200);
    expect((await curl(['-H', `${TOK};`, `${baseRequired}/latest/meta-data/instance-id`])).status).toBe(401);
  });

  it('expires a token after its TTL (401), not before', async () => {
    const t = await token(base, '1');
    clock += 900;
    expect((await curl(['-H', `${TOK}: ${t}`, `${base}/latest/meta-data/ami-id`])).status).toBe(200);
    clock += 200;
    expect((await curl(['-H', `${TOK}: ${t}`, `${base}/latest/meta-data/ami-id`])).status).toBe(401);
  });

  it('required mode: 401 without a token, 200 with one, token PUT still works', async () => {
    const r = await curl([`${baseRequired}/latest/meta-data/instance-id`]);
    expect(r.status).toBe(401);
    expect(r.headers.server).toBe('EC2ws');
    expect((await curl(['-I', `${baseRequired}/latest/meta-data/instance-id`])).status).toBe(401);
    const t = await token(baseRequired);
    expect((await curl(['-H', `${TOK}: ${t}`, `${baseRequired}/latest/meta-data/instance-id`])).status).toBe(200);
    expect((await curl(['-H', `${TOK}: ${t}`, `${baseRequired}/latest/meta-data/nope`])).status).toBe(404);
  });
});

function connects(urls: string[], extra: string[] = []): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', ...extra, '-o', '/dev/null', '-o', '/dev/null', '-w', '%{num_connects}\n', ...urls], (err, out) =>
      err ? reject(err) : resolve(out.trim().split('\n')),
    );
  });
}

describe('connections', () => {
  it('keeps a connection alive across requests', async () => {
    const url = `${base}/latest/meta-data/ami-id`;
    expect(await connects([url, url])).toEqual(['1', '0']);
    const r = await curl([url]);
    expect(r.headers.connection).toBe('keep-alive');
  });

  it("closes after every answer in 'close' mode, like real IMDS", async () => {
    const url = `${baseClose}/latest/meta-data/ami-id`;
    expect(await connects([url, url])).toEqual(['1', '1']);
    expect((await curl([url])).headers.connection).toBe('close');
  });
});

describe('logging', () => {
  it('logs method, path and status only, never a token', async () => {
    logLines.length = 0;
    const t = await token(base);
    await curl(['-H', `${TOK}: ${t}`, `${base}/latest/meta-data/iam/security-credentials/imdswatch-lab-role?x=1`]);
    expect(logLines).toEqual([
      'PUT /latest/api/token 200',
      'GET /latest/meta-data/iam/security-credentials/imdswatch-lab-role 200',
    ]);
    expect(logLines.join('\n')).not.toContain(t);
    expect(optional.stats().byStatus[200]).toBeGreaterThan(0);
  });
});

