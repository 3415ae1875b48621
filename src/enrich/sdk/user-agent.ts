import type { SdkInfo } from '../../imds/event.js';
import { MIN_V2, type MinV2Entry } from './min-v2-versions.js';
import { atLeast } from './version.js';

/**
 * SDK / tool identification from the `User-Agent` a client sent to IMDS.
 *
 * The User-Agent is a hint (applications can override or extend it); process
 * attribution is the ground truth. Only fixed names and version strings matched by a
 * narrow pattern (≤ 40 characters of `[0-9A-Za-z._+~-]`) are copied into the result,
 * never other User-Agent text.
 *
 * Formats (docs/imds-facts.md#user-agent-formats, and the clients installed on this machine):
 * - botocore / boto3 / AWS CLI v1 send botocore's legacy `session.user_agent()`:
 *   `Botocore/1.29.27 Python/3.11.2 Linux/6.1.0 awscrt/1.0.0.dev0`,
 *   `Boto3/1.26.27 Python/3.11.2 Linux/6.1.0 awscrt/1.0.0.dev0 Botocore/1.29.27`,
 *   `aws-cli/1.45.11 Python/3.11.7 Linux/6.1.0 botocore/1.43.11`.
 *   The IMDS fetcher inside is botocore's, so botocore's version decides supportsV2.
 * - AWS CLI v2 sends the truncated form `aws-cli/2.9.19` to IMDS
 *   (`session.user_agent(truncate=True)` in its botocore fork's credentials.py).
 * - JS v2 sends `aws-sdk-nodejs/2.x linux/v20.x` on token-less calls only; its token PUT
 *   and token-bearing GETs carry no User-Agent. JS v3's credential provider and
 *   @aws-sdk/ec2-metadata-service send none.
 * - Recorded in the lab (pcaps/real/manifest.json, pcaps/README.md): Go v1 `aws-sdk-go/1.44.133 (go1.19.8;
 *   linux; amd64)`, Go v2 `aws-sdk-go-v2/1.17.1 os/linux lang/go/1.19.8 ... ft/ec2-imds`
 *   (the core module's version), Ruby v3 `aws-sdk-ruby3/3.168.1`, cloud-init
 *   `Cloud-Init/22.4.2`, WALinuxAgent `WALinuxAgent/2.7.3.0`; the Ruby SDK v1 sends
 *   Net::HTTP's `Ruby`, which names no SDK: a generic HTTP client's row claims nothing
 *   (supportsV2 null), since the User-Agent does not say what code drives it.
 */
const V = '(\\d[0-9A-Za-z._+~-]{0,39})';

interface Hit {
  product: string;
  version: string | null;
}

interface Rule {
  re: RegExp;
  /** product id (a key of MIN_V2), or a function of the match */
  product: string | ((m: RegExpExecArray) => string);
  /** which capture group holds the version (default 1) */
  group?: number;
}

const rx = (src: string, flags = ''): RegExp => new RegExp(src, flags);

/** AWS SDKs: also searched inside the UA of a tool or agent to find the SDK that makes the IMDS calls. */
const SDK_RULES: Rule[] = [
  { re: rx(`\\bBoto3/${V}`, 'i'), product: 'boto3' },
  { re: rx(`(?:^|[\\s(])(?:md/)?botocore[/#]${V}`, 'i'), product: 'botocore' },
  { re: rx(`\\baws-sdk-go-v2/${V}`), product: 'aws-sdk-go-v2' },
  { re: rx(`\\baws-sdk-go/${V}`), product: 'aws-sdk-go-v1' },
  { re: rx(`\\baws-sdk-java/([12])(\\.[0-9A-Za-z._+~-]{0,38})`), product: (m) => `aws-sdk-java-v${m[1]}`, group: -1 },
  { re: rx(`\\baws-sdk-nodejs/${V}`), product: 'aws-sdk-js-v2' },
  { re: rx(`\\baws-sdk-js/([23])(\\.[0-9A-Za-z._+~-]{0,38})`), product: (m) => `aws-sdk-js-v${m[1]}`, group: -1 },
  { re: rx(`\\baws-sdk-ruby([23])/${V}`), product: (m) => `aws-sdk-ruby-v${m[1]}`, group: 2 },
  { re: rx(`\\baws-sdk-php/${V}`), product: 'aws-sdk-php' },
  // .NET: prefer the core assembly's version when present (the IMDS code lives there)
  { re: rx(`\\baws-sdk-dotnet-core/${V}`), product: 'aws-sdk-dotnet' },
  { re: rx(`\\baws-sdk-(?:dotnet-[a-z0-9]+|net)/${V}`), product: 'aws-sdk-dotnet' },
  { re: rx(`\\baws-sdk-cpp/${V}`), product: 'aws-sdk-cpp' },
  { re: rx(`\\baws-sdk-rust/${V}`), product: 'aws-sdk-rust' },
  { re: rx(`\\baws-sdk-kotlin/${V}`), product: 'aws-sdk-kotlin' },
  { re: rx(`\\baws-sdk-swift/${V}`), product: 'aws-sdk-swift' },
];

