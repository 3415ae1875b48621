import type { SdkKind } from '../../imds/event.js';

/**
 * The lowest version of each SDK / tool / agent that can use IMDSv2 (session tokens).
 *
 * `source: 'aws-docs'` rows are AWS's published list: Amazon EC2 User Guide, "Use a
 * supported AWS SDK"
 *   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/use-a-supported-sdk-version-for-imdsv2.html
 * (values as of 2024/2025; an older copy listed CLI 1.13.23 / botocore 1.13.23, a typo
 * later corrected to 1.16.289 / 1.13.25; the values below are the corrected ones).
 *
 * `source: 'best-evidence'` rows are not on any AWS list: agents and tools whose
 * minimum comes from maintainers' statements, changelogs or the code installed here
 * (each row's `evidence` says which). `source: 'inferred'` rows are reasoned, e.g.
 * "every release of this product postdates IMDSv2" or "a generic HTTP client can send
 * the header if the script asks it to".
 *
 * `allVersions: true` means every release supports IMDSv2 (the version is not compared).
 */
export interface MinV2Entry {
  /** stable id, used as SdkInfo.name */
  product: string;
  /** human-readable name for reports */
  label: string;
  kind: SdkKind;
  minV2Version: string | null;
  allVersions?: boolean;
  source: 'aws-docs' | 'best-evidence' | 'inferred';
  evidence: string;
}

const AWS_LIST = 'EC2 UG "Use a supported AWS SDK"';

