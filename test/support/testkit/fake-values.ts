/**
 * Realistic but fake values for generated captures. Tokens and credentials here
 * appear inside captures only; they must never appear in labels or in any output of
 * imdswatch (`SECRETS` lists them for scans).
 */

export const UA = {
  awsCli: 'aws-cli/1.22.34 Python/3.11.2 Linux/6.1.0 botocore/1.29.0',
  curl: 'curl/7.88.1',
  boto3: 'Boto3/1.26.0 Python/3.11.2 Linux/6.1.0-13-cloud-amd64 Botocore/1.29.0',
  goV1: 'aws-sdk-go/1.44.300 (go1.20.5; linux; amd64)',
  javaV2: 'aws-sdk-java/2.20.100 Linux/6.1.0 OpenJDK_64-Bit_Server_VM/17.0.7+7-LTS Java/17.0.7 vendor/Amazon.com_Inc.',
  cloudInit: 'Cloud-Init/22.4.2',
  goHttp: 'Go-http-client/1.1',
} as const;

/** fake IMDSv2 session tokens (shape of real ones: ~56 chars, AQAE... ==) */
export const TOKEN = 'AQAEAFakeTokenForImdswatchTestsOnly0000000000000000001==';

export const FAKE_ACCESS_KEY_ID = 'ASIAFAKEIMDSWATCH000';
export const FAKE_SECRET_ACCESS_KEY = 'fakeSecretKeyForImdswatchTests/000000000';
export const FAKE_SESSION_TOKEN = 'FakeSessionTokenForImdswatchTests//////////0000000000000000000000000000==';

/** a security-credentials response body with fake keys */
export const CREDENTIALS_BODY = JSON.stringify(
  {
    Code: 'Success',
    LastUpdated: '2023-11-14T22:00:00Z',
    Type: 'AWS-HMAC',
    AccessKeyId: FAKE_ACCESS_KEY_ID,
    SecretAccessKey: FAKE_SECRET_ACCESS_KEY,
    Token: FAKE_SESSION_TOKEN,
    Expiration: '2023-11-15T04:00:00Z',
  },
  null,
  2,
);

export const ROLE_NAME = 'imdswatch-test-role';

/** every secret value that appears in generated captures */
export const SECRETS: readonly string[] = [TOKEN, FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, FAKE_SESSION_TOKEN];
