import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixFor } from '../../src/enrich/sdk/fix.js';

// Software from Debian's packages that calls IMDS itself, recorded in four labs
// (test/support/lab/software-scenarios.ts): what the wire showed, the reason each v1 call
// gets, and advice for the version that made it (docs/imds-facts.md#software-that-calls-imds-itself).

const DIR = join(__dirname, '..', '..', 'pcaps', 'real');
const REPLAY = join(__dirname, '..', '..', 'src', 'pipeline', 'replay.ts');

interface Entry {
  name: string;
  file: string;
  lab: { hopLimitOnTokenPut: boolean; forwardedFor?: boolean; tokenPut404?: boolean };
}
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Entry[];
const SOFTWARE = /^(s3fs-|rclone-|restic-|ansible-|prometheus-)/;

async function replay(name: string) {
  const { replayFiles } = await import('../../src/pipeline/replay.js');
  const m = manifest.find((e) => e.name === name);
  if (!m) throw new Error(`${name} is not in pcaps/real/manifest.json`);
  return (await replayFiles([join(DIR, m.file)])).events;
}
const wire = async (name: string) => (await replay(name)).map((e) => `${e.version}:${e.status ?? '-'}`);

describe.skipIf(!existsSync(REPLAY))('software that calls IMDS itself, as recorded', () => {
  it('has the four labs of each (the plain iam_role=auto lab of s3fs aside: tshark cannot label its PUT)', () => {
    const names = manifest.filter((m) => SOFTWARE.test(m.name)).map((m) => m.name);
    expect(names).toHaveLength(23);
    for (const m of manifest.filter((x) => SOFTWARE.test(x.name))) expect(existsSync(join(DIR, m.file)), m.file).toBe(true);
  });

  it('names s3fs with its version and rclone without one (Debian sends "rclone/"); restic sends Go\'s default', async () => {
    const s = (await replay('s3fs-iam-role-named'))[0].sdk;
    expect([s?.name, s?.version, s?.supportsV2]).toEqual(['s3fs', '1.90', true]);
    const r = (await replay('rclone-s3-env-auth'))[0].sdk;
    expect([r?.name, r?.version, r?.supportsV2]).toEqual(['rclone', null, null]);
    expect((await replay('restic-s3'))[0].sdk?.name).toBe('go-http-client');
    const a = (await replay('ansible-ec2-metadata-facts'))[0].sdk;
    expect([a?.name, a?.kind, a?.supportsV2]).toEqual(['ansible', 'http-client', null]);
  });

  it('what the wire showed', async () => {
    // s3fs 1.90: with the role named, token then v2; with iam_role=auto the role-name GET goes first, without a token
    expect(await wire('s3fs-iam-role-named')).toEqual(['token:200', 'v2:200']);
    expect(await wire('s3fs-iam-role-auto-put-404')).toEqual(['v1:200', 'token:404', 'v1:200']);
    expect(await wire('s3fs-iam-role-named-hop-limit')).toEqual(['token:-', 'v1:200']);
    // rclone 1.60.1 (aws-sdk-go 1.44.133 inside): v1 after a 403 or 404; an unanswered PUT waits on rclone's timeouts
    expect(await wire('rclone-s3-env-auth')).toEqual(['token:200', 'v2:200', 'v2:200']);
    expect(await wire('rclone-s3-env-auth-put-404')).toEqual(['token:404', 'v1:200', 'v1:200']);
    expect(await wire('rclone-s3-env-auth-hop-limit')).toEqual(['token:-']);
    // Ansible 7.7.0 (amazon.aws 5.5.1) ec2_metadata_facts: v1 only after a PUT 404; a 403 or no answer fails the task
    expect((await wire('ansible-ec2-metadata-facts')).filter((v) => v.startsWith('v1'))).toEqual([]);
    expect(await wire('ansible-ec2-metadata-facts-put-403')).toEqual(['token:403']);
    expect(await wire('ansible-ec2-metadata-facts-hop-limit')).toEqual(['token:-', 'token:-']);
    const a404 = await wire('ansible-ec2-metadata-facts-put-404');
    expect(a404[0]).toBe('token:404');
    expect(a404.slice(1).every((v) => v.startsWith('v1:'))).toBe(true);
    // Prometheus 2.42.0's EC2 discovery (aws-sdk-go 1.44.133 inside): the Go SDK's behaviour, under the Go SDK's name
    expect(await wire('prometheus-ec2-sd')).toEqual(['token:200', 'v2:200']);
    expect(await wire('prometheus-ec2-sd-hop-limit')).toEqual(['token:-', 'token:-', 'token:-', 'v1:200']);
    expect(await wire('prometheus-ec2-sd-put-404')).toEqual(['token:404', 'v1:200']);
    const p = (await replay('prometheus-ec2-sd'))[0].sdk;
    expect([p?.name, p?.version]).toEqual(['aws-sdk-go-v1', '1.44.133']);
    // restic 0.14.0 (minio-go 7.0.46): never falls back
    for (const lab of ['restic-s3-hop-limit', 'restic-s3-put-403', 'restic-s3-put-404']) {
      const w = await wire(lab);
      expect(w.length, lab).toBeGreaterThan(1);
      expect(w.filter((v) => !v.startsWith('token')), lab).toEqual([]);
    }
  });

  it.each(manifest.filter((m) => SOFTWARE.test(m.name)).map((m) => [m.name, m] as const))('%s: reasons and advice', async (name, m) => {
    const events = await replay(name);
    for (const e of events.filter((x) => x.version === 'v1')) {
      const fix = fixFor(e.sdk, e.reason);
      if (e.path === '/latest/meta-data/iam/security-credentials/' && name.startsWith('s3fs-iam-role-auto')) {
        // the token-less role-name lookup of s3fs < 1.91, before any PUT
        expect(e.reason).toBe('no-token-attempt');
        expect(fix).toBe('the role-name lookup of -o iam_role=auto sends no token in s3fs-fuse 1.90: upgrade to >= 1.91, or name the role: -o iam_role=ROLE_NAME (every call then carries a token: s3fs-iam-role-named.pcap, 1.90)');
        continue;
      }
      if (m.lab.hopLimitOnTokenPut) expect(e.reason).toBe('token-put-unanswered');
      else if (m.lab.forwardedFor) expect(e.reason).toBe('token-put-rejected');
      else if (m.lab.tokenPut404) {
        expect(e.reason).toBe('token-put-not-found');
        expect(fix).not.toMatch(/X-Forwarded-For/);
      }
      // s3fs has no setting that refuses the fallback; Debian's rclone names no version
      if (e.sdk?.name === 's3fs' && e.reason !== 'token-put-rejected') expect(fix).toMatch(/s3fs-fuse 1\.90 has no setting to refuse the v1 fallback \(no release has one\)$/);
      if (e.sdk?.name === 'rclone' && e.reason !== 'token-put-rejected') expect(fix).toMatch(/if this rclone version reads it \(rclone reads AWS_EC2_METADATA_V1_DISABLED from 1\.66\.0\)$/);
    }
  });
});

