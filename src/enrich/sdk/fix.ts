import type { SdkInfo, V1Reason } from '../../imds/event.js';
import { MIN_V2, type MinV2Entry, type UpgradeAdvice } from './min-v2-versions.js';
import { imdsCaller } from './user-agent.js';
import { atLeast, compareVersions } from './version.js';

export interface FixHints {
  /** the v1 call carried an empty X-aws-ec2-metadata-token header (a script whose token variable is empty) */
  emptyTokenHeader?: boolean;
}

const SETTING = 'AWS_EC2_METADATA_V1_DISABLED=true (ec2_metadata_v1_disabled)';

/**
 * One line telling an operator what to do about IMDSv1 calls from `sdk` with `reason`.
 * Built only from fixed text, product ids and table versions: never from request data.
 *
 * Every product-specific word comes from the SDK's row in src/enrich/sdk/min-v2-versions.ts
 * (`decidedBy`, `upgradeTo`, `scriptFix`, `tokenlessEntryPoint`, `v1Disable`), whose facts
 * and sources are in docs/imds-facts.md#sdk-minimum-versions; this file names no product.
 * Advice is for the version the User-Agent names: the setting that refuses the v1 fallback
 * only where that release reads it, an upgrade only where it changes what was seen, and a
 * code change for an entry point that sends no token in any release.
 */
export function fixFor(sdk: SdkInfo | null, reason: V1Reason | null, hints: FixHints = {}): string {
  switch (reason) {
    case 'token-put-unanswered':
      // docs/imds-facts.md#hop-limit-and-fallback
      return `set HttpPutResponseHopLimit to 2 (containers: the token PUT's reply is dropped one hop away) or use host networking; ${refuseV1(sdk)}`;
    case 'token-put-rejected':
      // 403 to the PUT: a proxy added X-Forwarded-For, or the endpoint is off (docs/imds-facts.md#status-codes)
      return 'stop adding X-Forwarded-For to token PUTs in the proxy between this client and IMDS (kube2iam, kiam, an HTTP proxy: exclude 169.254.169.254 via NO_PROXY)';
    case 'token-put-not-found':
      // 404/405 to the PUT: real IMDS always serves /latest/api/token (docs/imds-facts.md#status-codes)
      return `its token PUT was answered 404/405, which IMDS never does for /latest/api/token: something else answers on 169.254.169.254 (an emulator or metadata proxy without tokens, or another cloud's metadata service if this host is not on EC2); on EC2 find and remove what intercepts it, or make it pass the PUT through; ${refuseV1(sdk)}`;
    case 'token-expired':
      return `request a new token before its TTL ends (or on a 401) instead of calling without one; ${refuseV1(sdk)}`;
    case 'v2-unsupported-client':
      return upgradeLine(sdk);
    case 'foreign-cloud-probe':
      return "none needed for IMDSv2: a probe for another cloud's metadata service (it will get 401 instead of 404); turn off the agent's cloud detection to silence it";
    case 'no-token-attempt':
    case null:
      return noTokenLine(sdk, hints);
  }
}

/** `{min:PRODUCT}` in a row's fixed text → that row's minV2Version */
export function fillMins(text: string): string {
  return text.replace(/\{min:([a-z0-9-]{1,40})\}/g, (whole, id: string) => MIN_V2[id]?.minV2Version ?? whole);
}

function rowOf(sdk: SdkInfo | null): MinV2Entry | undefined {
  return sdk ? MIN_V2[sdk.name] : undefined;
}

/**
 * The clause about refusing the v1 fallback, for the release that makes the IMDS calls:
 * the setting when that release reads it, "has none" when it is known not to, and a
 * conditional when the version or the first release with it is not known.
 */
