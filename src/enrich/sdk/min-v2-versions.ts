import type { SdkKind } from '../../imds/event.js';

/**
 * The lowest version of each SDK / tool / agent that can use IMDSv2 (session tokens),
 * and from which version it can be told never to fall back to IMDSv1.
 *
 * Where this table starts: AWS's published list, Amazon EC2 User Guide, "Use a
 * supported AWS SDK"
 *   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/use-a-supported-sdk-version-for-imdsv2.html
 * (values as of 2024/2025; an older copy listed CLI 1.13.23 / botocore 1.13.23, later
 * changed to 1.16.289 / 1.13.25). The list, as copied in docs/imds-facts.md#sdk-minimum-versions
 * (`awsList` names the row there; test/enrich/sdk/aws-list.test.ts keeps the two equal), was
 * checked against the released code and against real clients recorded in the lab
 * (pcaps/real/, manifest.json); where they contradict it, the row says what AWS lists
 * (`awsListed`) and why it differs.
 *
 * `basis` says what each row rests on:
 *   wire       a capture in pcaps/real/ of that client (the file is named in `evidence`)
 *   code       the released source (a tag diff, or the installed package's files)
 *   changelog  the SDK's own changelog entry
 *   aws-docs   AWS's list above
 *   maintainer a maintainer's statement in an issue
 *   inferred   reasoned, e.g. "a generic HTTP client sends what its caller asks"
 * `source` is the coarse form carried in events (SdkInfo.minV2Source): 'aws-docs' only
 * while the row still has AWS's value.
 *
 * `allVersions: true` means every release supports IMDSv2 (the version is not compared).
 *
 * The advice of src/enrich/sdk/fix.ts is data on the rows, never a product name in code:
 * `decidedBy` (whose version decides), `upgradeTo` (what to upgrade), `scriptFix` (the
 * change for a generic HTTP client), `tokenlessEntryPoint` and `remark`. Fixed text may
 * name another row's minimum as `{min:PRODUCT}`, filled in from that row.
 * A generic HTTP client's User-Agent does not name the code driving it, so such rows
 * claim nothing (`supportsV2` stays null).
 */
export type Basis = 'wire' | 'code' | 'changelog' | 'aws-docs' | 'maintainer' | 'inferred';

/** the setting that stops the fallback to IMDSv1 (AWS_EC2_METADATA_V1_DISABLED / ec2_metadata_v1_disabled) */
export interface V1DisableSetting {
  /** first release that reads it; null when not established */
  since: string | null;
  /** releases checked to lack it (installed code, or the wire) */
  absentIn: string[];
  /** no release reads it (checked up to the newest source): "has no setting" whatever the version */
  inNoRelease?: true;
  evidence: string;
}

export interface MinV2Entry {
  /** stable id, used as SdkInfo.name */
  product: string;
  /** human-readable name for reports */
  label: string;
  kind: SdkKind;
  minV2Version: string | null;
  allVersions?: boolean;
  source: 'aws-docs' | 'best-evidence' | 'inferred';
  basis: Basis[];
  /** AWS's value when this row differs from it */
  awsListed?: string;
  evidence: string;
  /** AWS_EC2_METADATA_V1_DISABLED support; absent = not known for this product */
  v1Disable?: V1DisableSetting;
  /**
   * an entry point that sends no token in any release, so an upgrade changes nothing for
   * it: what it is and the code change it needs (fixed text)
   */
  tokenlessEntryPoint?: { name: string; fix: string; /** what an upgrade does fix, said after "upgrade ..." */ afterUpgrade?: string };
  /**
   * releases from minV2Version up to (not including) `version` still make one call without
   * a token at `entryPoint`: upgrade to `version`, or the change in `fix` (fixed text)
   */
  tokenlessUntil?: { version: string; entryPoint: string; fix: string };
  /** the product's name in AWS's list (docs/imds-facts.md#sdk-minimum-versions); absent = not on the list */
  awsList?: string;
  /**
   * the embedded SDK (a product id) whose version in the same User-Agent decides
   * supportsV2 and the setting, because its code makes the IMDS calls (boto3, AWS CLI v1 → botocore)
   */
  decidedBy?: string;
  /** what an upgrade means for this product, when it is not "upgrade LABEL to >= minV2Version" */
  upgradeTo?: UpgradeAdvice;
  /** generic HTTP clients: the script change (fixed text) */
  scriptFix?: string;
  /** a fixed remark carried in SdkInfo.note */
  remark?: string;
}