/** Tools and agents that embed an SDK: matched before the SDK rules. UA tokens of the agents are [uncertain]. */
const WRAPPER_RULES: Rule[] = [
  { re: rx(`^aws-cli/([12])(\\.[0-9A-Za-z._+~-]{0,38})`), product: (m) => `aws-cli-v${m[1]}`, group: -1 },
  { re: rx(`\\b(?:AWSPowerShell(?:\\.NetCore)?|AWS\\.Tools\\.[A-Za-z0-9]+(?:\\.[A-Za-z0-9]+)*)/${V}`), product: 'aws-tools-powershell' },
  { re: rx(`\\bamazon-ssm-agent/${V}`, 'i'), product: 'amazon-ssm-agent' },
  { re: rx(`\\bamazon-ecs-agent/${V}`, 'i'), product: 'amazon-ecs-agent' },
  { re: rx(`\\b(?:CWAgent|amazon-cloudwatch-agent)/${V}`, 'i'), product: 'amazon-cloudwatch-agent' },
  { re: rx(`\\baws-kinesis-agent/${V}`, 'i'), product: 'aws-kinesis-agent' },
  { re: rx(`\\b(?:datadog-agent|Datadog Agent)/${V}`, 'i'), product: 'datadog-agent' },
];

/** Stand-alone tools with their own UA, and generic HTTP clients (anchored at the start). */
const OTHER_RULES: Rule[] = [
  { re: rx(`^Cloud-Init/${V}`, 'i'), product: 'cloud-init' },
  { re: rx(`^amazon-ec2-net-utils/${V}`), product: 'amazon-ec2-net-utils' },
  { re: rx(`^s3fs/${V}`), product: 's3fs' },
  // Debian's rclone 1.60.1 sends "rclone/" with no version (pcaps/real/rclone-s3-env-auth.pcap)
  { re: rx(`^rclone/v?${V}?`), product: 'rclone' },
  { re: rx(`^curl/${V}`), product: 'curl' },
  { re: rx(`^Wget/${V}`, 'i'), product: 'wget' },
  { re: rx(`^python-requests/${V}`), product: 'python-requests' },
  { re: rx(`^Python-urllib/${V}`), product: 'python-urllib' },
  { re: rx(`^python-urllib3/${V}`), product: 'python-urllib3' },
  { re: rx(`^python-httpx/${V}`), product: 'python-httpx' },
  { re: rx(`^Python/\\S+ aiohttp/${V}`), product: 'python-aiohttp' },
  { re: rx(`^Go-http-client/${V}`), product: 'go-http-client' },
  { re: rx(`^Java-http-client/${V}`), product: 'java-httpclient' },
  { re: rx(`^Java/${V}`), product: 'java-httpurlconnection' },
  { re: rx(`^Apache-HttpClient/${V}`), product: 'apache-httpclient' },
  { re: rx(`^okhttp/${V}`), product: 'okhttp' },
  { re: rx(`^node-fetch(?:/${V})?`), product: 'node-fetch' },
  { re: rx(`^undici(?:/${V})?$`), product: 'undici' },
  { re: rx(`^node(?:/${V})?$`), product: 'node' },
  { re: rx(`^axios/${V}`), product: 'axios' },
  { re: rx(`\\b(?:Windows)?PowerShell/${V}`), product: 'powershell' },
  { re: rx(`^libwww-perl/${V}`), product: 'libwww-perl' },
  // Ansible's fetch_url (ansible.module_utils.urls): every module's default, no version
  { re: rx(`^ansible-httpget$`), product: 'ansible' },
  { re: rx(`^Ruby$`), product: 'ruby-net-http' },
];