export const MIN_V2: Readonly<Record<string, MinV2Entry>> = Object.freeze(
  index([
    // --- AWS's published list -------------------------------------------------------
    { product: 'aws-cli-v1', label: 'AWS CLI v1', kind: 'aws-tool', minV2Version: '1.16.289', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-tools-powershell', label: 'AWS Tools for PowerShell', kind: 'aws-tool', minV2Version: '4.0.1.0', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-dotnet', label: 'AWS SDK for .NET', kind: 'aws-sdk', minV2Version: '3.3.634.1', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-cpp', label: 'AWS SDK for C++', kind: 'aws-sdk', minV2Version: '1.7.229', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-go-v1', label: 'AWS SDK for Go v1', kind: 'aws-sdk', minV2Version: '1.25.38', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-go-v2', label: 'AWS SDK for Go v2', kind: 'aws-sdk', minV2Version: '0.19.0', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-java-v1', label: 'AWS SDK for Java 1.x', kind: 'aws-sdk', minV2Version: '1.11.678', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-java-v2', label: 'AWS SDK for Java 2.x', kind: 'aws-sdk', minV2Version: '2.10.21', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-js-v2', label: 'AWS SDK for JavaScript v2', kind: 'aws-sdk', minV2Version: '2.722.0', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-kotlin', label: 'AWS SDK for Kotlin', kind: 'aws-sdk', minV2Version: '1.1.4', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-php', label: 'AWS SDK for PHP', kind: 'aws-sdk', minV2Version: '3.147.7', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'botocore', label: 'botocore (Python)', kind: 'aws-sdk', minV2Version: '1.13.25', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'boto3', label: 'Boto3 (Python)', kind: 'aws-sdk', minV2Version: '1.12.6', source: 'aws-docs', evidence: AWS_LIST },
    { product: 'aws-sdk-ruby-v3', label: 'AWS SDK for Ruby v3', kind: 'aws-sdk', minV2Version: '3.79.0', source: 'aws-docs', evidence: AWS_LIST },

    // --- not on the list: every release supports IMDSv2 ------------------------------
    { product: 'aws-cli-v2', label: 'AWS CLI v2', kind: 'aws-tool', minV2Version: '2.0.0', allVersions: true, source: 'aws-docs', evidence: AWS_LIST + ' ("all v2 releases"); CLI v2 ships its own botocore fork with the token PUT (checked: Debian awscli 2.9.19 awscli/botocore/utils.py)' },
    { product: 'aws-sdk-js-v3', label: 'AWS SDK for JavaScript v3', kind: 'aws-sdk', minV2Version: '3.0.0', allVersions: true, source: 'aws-docs', evidence: AWS_LIST + ' ("all v3 releases")' },
    { product: 'aws-sdk-rust', label: 'AWS SDK for Rust', kind: 'aws-sdk', minV2Version: null, allVersions: true, source: 'inferred', evidence: 'aws-config IMDS client is IMDSv2-only and never falls back (smithy-rs aws-config/src/imds/client.rs)' },

    // --- not on the list: unknown ----------------------------------------------------
    { product: 'aws-sdk-ruby-v2', label: 'AWS SDK for Ruby v2', kind: 'aws-sdk', minV2Version: null, source: 'best-evidence', evidence: 'not on the AWS list; upgrade to Ruby v3 >= 3.79.0' },
    { product: 'aws-sdk-swift', label: 'AWS SDK for Swift', kind: 'aws-sdk', minV2Version: null, source: 'best-evidence', evidence: 'not checked' },

    // --- AWS tools and agents: best evidence -----------------------------------------
    { product: 'cloud-init', label: 'cloud-init', kind: 'agent', minV2Version: '19.4', source: 'best-evidence', evidence: 'cloud-init ChangeLog 19.4 "ec2: Add support for AWS IMDS v2 (session-oriented) (#55)" (Debian cloud-init 22.4.2 /usr/share/doc/cloud-init/changelog.gz)' },
    { product: 'amazon-ec2-net-utils', label: 'amazon-ec2-net-utils', kind: 'agent', minV2Version: null, allVersions: true, source: 'inferred', evidence: 'only releases >= 2.6 send this User-Agent (amazon-ec2-net-utils PR #125), and those use tokens' },
    { product: 'amazon-ssm-agent', label: 'SSM Agent', kind: 'agent', minV2Version: '2.3.814.0', source: 'best-evidence', evidence: 'maintainer, aws/amazon-ssm-agent issue #277' },
    { product: 'amazon-ecs-agent', label: 'ECS container agent', kind: 'agent', minV2Version: null, source: 'best-evidence', evidence: 'needs aws-sdk-go >= 1.25.38 (aws/amazon-ecs-agent #2322); fixed agent version not found' },
    { product: 'amazon-cloudwatch-agent', label: 'CloudWatch agent', kind: 'agent', minV2Version: null, source: 'best-evidence', evidence: 'no documented minimum (aws/amazon-cloudwatch-agent #249, #253)' },
    { product: 'aws-kinesis-agent', label: 'Kinesis Agent', kind: 'agent', minV2Version: '2.0.0', source: 'best-evidence', evidence: '1.1.6 fails with tokens required, 2.x works (awslabs/amazon-kinesis-agent #246)' },
    { product: 'datadog-agent', label: 'Datadog Agent', kind: 'agent', minV2Version: '7.64.0', source: 'best-evidence', evidence: '>= 7.64.0 uses IMDSv2 by default; earlier only with ec2_prefer_imdsv2 (DataDog/documentation PR #27666)' },

    // --- generic HTTP clients: can send the header; the script must ------------------
    ...[
      ['curl', 'curl (also ec2-metadata from amazon-ec2-utils, which runs curl)'],
      ['wget', 'GNU Wget'],
      ['python-requests', 'python-requests'],
      ['python-urllib', 'Python urllib'],
      ['python-urllib3', 'urllib3'],
      ['python-aiohttp', 'aiohttp'],
      ['python-httpx', 'httpx'],
      ['go-http-client', 'Go net/http'],
      ['java-httpurlconnection', "Java's HttpURLConnection"],
      ['java-httpclient', "Java's java.net.http.HttpClient"],
      ['apache-httpclient', 'Apache HttpClient'],
      ['okhttp', 'OkHttp'],
      ['node-fetch', 'node-fetch'],
      ['undici', 'undici'],
      ['node', "Node.js built-in fetch"],
      ['axios', 'axios'],
      ['powershell', 'PowerShell Invoke-WebRequest / Invoke-RestMethod'],
      ['libwww-perl', 'Perl LWP'],
      ['ruby-net-http', 'Ruby Net::HTTP'],
    ].map(([product, label]) => ({
      product,
      label,
      kind: 'http-client' as const,
      minV2Version: null,
      allVersions: true,
      source: 'inferred' as const,
      evidence: 'generic HTTP client: it can send X-aws-ec2-metadata-token; the calling code must',
    })),

    { product: 'unknown', label: 'unknown client', kind: 'unknown', minV2Version: null, source: 'inferred', evidence: 'User-Agent not recognised' },
  ]),
);

function index(rows: MinV2Entry[]): Record<string, MinV2Entry> {
  const out: Record<string, MinV2Entry> = {};
  for (const r of rows) out[r.product] = Object.freeze(r);
  return out;
}