/**
 * "upgrade NAME to >= min(MINOF)", then "(ALONGSIDE.NAME >= min(ALONGSIDE.MINOF))" or
 * "(NOTE)", then "or to OR_ELSE"; MINOF names the row whose minV2Version is meant.
 */
export interface UpgradeAdvice {
  name: string;
  minOf: string;
  alongside?: { name: string; minOf: string };
  note?: string;
  /** "move to NAME >= min" instead of "upgrade NAME to >= min" (another major version or package) */
  move?: true;
  orElse?: string;
}

const AWS_LIST = 'EC2 UG "Use a supported AWS SDK"';
const TOKEN_PUT_CURL = 'TOKEN=$(curl -sX PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" http://169.254.169.254/latest/api/token)';

export const MIN_V2: Readonly<Record<string, MinV2Entry>> = Object.freeze(
  index([
    // --- AWS's published list, checked where a client was recorded ----------------------
    {
      product: 'aws-cli-v1', label: 'AWS CLI v1', awsList: 'AWS CLI (v1)', kind: 'aws-tool', minV2Version: '1.16.289', source: 'aws-docs', basis: ['aws-docs'], evidence: `${AWS_LIST}; the IMDS calls are botocore's, whose version in the User-Agent decides`,
      v1Disable: { since: null, absentIn: [], evidence: 'through its botocore (>= 1.32.4)' },
      decidedBy: 'botocore', upgradeTo: { name: 'the AWS CLI', minOf: 'aws-cli-v1', alongside: { name: 'botocore', minOf: 'botocore' }, orElse: 'AWS CLI v2' },
    },
    { product: 'aws-tools-powershell', label: 'AWS Tools for PowerShell', awsList: 'AWS Tools for Windows PowerShell', kind: 'aws-tool', minV2Version: '4.0.1.0', source: 'aws-docs', basis: ['aws-docs'], evidence: AWS_LIST },
    { product: 'aws-sdk-dotnet', label: 'AWS SDK for .NET', awsList: 'AWS SDK for .NET', kind: 'aws-sdk', minV2Version: '3.3.634.1', source: 'aws-docs', basis: ['aws-docs'], evidence: AWS_LIST },
    { product: 'aws-sdk-cpp', label: 'AWS SDK for C++', awsList: 'AWS SDK for C++', kind: 'aws-sdk', minV2Version: '1.7.229', source: 'aws-docs', basis: ['aws-docs'], evidence: AWS_LIST },
    {
      product: 'aws-sdk-go-v1', label: 'AWS SDK for Go v1', awsList: 'AWS SDK for Go (v1)', kind: 'aws-sdk', minV2Version: '1.25.38', source: 'aws-docs', basis: ['aws-docs', 'changelog', 'wire'],
      evidence: `${AWS_LIST}; CHANGELOG v1.25.38 "aws/ec2metadata: Adds support for EC2Metadata client to use secure tokens" (#2958); wire: Debian 1.44.133 go-v1-ec2metadata.pcap, go-v1-credentials.pcap (token, v2; 3 unanswered PUTs then v1 in *-hop-limit, 1 PUT 403 then v1 in *-put-403)`,
      v1Disable: { since: '1.47.2', absentIn: ['1.44.133'], evidence: 'CHANGELOG v1.47.2 "aws/ec2metadata: Added environment and shared config support for disabling IMDSv1 fallback" (v1.44.221 added only the Go option aws.WithEC2MetadataDisableFallback); not in Debian 1.44.133 aws/ec2metadata (code)' },
    },
    {
      product: 'aws-sdk-go-v2', label: 'AWS SDK for Go v2', awsList: 'AWS SDK for Go v2', kind: 'aws-sdk', minV2Version: '0.19.0', source: 'aws-docs', basis: ['aws-docs', 'wire'],
      evidence: `${AWS_LIST} (token support: aws-sdk-go-v2 PR #453, in a pre-1.0 release not pinned here); the User-Agent carries the core module version (aws-sdk-go-v2/1.17.1 for Debian's package, feature/ec2/imds 1.12.19); wire: go-v2-imds.pcap, go-v2-credentials.pcap (token, v2; 3 unanswered PUTs then v1 in *-hop-limit, 1 PUT 403 then v1 in *-put-403)`,
      v1Disable: { since: null, absentIn: ['1.17.1'], evidence: 'no EnableFallback option or AWS_EC2_METADATA_V1_DISABLED in Debian 1.17.1 (feature/ec2/imds 1.12.19, config 1.17.10) (code); first release not established here' },
    },
    { product: 'aws-sdk-java-v1', label: 'AWS SDK for Java 1.x', awsList: 'AWS SDK for Java (v1)', kind: 'aws-sdk', minV2Version: '1.11.678', source: 'aws-docs', basis: ['aws-docs'], evidence: AWS_LIST },
    { product: 'aws-sdk-java-v2', label: 'AWS SDK for Java 2.x', awsList: 'AWS SDK for Java 2.x', kind: 'aws-sdk', minV2Version: '2.10.21', source: 'aws-docs', basis: ['aws-docs'], evidence: AWS_LIST },
    {
      product: 'aws-sdk-js-v2', label: 'AWS SDK for JavaScript v2', awsList: 'AWS SDK for JavaScript in Node.js (v2)', kind: 'aws-sdk', minV2Version: '2.575.0', source: 'best-evidence', basis: ['wire', 'code', 'changelog'], awsListed: '2.722.0',
      evidence: 'CHANGELOG 2.575.0 "bugfix: IMDS: Signed IMDS workflow"; git diff v2.574.0..v2.575.0 lib/metadata_service.js adds fetchMetadataToken (PUT /latest/api/token) to loadCredentials, and nothing IMDS-related changes in lib/ from 2.575.0 to 2.722.0 (v2.721.0..v2.722.0 touches only lib/core.js, the version); wire: js-v2-2.574.0-credentials.pcap v1 only, js-v2-2.575.0-credentials.pcap token + v2. EC2MetadataCredentials only: see tokenlessEntryPoint',
      v1Disable: { since: '2.1488.0', absentIn: ['2.1487.0'], evidence: 'CHANGELOG 2.1488.0 "IMDS: IMDSv1 fallback toggle" (lib/metadata_service.js +36); wire: with AWS_EC2_METADATA_V1_DISABLED=true behind hop limit 1, 2.1487.0 still falls back to v1 (js-v2-2.1487.0-credentials-hop-limit-v1-disabled.pcap), 2.1693.0 stops after 4 PUTs (js-v2-2.1693.0-credentials-hop-limit-v1-disabled.pcap)' },
      tokenlessEntryPoint: {
        name: 'AWS.MetadataService.request()',
        afterUpgrade: 'its credential provider then uses tokens',
        fix: "AWS.MetadataService.request() sends no token in any aws-sdk 2.x release (recorded: 2.574.0, 2.575.0, 2.1487.0, 2.1693.0): fetch one first (metadataService.fetchMetadataToken(), public from 2.1627.0; before that request('/latest/api/token', {method: 'PUT', headers: {'x-aws-ec2-metadata-token-ttl-seconds': '21600'}})) and pass it as headers: {'x-aws-ec2-metadata-token': token}, or move to @aws-sdk/ec2-metadata-service",
      },
    },
    { product: 'aws-sdk-kotlin', label: 'AWS SDK for Kotlin', awsList: 'AWS SDK for Kotlin', kind: 'aws-sdk', minV2Version: '1.1.4', source: 'aws-docs', basis: ['aws-docs'], evidence: AWS_LIST },
    { product: 'aws-sdk-php', label: 'AWS SDK for PHP', awsList: 'AWS SDK for PHP', kind: 'aws-sdk', minV2Version: '3.147.7', source: 'aws-docs', basis: ['aws-docs'], evidence: AWS_LIST },
    {
      product: 'botocore', label: 'botocore (Python)', awsList: 'AWS SDK for Python – Botocore', kind: 'aws-sdk', minV2Version: '1.13.23', source: 'best-evidence', basis: ['code', 'changelog', 'wire'], awsListed: '1.13.25',
      evidence: 'code: botocore/utils.py sends X-aws-ec2-metadata-token from tag 1.13.23 (absent in 1.13.22); 1.13.25 only adds the 405 case ("bugfix:IMDS metadata: Add 405 case to metadata fetching logic"), which matters when the PUT is answered 405, not on IMDS; wire: Debian 1.29.27 botocore-credentials.pcap (token, v2)',
      v1Disable: { since: '1.32.4', absentIn: ['1.29.27'], evidence: 'CHANGELOG 1.32.4 "enhancement:IMDS: Adds a config option to opt out of IMDSv1 fallback" (ec2_metadata_v1_disabled in utils.py from 1.32.4, not in 1.32.3); not in Debian 1.29.27 (code)' },
    },
    {
      product: 'boto3', label: 'Boto3 (Python)', awsList: 'AWS SDK for Python – Boto3', kind: 'aws-sdk', minV2Version: '1.12.6', source: 'aws-docs', basis: ['aws-docs'],
      evidence: `${AWS_LIST}; the IMDS calls are botocore's, whose version in the User-Agent decides`,
      v1Disable: { since: null, absentIn: [], evidence: 'through its botocore (>= 1.32.4)' },
      decidedBy: 'botocore', upgradeTo: { name: 'botocore', minOf: 'botocore', alongside: { name: 'boto3', minOf: 'boto3' } },
    },
    {
      product: 'aws-sdk-ruby-v3', label: 'AWS SDK for Ruby v3', awsList: 'AWS SDK for Ruby (v3)', kind: 'aws-sdk', minV2Version: '3.79.0', source: 'aws-docs', basis: ['aws-docs', 'changelog', 'wire'],
      evidence: `${AWS_LIST}; aws-sdk-core CHANGELOG 3.79.0 (2019-11-19) "Support EC2 IMDS updates"; wire: Debian 3.168.1 ruby-v3-credentials.pcap (token, v2; 4 unanswered PUTs then v1 in -hop-limit, 2 PUTs 403 then v1 in -put-403). Aws::EC2Metadata (3.111.0+) never falls back (ruby-v3-ec2metadata-*.pcap)`,
      v1Disable: { since: '3.186.0', absentIn: ['3.168.1'], evidence: 'aws-sdk-core CHANGELOG 3.186.0 "Support disabling IMDSv1 in InstanceProfileCredentials using ENV[\'AWS_EC2_METADATA_V1_DISABLED\']"; not in Debian 3.168.1 instance_profile_credentials.rb (code)' },
    },

    // --- not on the list: every release supports IMDSv2 ------------------------------
    {
      product: 'aws-cli-v2', label: 'AWS CLI v2', kind: 'aws-tool', minV2Version: '2.0.0', allVersions: true, source: 'aws-docs', basis: ['aws-docs', 'code', 'wire'],
      evidence: AWS_LIST + ' ("all v2 releases"); CLI v2 ships its own botocore fork with the token PUT (Debian awscli 2.9.19 awscli/botocore/utils.py); wire: awscli-export-credentials.pcap',
      v1Disable: { since: null, absentIn: ['2.9.19'], evidence: 'no ec2_metadata_v1_disabled in Debian awscli 2.9.19 awscli/botocore (code); first release not established here' },
    },
    {
      product: 'aws-sdk-js-v3', label: 'AWS SDK for JavaScript v3', kind: 'aws-sdk', minV2Version: '3.0.0', allVersions: true, source: 'aws-docs', basis: ['aws-docs', 'wire'],
      evidence: AWS_LIST + ' ("all v3 releases"); wire: js-v3-aws-sdk-imds.pcap (3.374.0), js-v3-smithy-imds.pcap (@smithy 4.5.2), js-v3-ec2-metadata-service.pcap (3.1164.0); none sends a User-Agent to IMDS',
      v1Disable: { since: null, absentIn: [], evidence: 'AWS_EC2_METADATA_V1_DISABLED read by @smithy/credential-provider-imds 4.5.2 and @aws-sdk/ec2-metadata-service 3.1164.0, not by @smithy 1.1.0 (under @aws-sdk/credential-provider-imds 3.374.0) (code); the version never shows on the wire' },
    },
    { product: 'aws-sdk-rust', label: 'AWS SDK for Rust', kind: 'aws-sdk', minV2Version: null, allVersions: true, source: 'inferred', basis: ['code'], evidence: 'aws-config IMDS client is IMDSv2-only and never falls back (smithy-rs aws-config/src/imds/client.rs)' },

    // --- not on the list: unknown or never -------------------------------------------
    {
      product: 'aws-sdk-ruby-v2', label: 'AWS SDK for Ruby v2', kind: 'aws-sdk', minV2Version: null, source: 'best-evidence', basis: ['inferred'], evidence: 'not on the AWS list; upgrade to Ruby v3 >= 3.79.0',
      upgradeTo: { move: true, name: 'aws-sdk-core', minOf: 'aws-sdk-ruby-v3', note: 'the AWS SDK for Ruby v3; no v2 release uses tokens' },
    },
    {
      product: 'aws-sdk-ruby-v1', label: 'AWS SDK for Ruby v1 (aws-sdk-v1)', kind: 'aws-sdk', minV2Version: null, source: 'best-evidence', basis: ['wire', 'code'],
      evidence: 'last release 1.67.0 predates IMDSv2; EC2Provider has no token code (Debian ruby-aws-sdk 1.67.0) and sends User-Agent "Ruby" (Net::HTTP), so its calls are not identifiable by User-Agent (ruby-v1-credentials.pcap)',
      tokenlessEntryPoint: { name: 'AWS::Core::CredentialProviders::EC2Provider', fix: 'the AWS SDK for Ruby v1 never uses tokens: move to aws-sdk-core v3 (>= {min:aws-sdk-ruby-v3})' },
    },
    { product: 'aws-sdk-swift', label: 'AWS SDK for Swift', kind: 'aws-sdk', minV2Version: null, source: 'best-evidence', basis: ['inferred'], evidence: 'not checked' },

    // --- AWS tools and agents: best evidence -----------------------------------------
    {
      product: 'cloud-init', label: 'cloud-init', kind: 'agent', minV2Version: '19.4', source: 'best-evidence', basis: ['changelog', 'code', 'wire'], evidence: 'cloud-init ChangeLog 19.4 "ec2: Add support for AWS IMDS v2 (session-oriented) (#55)" (Debian cloud-init 22.4.2 /usr/share/doc/cloud-init/changelog.gz); wire: 22.4.2 uses tokens only once it has identified the platform as AWS (cloud-init-ec2-aws.pcap vs cloud-init-ec2-unidentified.pcap); the same gate in the newest source (DataSourceEc2.py: _maybe_fetch_api_token and _get_headers return nothing unless cloud_name is in IDMSV2_SUPPORTED_CLOUD_PLATFORMS)',
      tokenlessEntryPoint: {
        name: 'DataSourceEc2 on a platform not identified as AWS',
        fix: 'cloud-init asks for a token only on a platform it identifies as AWS (DMI product UUID starting with ec2: identify_aws in cloudinit/sources/DataSourceEc2.py), in every release; here it did not: check `cloud-id` (aws expected) and /sys/class/dmi/id/product_uuid, and on an image for another cloud take Ec2 out of datasource_list',
      },
    },
    { product: 'amazon-ec2-net-utils', label: 'amazon-ec2-net-utils', kind: 'agent', minV2Version: null, allVersions: true, source: 'inferred', basis: ['inferred'], evidence: 'only releases >= 2.6 send this User-Agent (amazon-ec2-net-utils PR #125), and those use tokens' },
    { product: 'amazon-ssm-agent', label: 'SSM Agent', kind: 'agent', minV2Version: '2.3.814.0', source: 'best-evidence', basis: ['maintainer'], evidence: 'maintainer, aws/amazon-ssm-agent issue #277' },
    { product: 'amazon-ecs-agent', label: 'ECS container agent', kind: 'agent', minV2Version: null, source: 'best-evidence', basis: ['maintainer'], evidence: 'needs aws-sdk-go >= 1.25.38 (aws/amazon-ecs-agent #2322); fixed agent version not found' },
    { product: 'amazon-cloudwatch-agent', label: 'CloudWatch agent', kind: 'agent', minV2Version: null, source: 'best-evidence', basis: ['maintainer'], evidence: 'no documented minimum (aws/amazon-cloudwatch-agent #249, #253)' },
    { product: 'aws-kinesis-agent', label: 'Kinesis Agent', kind: 'agent', minV2Version: '2.0.0', source: 'best-evidence', basis: ['maintainer'], evidence: '1.1.6 fails with tokens required, 2.x works (awslabs/amazon-kinesis-agent #246)' },

    // --- software that calls IMDS itself (docs/imds-facts.md#software-that-calls-imds-itself) --
    {
      product: 's3fs', label: 's3fs-fuse', kind: 'agent', minV2Version: '1.88', source: 'best-evidence', basis: ['changelog', 'code', 'wire'],
      evidence: 's3fs-fuse ChangeLog 1.88 "#1462 - Add AWS IMDSv2 support", 1.91 "#1760 - Fix IAM role retrieval from IMDSv2" (commit 9d1552a: the role-name lookup of iam_role=auto sent no token); wire: Debian 1.90 s3fs-iam-role-auto.pcap (role-name GET v1, credentials GET v2), s3fs-iam-role-named.pcap (token, v2); v1 after an unanswered PUT, a PUT 403 or 404 (*-hop-limit, *-put-403, *-put-404), and after a 404 it asks for no more tokens (SetIMDSVersion(1))',
      v1Disable: { since: null, absentIn: ['1.90'], inNoRelease: true, evidence: 'no option refuses the fallback (imdsv1only does the opposite): s3fs --help of 1.90, src/s3fs_help.cpp of 1.97' },
      tokenlessUntil: { version: '1.91', entryPoint: 'the role-name lookup of -o iam_role=auto', fix: 'name the role: -o iam_role=ROLE_NAME (every call then carries a token: s3fs-iam-role-named.pcap, 1.90)' },
    },
    {
      product: 'rclone', label: 'rclone', kind: 'agent', minV2Version: '1.52.0', source: 'best-evidence', basis: ['code', 'wire'],
      evidence: "the IMDS calls are the AWS SDK for Go's (aws-sdk-go v1 up to 1.67, aws-sdk-go-v2 from 1.68.0) through rclone's HTTP client and User-Agent; go.mod: v1.51.0 aws-sdk-go 1.25.31 (< 1.25.38, no tokens), v1.52.0 1.29.9; wire: Debian 1.60.1 (built with aws-sdk-go 1.44.133) sends \"rclone/\" without a version: rclone-s3-env-auth.pcap (token, v2), v1 after a PUT 403 or 404 (*-put-403, *-put-404); with the PUT unanswered it waits on rclone's own timeouts (no v1 within 40 s, *-hop-limit)",
      v1Disable: { since: '1.66.0', absentIn: ['1.60.1'], evidence: 'go.mod: v1.66.0 aws-sdk-go 1.49.20 (>= 1.47.2, which reads AWS_EC2_METADATA_V1_DISABLED), v1.65.0 1.46.6; v1.68.0 moved to aws-sdk-go-v2 (config 1.27.27), assumed to read it too [infer]' },
    },
    { product: 'datadog-agent', label: 'Datadog Agent', kind: 'agent', minV2Version: '7.64.0', source: 'best-evidence', basis: ['maintainer'], evidence: '>= 7.64.0 uses IMDSv2 by default; earlier only with ec2_prefer_imdsv2 (DataDog/documentation PR #27666)' },

    // --- generic HTTP clients: can send the header; the script must ------------------
    ...([
      ['curl', 'curl (also ec2-metadata from amazon-ec2-utils, which runs curl)', {
        remark: 'curl is also what ec2-metadata (amazon-ec2-utils) runs',
        scriptFix: `add the X-aws-ec2-metadata-token header to this script: ${TOKEN_PUT_CURL}; curl -H "X-aws-ec2-metadata-token: $TOKEN" ... (or use ec2-metadata >= 2.0)`,
      }],
      ['wget', 'GNU Wget', {
        scriptFix: 'add the token to this script: wget --method=PUT --header="X-aws-ec2-metadata-token-ttl-seconds: 300" for /latest/api/token, then --header="X-aws-ec2-metadata-token: $TOKEN" on each call',
      }],
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
      ['powershell', 'PowerShell Invoke-WebRequest / Invoke-RestMethod', {
        scriptFix: 'add the token: Invoke-RestMethod -Method PUT -Headers @{"X-aws-ec2-metadata-token-ttl-seconds"="300"} /latest/api/token, then -Headers @{"X-aws-ec2-metadata-token"=$token}',
      }],
      ['libwww-perl', 'Perl LWP'],
      ['ansible', 'Ansible (its URL client: ec2_metadata_facts, uri, get_url)', {
        basis: ['changelog', 'code', 'wire'],
        evidence: 'every Ansible module fetching a URL sends "ansible-httpget" (ansible.module_utils.urls), so the User-Agent does not say which module; amazon.aws CHANGELOG v1.5.0 "ec2_metadata_facts - add support for IMDSv2" (PR #43); amazon.aws 5.5.1 (Debian ansible 7.7.0) fetch_session_token: 403 fails the task, an unanswered PUT is retried once then fails, a 404 goes on without a token; wire: ansible-ec2-metadata-facts.pcap (token, v2), *-put-404 (v1), *-hop-limit and *-put-403 (no v1)',
        scriptFix: "Ansible's URL client: amazon.aws.ec2_metadata_facts uses tokens from amazon.aws 1.5.0 (ansible-galaxy collection list amazon.aws) and falls back to v1 only when the token PUT is answered 404; a uri or get_url task on 169.254.169.254 needs a PUT /latest/api/token task first (header X-aws-ec2-metadata-token-ttl-seconds) and X-aws-ec2-metadata-token on each call",
      }],
      ['ruby-net-http', 'Ruby Net::HTTP', {
        scriptFix: 'Ruby Net::HTTP without a token: if this is the AWS SDK for Ruby v1 (its EC2Provider sends User-Agent "Ruby" and never uses tokens), move to aws-sdk-core v3 (>= {min:aws-sdk-ruby-v3}); otherwise PUT /latest/api/token first and send X-aws-ec2-metadata-token on each call',
      }],
    ] as Array<[string, string, Partial<Pick<MinV2Entry, 'scriptFix' | 'remark' | 'basis' | 'evidence'>>?]>).map(([product, label, advice]) => ({
      product,
      label,
      kind: 'http-client' as const,
      minV2Version: null,
      source: 'inferred' as const,
      basis: ['inferred' as const] as Basis[],
      evidence: 'generic HTTP client: it sends X-aws-ec2-metadata-token only if the code driving it does; the User-Agent does not name that code (e.g. the Ruby SDK v1 sends "Ruby", ruby-v1-credentials.pcap)',
      ...advice,
    })),

    { product: 'unknown', label: 'unknown client', kind: 'unknown', minV2Version: null, source: 'inferred', basis: ['inferred'], evidence: 'User-Agent not recognised' },
  ]),
);

function index(rows: MinV2Entry[]): Record<string, MinV2Entry> {
  const out: Record<string, MinV2Entry> = {};
  for (const r of rows) out[r.product] = Object.freeze(r);
  return out;
}