/** Longest User-Agent looked at; the rest is ignored (bounds regex work on hostile input). */
export const MAX_UA_CHARS = 1024;

function firstHit(rules: Rule[], ua: string): Hit | null {
  for (const r of rules) {
    const m = r.re.exec(ua);
    if (!m) continue;
    const product = typeof r.product === 'string' ? r.product : r.product(m);
    const g = r.group ?? 1;
    const version = g === -1 ? m[1] + m[2] : (m[g] ?? null);
    return { product, version: version ?? null };
  }
  return null;
}

function supportsFrom(entry: MinV2Entry, version: string | null): boolean | null {
  if (entry.allVersions) return true;
  if (version === null || entry.minV2Version === null) return null;
  return atLeast(version, entry.minV2Version);
}

function build(hit: Hit, decider: Hit | null): SdkInfo {
  const entry = MIN_V2[hit.product] ?? MIN_V2.unknown;
  let supportsV2 = supportsFrom(entry, hit.version);
  let note: string | null = entry.remark ?? null;
  let decidedBy: SdkInfo['decidedBy'] = null;
  if (decider && !entry.allVersions) {
    const d = MIN_V2[decider.product];
    const viaSdk = d ? supportsFrom(d, decider.version) : null;
    if (viaSdk !== null) {
      supportsV2 = viaSdk;
      decidedBy = { name: decider.product, version: decider.version };
      note = `IMDS calls are made by ${decider.product} ${decider.version ?? ''}`.trimEnd();
    }
  }
  return {
    name: entry.product,
    version: hit.version,
    minV2Version: entry.minV2Version,
    supportsV2,
    kind: entry.kind,
    minV2Source: entry.source,
    note,
    decidedBy,
  };
}

/**
 * Identify the SDK or tool that sent `userAgent`. null only for a missing or empty
 * User-Agent (its own class: JS v3 credentials, JS v2 token calls, Node's http module,
 * many scripts); an unrecognised one gives `{name: 'unknown', version: null, ...}`.
 */
export function identifySdk(userAgent: string | null): SdkInfo | null {
  if (userAgent === null) return null;
  const ua = userAgent.slice(0, MAX_UA_CHARS).trim();
  if (ua === '') return null;

  const wrapper = firstHit(WRAPPER_RULES, ua);
  if (wrapper) {
    // CLI v1 embeds botocore; agents and PowerShell tools embed an AWS SDK
    const rest = firstHit(SDK_RULES, ua);
    return build(wrapper, rest);
  }
  const sdk = firstHit(SDK_RULES, ua);
  if (sdk) {
    // an SDK that wraps another (boto3 → botocore): the row names it (MinV2Entry.decidedBy)
    const inner = MIN_V2[sdk.product]?.decidedBy;
    return build(sdk, inner ? firstHit(SDK_RULES.filter((r) => r.product === inner), ua) : null);
  }
  const other = firstHit(OTHER_RULES, ua);
  if (other) return build(other, null);
  return build({ product: 'unknown', version: null }, null);
}

/**
 * The SDK whose code makes the IMDS calls: the embedded SDK that decided (`decidedBy`, set
 * by `build`), else the one the product's row names with its version unknown (an event
 * written before `decidedBy` existed), else the identified product itself.
 */
export function imdsCaller(sdk: SdkInfo): { name: string; version: string | null } {
  const d = sdk.decidedBy;
  if (d && MIN_V2[d.name]) return { name: d.name, version: d.version };
  const inner = MIN_V2[sdk.name]?.decidedBy;
  if (inner && MIN_V2[inner]) return { name: inner, version: null };
  return { name: sdk.name, version: sdk.version };
}

/** Human-readable label of a product id ("botocore (Python)"); the id itself when unknown. */
export function sdkLabel(name: string): string {
  return MIN_V2[name]?.label ?? name;
}
