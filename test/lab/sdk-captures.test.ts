import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixFor } from '../../src/enrich/sdk/fix.js';
import { MIN_V2 } from '../../src/enrich/sdk/min-v2-versions.js';
import { atLeast } from '../../src/enrich/sdk/version.js';

// Issue #15: every real client of pcaps/real/manifest.json, replayed, gets the reason its
// lab explains, and advice for the version installed: no IMDSv2 claim without a User-Agent
// that names the SDK, the v1-refusing setting only where that release has it, no upgrade
// for an entry point that never sends a token.

const DIR = join(__dirname, '..', '..', 'pcaps', 'real');
const REPLAY = join(__dirname, '..', '..', 'src', 'pipeline', 'replay.ts');

interface Entry {
  name: string;
  file: string;
  client: string;
  namespace: string;
  lab: { tokens: string; hopLimitOnTokenPut: boolean; proxy: boolean; forwardedFor?: boolean };
  installed?: { package: string; version: string | null; tokenHeaderInCode: boolean | null } | null;
  env?: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Entry[];
const ISSUE15 = /^(go-v[12]|ruby-v[13]|js-v2-|js-v3-ec2-metadata-service|cloud-init-(openstack|gce|azure)|waagent-)/;
const FOREIGN = /^(cloud-init-(openstack|gce|azure)|waagent-)/;

const SET_UNCONDITIONALLY = /then set AWS_EC2_METADATA_V1_DISABLED=true \(ec2_metadata_v1_disabled\) so it never falls back/;

describe('manifest', () => {
  it('names exactly the capture files of pcaps/real/', () => {
    const files = readdirSync(DIR).filter((f) => /\.pcap(ng)?$/.test(f)).sort();
    expect(manifest.map((m) => m.file).sort()).toEqual(files);
  });

  it('lists every file with the installed package, its version and whether its code has the token header', () => {
    const mine = manifest.filter((m) => ISSUE15.test(m.name));
    expect(mine.length).toBeGreaterThanOrEqual(40);
    for (const m of manifest) {
      expect(existsSync(join(DIR, m.file)), m.file).toBe(true);
      expect(m.installed, m.name).toBeTruthy();
      expect(m.installed!.version, m.name).toMatch(/^\d/);
    }
    const code = (n: string) => manifest.find((m) => m.name === n)?.installed?.tokenHeaderInCode;
    expect(code('js-v2-2.574.0-credentials')).toBe(false);
    expect(code('js-v2-2.575.0-credentials')).toBe(true);
    expect(code('ruby-v1-credentials')).toBe(false);
    expect(code('go-v1-credentials')).toBe(true);
    expect(code('go-v2-credentials')).toBe(true);
    expect(code('ruby-v3-credentials')).toBe(true);
    expect(code('waagent-imds')).toBe(false);
  });
});

describe.skipIf(!existsSync(REPLAY))('recorded SDKs: reasons and advice for the version installed', () => {
  it.each(manifest.filter((m) => ISSUE15.test(m.name)).map((m) => [m.name, m] as const))('%s', async (_n, m) => {
    const { replayFiles } = await import('../../src/pipeline/replay.js');
    const { events } = await replayFiles([join(DIR, m.file)]);
    const v1 = events.filter((e) => e.version === 'v1');
    for (const e of events) {
      // A User-Agent that does not name an AWS SDK (none, "Ruby", a plain HTTP client) claims nothing.
      if (!e.sdk || e.sdk.kind === 'http-client' || e.sdk.kind === 'unknown') {
        expect(e.sdk?.supportsV2 ?? null, `${e.userAgent}`).toBeNull();
        expect(e.sdk?.minV2Version ?? null).toBeNull();
      }
    }
    for (const e of v1) {
      const fix = fixFor(e.sdk, e.reason);
      expect(fix).not.toContain('\n');
      if (FOREIGN.test(m.name)) expect(e.reason).toBe('foreign-cloud-probe');
      else if (m.lab.hopLimitOnTokenPut) expect(e.reason).toBe('token-put-unanswered');
      else if (m.lab.forwardedFor) expect(e.reason).toBe('token-put-rejected');
      // The setting is advised only where the release that made the call reads it.
      if (e.sdk && e.sdk.version) {
        const row = MIN_V2[e.sdk.name];
        const since = row?.v1Disable?.since ?? null;
        if (SET_UNCONDITIONALLY.test(fix)) expect(since !== null && atLeast(e.sdk.version, since), `${m.name}: ${fix}`).toBe(true);
      }
    }
    if (/-metadataservice$/.test(m.name) && !m.name.includes('2.574.0')) {
      // MetadataService.request(): no token in any release: a code change, never "upgrade".
      expect(v1.map((e) => e.reason)).toEqual(['no-token-attempt']);
      expect(fixFor(v1[0].sdk, v1[0].reason)).toMatch(/^AWS\.MetadataService\.request\(\) sends no token in any aws-sdk 2\.x release/);
    }
  });

  it('what the wire showed, per client', async () => {
    const { replayFiles } = await import('../../src/pipeline/replay.js');
    const versions = async (name: string) => (await replayFiles([join(DIR, `${name}.pcap`)])).events.map((e) => `${e.version}:${e.status ?? '-'}`);
    // JS v2: 2.574.0 never sends a token, 2.575.0 (AWS lists 2.722.0) does.
    expect(await versions('js-v2-2.574.0-credentials')).toEqual(['v1:200', 'v1:200']);
    expect(await versions('js-v2-2.575.0-credentials')).toEqual(['token:200', 'v2:200', 'v2:200']);
    // The v1 toggle: ignored by 2.1487.0, honoured by 2.1693.0 (no v1 call after the unanswered PUTs).
    expect((await versions('js-v2-2.1487.0-credentials-hop-limit-v1-disabled')).filter((v) => v.startsWith('v1'))).toHaveLength(2);
    expect((await versions('js-v2-2.1693.0-credentials-hop-limit-v1-disabled')).filter((v) => v.startsWith('v1'))).toHaveLength(0);
    // Ruby Aws::EC2Metadata never falls back; InstanceProfileCredentials does.
    expect((await versions('ruby-v3-ec2metadata-put-403')).filter((v) => v.startsWith('v1'))).toHaveLength(0);
    expect(await versions('ruby-v3-credentials-put-403')).toEqual(['token:403', 'token:403', 'v1:200', 'v1:200']);
    // The Ruby v1 SDK: token-less, User-Agent "Ruby".
    const rb1 = (await replayFiles([join(DIR, 'ruby-v1-credentials.pcap')])).events;
    expect(rb1.map((e) => [e.version, e.userAgent, e.sdk?.supportsV2 ?? null])).toEqual([['v1', 'Ruby', null], ['v1', 'Ruby', null]]);
  });
});

describe('fix lines follow the release installed (recorded versions)', () => {
  const sdk = async (ua: string) => (await import('../../src/enrich/sdk/user-agent.js')).identifySdk(ua);
  const rows: Array<[string, string, RegExp, boolean]> = [
    // [User-Agent as recorded, ..., expected clause, may it say "set AWS_EC2_METADATA_V1_DISABLED"?]
    ['aws-sdk-go/1.44.133 (go1.19.8; linux; amd64)', 'Go v1 1.44.133', /AWS SDK for Go v1 1\.44\.133 has no setting to refuse the v1 fallback \(.*from 1\.47\.2\)/, false],
    ['aws-sdk-go/1.47.2 (go1.21; linux; amd64)', 'Go v1 1.47.2', SET_UNCONDITIONALLY, true],
    ['aws-sdk-go-v2/1.17.1 os/linux lang/go/1.19.8 md/GOOS/linux md/GOARCH/amd64 ft/ec2-imds', 'Go v2 1.17.1', /AWS SDK for Go v2 1\.17\.1 has no setting/, false],
    ['aws-sdk-ruby3/3.168.1', 'Ruby v3 3.168.1', /AWS SDK for Ruby v3 3\.168\.1 has no setting .*from 3\.186\.0/, false],
    ['aws-sdk-ruby3/3.186.0', 'Ruby v3 3.186.0', SET_UNCONDITIONALLY, true],
    ['aws-sdk-nodejs/2.1487.0 linux/v20.20.2', 'JS v2 2.1487.0', /JavaScript v2 2\.1487\.0 has no setting .*from 2\.1488\.0/, false],
    ['aws-sdk-nodejs/2.1693.0 linux/v20.20.2', 'JS v2 2.1693.0', SET_UNCONDITIONALLY, true],
    ['Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v782 awscrt/1.0.0.dev0', 'botocore 1.29.27', /botocore \(Python\) 1\.29\.27 has no setting .*from 1\.32\.4/, false],
    ['Boto3/1.26.27 Python/3.11.2 Linux/6.18.44-fc-v782 awscrt/1.0.0.dev0 Botocore/1.29.27', 'boto3 on botocore 1.29.27', /botocore \(Python\) 1\.29\.27 has no setting/, false],
    ['aws-cli/2.9.19', 'CLI v2 2.9.19', /AWS CLI v2 2\.9\.19 has no setting/, false],
  ];
  it.each(rows)('%s (%s)', async (ua, _label, want, maySet) => {
    const line = fixFor(await sdk(ua), 'token-put-unanswered');
    expect(line).toMatch(/^set HttpPutResponseHopLimit to 2/);
    expect(line).toMatch(want);
    if (!maySet) expect(line).not.toMatch(SET_UNCONDITIONALLY);
  });

  it('without a User-Agent the setting is conditional', () => {
    expect(fixFor(null, 'token-put-unanswered')).toMatch(/then, if this client has it, set AWS_EC2_METADATA_V1_DISABLED/);
  });
});