describe.skipIf(!existsSync(REPLAY))('cloud-init (Debian 22.4.2) on a platform it does not identify as AWS', () => {
  it('its own probe GETs get the platform advice, not "look for code that disables tokens"', async () => {
    const own = (await replay('cloud-init-ec2-unidentified')).filter((e) => e.version === 'v1' && e.sdk?.name === 'cloud-init');
    expect(own.length).toBeGreaterThan(0);
    for (const e of own) {
      expect(e.reason).toBe('no-token-attempt');
      expect(fixFor(e.sdk, e.reason)).toMatch(/^cloud-init asks for a token only on a platform it identifies as AWS .*`cloud-id`/);
    }
    // identified as AWS: token and v2 only
    expect((await replay('cloud-init-ec2-aws')).filter((e) => e.version === 'v1')).toEqual([]);
  });
});

describe('advice for Ansible', () => {
  it('a token-less call from ansible-httpget names ec2_metadata_facts and uri/get_url tasks', async () => {
    const s = (await import('../../src/enrich/sdk/user-agent.js')).identifySdk('ansible-httpget');
    expect(fixFor(s, 'no-token-attempt')).toMatch(/^Ansible's URL client: amazon\.aws\.ec2_metadata_facts uses tokens from amazon\.aws 1\.5\.0 .*a uri or get_url task/);
  });
});

describe('advice for other versions of that software', () => {
  const sdk = async (ua: string) => (await import('../../src/enrich/sdk/user-agent.js')).identifySdk(ua);
  it('s3fs 1.91 and later: no token-less role lookup, so a v1 call there is not that', async () => {
    expect(fixFor(await sdk('s3fs/1.91 (commit hash 0000000; OpenSSL)'), 'no-token-attempt')).toMatch(/^this s3fs-fuse version supports IMDSv2 but sent no token/);
    expect(fixFor(await sdk('s3fs/1.87 (commit hash unknown; OpenSSL)'), 'v2-unsupported-client')).toBe('upgrade s3fs-fuse to >= 1.91 (the role-name lookup of -o iam_role=auto sends no token before it)');
  });
  it('rclone with a version: the setting from 1.66.0', async () => {
    expect(fixFor(await sdk('rclone/v1.66.0'), 'token-put-unanswered')).toMatch(/then set AWS_EC2_METADATA_V1_DISABLED=true \(ec2_metadata_v1_disabled\) so it never falls back$/);
    expect(fixFor(await sdk('rclone/v1.60.1'), 'token-put-unanswered')).toMatch(/rclone 1\.60\.1 has no setting to refuse the v1 fallback/);
    expect((await sdk('rclone/v1.51.0'))?.supportsV2).toBe(false);
  });
});
