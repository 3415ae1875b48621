import type { SdkInfo, V1Reason } from '../../imds/event.js';
import { MIN_V2 } from './min-v2-versions.js';

export interface FixHints {
  /** the v1 call carried an empty X-aws-ec2-metadata-token header (a script whose token variable is empty) */
  emptyTokenHeader?: boolean;
}

const REFUSE_V1 = 'then set AWS_EC2_METADATA_V1_DISABLED=true (ec2_metadata_v1_disabled) so it never falls back';

/**
 * One line telling an operator what to do about IMDSv1 calls from `sdk` with `reason`.
 * Built only from fixed text, product ids and table versions: never from request data.
 */
export function fixFor(sdk: SdkInfo | null, reason: V1Reason | null, hints: FixHints = {}): string {
  switch (reason) {
    case 'token-put-unanswered':
      return `set HttpPutResponseHopLimit to 2 (containers: the token PUT's reply is dropped one hop away) or use host networking; ${REFUSE_V1}`;
    case 'token-put-rejected':
      return 'stop adding X-Forwarded-For to token PUTs in the proxy between this client and IMDS (kube2iam, kiam, an HTTP proxy: exclude 169.254.169.254 via NO_PROXY)';
    case 'token-expired':
      return 'request a new token before its TTL ends (or on a 401) instead of calling without one; ' + REFUSE_V1;
    case 'v2-unsupported-client':
      return upgradeLine(sdk);
    case 'foreign-cloud-probe':
      return "none needed for IMDSv2: a probe for another cloud's metadata service (it will get 401 instead of 404); turn off the agent's cloud detection to silence it";
    case 'no-token-attempt':
    case null:
      return noTokenLine(sdk, hints);
  }
}

function upgradeLine(sdk: SdkInfo | null): string {
  if (!sdk) return 'upgrade this client to a version that supports IMDSv2';
  if (sdk.name === 'boto3') return `upgrade botocore to >= ${MIN_V2.botocore.minV2Version} (boto3 >= ${MIN_V2.boto3.minV2Version})`;
  if (sdk.name === 'aws-cli-v1') return `upgrade the AWS CLI to >= ${MIN_V2['aws-cli-v1'].minV2Version} (botocore >= ${MIN_V2.botocore.minV2Version}) or to AWS CLI v2`;
  if (sdk.name === 'aws-sdk-ruby-v2') return `upgrade to the AWS SDK for Ruby v3 (aws-sdk-core >= ${MIN_V2['aws-sdk-ruby-v3'].minV2Version})`;
  const entry = MIN_V2[sdk.name];
  const label = entry?.label ?? sdk.name;
  if (sdk.minV2Version) return `upgrade ${label} to >= ${sdk.minV2Version}`;
  return `upgrade ${label} to a release that supports IMDSv2`;
}

function noTokenLine(sdk: SdkInfo | null, hints: FixHints): string {
  if (hints.emptyTokenHeader) {
    return 'the script sends an empty X-aws-ec2-metadata-token header: its token PUT failed or the variable is unset; check the PUT (hop limit, proxy) and stop on failure';
  }
  if (!sdk || sdk.kind === 'unknown' || sdk.name === 'unknown') {
    return 'find the process (imdswatch live attribution) and make it fetch a token: PUT /latest/api/token, then send X-aws-ec2-metadata-token on every call';
  }
  if (sdk.kind === 'http-client') return scriptLine(sdk.name);
  if (sdk.supportsV2 === false) return upgradeLine(sdk);
  if (sdk.supportsV2 === null) {
    return `check the version of ${MIN_V2[sdk.name]?.label ?? sdk.name}${sdk.minV2Version ? ` (IMDSv2 from ${sdk.minV2Version})` : ''} and upgrade it if older; ${REFUSE_V1}`;
  }
  return `this ${MIN_V2[sdk.name]?.label ?? sdk.name} version supports IMDSv2 but sent no token: look for code that calls IMDS directly or disables tokens; ${REFUSE_V1}`;
}

function scriptLine(name: string): string {
  const put = 'TOKEN=$(curl -sX PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" http://169.254.169.254/latest/api/token)';
  switch (name) {
    case 'curl':
      return `add the X-aws-ec2-metadata-token header to this script: ${put}; curl -H "X-aws-ec2-metadata-token: $TOKEN" ... (or use ec2-metadata >= 2.0)`;
    case 'wget':
      return 'add the token to this script: wget --method=PUT --header="X-aws-ec2-metadata-token-ttl-seconds: 300" for /latest/api/token, then --header="X-aws-ec2-metadata-token: $TOKEN" on each call';
    case 'powershell':
      return 'add the token: Invoke-RestMethod -Method PUT -Headers @{"X-aws-ec2-metadata-token-ttl-seconds"="300"} /latest/api/token, then -Headers @{"X-aws-ec2-metadata-token"=$token}';
    default:
      return 'this code calls IMDS with a plain HTTP client: PUT /latest/api/token first (header X-aws-ec2-metadata-token-ttl-seconds) and send X-aws-ec2-metadata-token on each call, or use an AWS SDK';
  }
}
