import { describe, expect, it } from 'vitest';
import { fixFor } from '../../../src/enrich/sdk/fix.js';
import { identifySdk } from '../../../src/enrich/sdk/user-agent.js';
import type { V1Reason } from '../../../src/imds/event.js';

const sdk = (ua: string | null) => identifySdk(ua);

describe('fixFor', () => {
  const rows: Array<[string, string | null, V1Reason | null, RegExp]> = [
    ['old boto3 → upgrade botocore', 'Boto3/1.7.29 Python/2.7.6 Linux/4.14.0 Botocore/1.10.29', 'v2-unsupported-client', /^upgrade botocore to >= 1\.13\.23 \(boto3 >= 1\.12\.6\)$/],
    ['old botocore', 'Botocore/1.12.0 Python/3.7 Linux/4.14', 'v2-unsupported-client', /^upgrade botocore \(Python\) to >= 1\.13\.23$/],
    ['old CLI v1', 'aws-cli/1.16.200 Python/2.7 Linux/4.14 botocore/1.12.190', 'v2-unsupported-client', /AWS CLI to >= 1\.16\.289 .*botocore >= 1\.13\.23/],
    ['old Java', 'aws-sdk-java/1.11.500 Linux/4', 'v2-unsupported-client', /^upgrade AWS SDK for Java 1\.x to >= 1\.11\.678$/],
    ['hop limit', 'Botocore/1.34.0 Python/3.11 Linux/6.1', 'token-put-unanswered', /HttpPutResponseHopLimit to 2.*AWS_EC2_METADATA_V1_DISABLED/],
    ['proxy', null, 'token-put-rejected', /stop adding X-Forwarded-For to token PUTs/],
    ['PUT 404/405: says what the wire showed, no proxy header advice', 'Botocore/1.34.0 Python/3.11 Linux/6.1', 'token-put-not-found', /^its token PUT was answered 404\/405, which IMDS never does .*; then set AWS_EC2_METADATA_V1_DISABLED=true \(ec2_metadata_v1_disabled\) so it never falls back$/],
    ['Ruby v2: move to v3 (upgradeTo with move)', 'aws-sdk-ruby2/2.11.0 ruby/2.7.0 x86_64-linux', 'v2-unsupported-client', /^move to aws-sdk-core >= 3\.79\.0 \(the AWS SDK for Ruby v3; no v2 release uses tokens\)$/],
    ['expired', 'aws-sdk-go/1.44.0 (go1.20; linux; amd64)', 'token-expired', /new token before its TTL ends/],
    ['curl script', 'curl/7.88.1', 'no-token-attempt', /add the X-aws-ec2-metadata-token header to this script: .*curl -H "X-aws-ec2-metadata-token: \$TOKEN"/],
    ['wget script', 'Wget/1.21.3', 'no-token-attempt', /wget --method=PUT/],
    ['python urllib', 'Python-urllib/3.11', 'no-token-attempt', /PUT \/latest\/api\/token first/],
    ['v2-capable SDK that sent no token', 'Botocore/1.34.0 Python/3.11 Linux/6.1', 'no-token-attempt', /supports IMDSv2 but sent no token/],
    ['old SDK with no-token-attempt says upgrade, and the code change for the entry point an upgrade does not fix', 'aws-sdk-nodejs/2.574.0 linux/v20.20.2', 'no-token-attempt', /^upgrade AWS SDK for JavaScript v2 to >= 2\.575\.0 \(its credential provider then uses tokens\); AWS\.MetadataService\.request\(\) sends no token in any/],
    ['JS v2 that uses tokens but sent none: MetadataService.request(), a code change (wire: js-v2-2.1693.0-metadataservice.pcap)', 'aws-sdk-nodejs/2.1693.0 linux/v20.20.2', 'no-token-attempt', /^AWS\.MetadataService\.request\(\) sends no token .*fetchMetadataToken\(\), public from 2\.1627\.0/],
    ['Ruby v1 (UA "Ruby"): no version claimed, names the v1 SDK case', 'Ruby', 'no-token-attempt', /^Ruby Net::HTTP without a token: if this is the AWS SDK for Ruby v1 .*aws-sdk-core v3 \(>= 3\.79\.0\)/],
    ['unknown version', 'amazon-ecs-agent/1.33.0', 'no-token-attempt', /check the version of ECS container agent/],
    ['no User-Agent', null, 'no-token-attempt', /find the process/],
    ['unknown UA', 'MyAgent/1.0', 'no-token-attempt', /find the process/],
    ['foreign probe', 'Go-http-client/1.1', 'foreign-cloud-probe', /another cloud's metadata service/],
  ];
  it.each(rows)('%s', (_l, ua, reason, want) => {
    const line = fixFor(sdk(ua), reason);
    expect(line).toMatch(want);
    expect(line).not.toContain('\n');
  });

  it('an empty token header points at the failed PUT in the script', () => {
    expect(fixFor(sdk('curl/7.88.1'), 'no-token-attempt', { emptyTokenHeader: true })).toMatch(/empty X-aws-ec2-metadata-token header/);
  });

  it('never talks about X-Forwarded-For for a PUT answered 404/405', () => {
    for (const ua of [null, 'curl/7.88.1', 'Boto3/1.26.27 Python/3.11.2 Linux/6.1 Botocore/1.29.27']) {
      expect(fixFor(sdk(ua), 'token-put-not-found')).not.toMatch(/X-Forwarded-For|proxy between/);
    }
  });

  it('boto3 advice follows the botocore version it carries (decidedBy), also for an event written before decidedBy', () => {
    const s = sdk('Boto3/1.26.27 Python/3.11.2 Linux/6.1 Botocore/1.29.27');
    expect(s?.decidedBy).toEqual({ name: 'botocore', version: '1.29.27' });
    expect(fixFor(s, 'token-put-unanswered')).toMatch(/botocore \(Python\) 1\.29\.27 has no setting to refuse the v1 fallback/);
    const old = { ...s!, decidedBy: undefined };
    expect(fixFor(old, 'token-put-unanswered')).toMatch(/set AWS_EC2_METADATA_V1_DISABLED=true \(ec2_metadata_v1_disabled\) if this botocore \(Python\) version reads it/);
  });

  it('never echoes User-Agent text', () => {
    const line = fixFor(sdk('AQAEAFakeTokenValue== curl/7.88.1'), 'no-token-attempt');
    expect(line).not.toContain('FakeToken');
  });
});