export function refuseV1(sdk: SdkInfo | null): string {
  const generic = `then, if this client has it, set ${SETTING} so it never falls back`;
  if (!sdk || sdk.kind === 'http-client' || sdk.kind === 'unknown') return generic;
  const caller = imdsCaller(sdk);
  const entry = MIN_V2[caller.name];
  const v1 = entry?.v1Disable;
  if (!entry || !v1) return generic;
  const label = entry.label;
  if (v1.inNoRelease) return `${label}${caller.version !== null ? ` ${caller.version}` : ''} has no setting to refuse the v1 fallback (no release has one)`;
  const since = v1.since ? ` (${label} reads AWS_EC2_METADATA_V1_DISABLED from ${v1.since})` : '';
  if (caller.version !== null) {
    const has = v1.since ? atLeast(caller.version, v1.since) : null;
    if (has === true) return `then set ${SETTING} so it never falls back`;
    const absent = has === false || v1.absentIn.some((a) => compareVersions(a, caller.version as string) === 0);
    if (absent) return `${label} ${caller.version} has no setting to refuse the v1 fallback${since}`;
  }
  return `then set ${SETTING} if this ${label} version reads it${since}`;
}

function upgradeText(u: UpgradeAdvice): string {
  const min = (id: string): string => MIN_V2[id]?.minV2Version ?? '?';
  let line = u.move ? `move to ${u.name} >= ${min(u.minOf)}` : `upgrade ${u.name} to >= ${min(u.minOf)}`;
  if (u.alongside) line += ` (${u.alongside.name} >= ${min(u.alongside.minOf)})`;
  else if (u.note) line += ` (${u.note})`;
  if (u.orElse) line += ` or to ${u.orElse}`;
  return line;
}

function upgradeLine(sdk: SdkInfo | null): string {
  if (!sdk) return 'upgrade this client to a version that supports IMDSv2';
  const entry = rowOf(sdk);
  if (entry?.upgradeTo) return upgradeText(entry.upgradeTo);
  const label = entry?.label ?? sdk.name;
  // releases before tokenlessUntil.version still make one token-less call: upgrade past it
  if (entry?.tokenlessUntil) return `upgrade ${label} to >= ${entry.tokenlessUntil.version} (${entry.tokenlessUntil.entryPoint} sends no token before it)`;
  const upgrade = sdk.minV2Version ? `upgrade ${label} to >= ${sdk.minV2Version}` : `upgrade ${label} to a release that supports IMDSv2`;
  // An upgrade only fixes the entry points that use tokens in newer releases.
  const tep = entry?.tokenlessEntryPoint;
  if (tep) return `${upgrade} (${tep.afterUpgrade ?? 'its other calls then use tokens'}); ${fillMins(tep.fix)}`;
  return upgrade;
}

function noTokenLine(sdk: SdkInfo | null, hints: FixHints): string {
  if (hints.emptyTokenHeader) {
    return 'the script sends an empty X-aws-ec2-metadata-token header: its token PUT failed or the variable is unset; check the PUT (hop limit, proxy) and stop on failure';
  }
  if (!sdk || sdk.kind === 'unknown' || sdk.name === 'unknown') {
    return 'find the process (imdswatch live attribution) and make it fetch a token: PUT /latest/api/token, then send X-aws-ec2-metadata-token on every call';
  }
  const entry = rowOf(sdk);
  if (sdk.kind === 'http-client') {
    if (entry?.scriptFix) return fillMins(entry.scriptFix);
    return 'this code calls IMDS with a plain HTTP client: PUT /latest/api/token first (header X-aws-ec2-metadata-token-ttl-seconds) and send X-aws-ec2-metadata-token on each call, or use an AWS SDK';
  }
  if (sdk.supportsV2 === false) return upgradeLine(sdk);
  const label = entry?.label ?? sdk.name;
  if (sdk.supportsV2 === null) {
    return `check the version of ${label}${sdk.minV2Version ? ` (IMDSv2 from ${sdk.minV2Version})` : ''} and upgrade it if older; ${refuseV1(sdk)}`;
  }
  // A release that uses tokens, yet no PUT before this call: an entry point that never fetches one,
  // in any release or in those before tokenlessUntil.version.
  const until = entry?.tokenlessUntil;
  if (until && sdk.version !== null && atLeast(sdk.version, until.version) === false) {
    return `${until.entryPoint} sends no token in ${label} ${sdk.version}: upgrade to >= ${until.version}, or ${fillMins(until.fix)}`;
  }
  if (entry?.tokenlessEntryPoint) return fillMins(entry.tokenlessEntryPoint.fix);
  return `this ${label} version supports IMDSv2 but sent no token: look for code that calls IMDS directly or disables tokens; ${refuseV1(sdk)}`;
}
