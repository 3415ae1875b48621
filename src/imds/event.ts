import type { Endpoint } from '../tcp/stream.js';

/** The event contract (docs/design.md#event-contract). Add fields freely; never rename. */
export type ImdsVersion = 'v1' | 'v2' | 'token';

export type V1Reason =
  | 'no-token-attempt'
  | 'token-put-unanswered'
  | 'token-put-rejected'
  /** (additive) the token PUT was answered 404 or 405, which IMDS never does for /latest/api/token: something else answered (docs/imds-facts.md#status-codes) */
  | 'token-put-not-found'
  | 'token-expired'
  | 'v2-unsupported-client'
  /** (additive) a token-less GET to another cloud's metadata path (Azure, GCP, OpenStack...): not EC2 IMDS use, kept out of the verdict */
  | 'foreign-cloud-probe';

/** what sort of client a User-Agent names (see src/enrich/sdk/min-v2-versions.ts) */
export type SdkKind = 'aws-sdk' | 'aws-tool' | 'agent' | 'http-client' | 'unknown';

export interface SdkInfo {
  name: string;
  version: string | null;
  /** lowest version of this SDK/tool that supports IMDSv2, null when unknown */
  minV2Version: string | null;
  /** true/false when known from the version, null when unknown */
  supportsV2: boolean | null;
  /** (optional, additive) what sort of client: an AWS SDK, an AWS tool, an agent, a generic HTTP client */
  kind?: SdkKind;
  /** (optional, additive) where minV2Version comes from */
  minV2Source?: 'aws-docs' | 'best-evidence' | 'inferred' | null;
  /** (optional, additive) short fixed remark, e.g. which embedded SDK version decided supportsV2 */
  note?: string | null;
  /** (optional, additive) the embedded SDK whose code makes the IMDS calls and whose version decided supportsV2 (boto3, AWS CLI v1 → botocore) */
  decidedBy?: { name: string; version: string | null } | null;
}

export interface ProcessInfo {
  pid: number;
  exe: string | null;
  /** argv joined by spaces, truncated, secrets redacted */
  cmdline: string | null;
  uid: number | null;
  user: string | null;
  unit: string | null;
  container: ContainerInfo | null;
  /** parent chain up to pid 1, nearest first */
  ancestors: Array<{ pid: number; exe: string | null; comm: string | null; /** (additive) redacted argv of the ancestor */ cmdline?: string | null }>;
  /** network namespace inode, when known */
  netns?: number | null;
  /**
   * (optional, additive) the connection reached IMDS through a user-mode network
   * proxy (rootless Podman's slirp4netns): the proxy's pid and exe. The fields above name the
   * process inside the container when it could be found, else the proxy itself.
   */
  via?: { kind: 'rootless-network-proxy'; pid: number; exe: string | null } | null;
  /**
   * (optional, additive) the executable the process runs is not the host's file at `exe`'s
   * path (seen through another mount namespace: a bind mount over /usr/bin/wget, say).
   * 'other-file': the host has a different file there; 'no-host-file': the host has none.
   * `exe` then reads "PATH (not the host's file)", so it is never merged with the real program.
   */
  exeMismatch?: 'other-file' | 'no-host-file';
  /**
   * (optional, additive) the login session the process belongs to (audit loginuid and
   * sessionid, /proc/PID/loginuid and sessionid, set by pam_loginuid at ssh, console and
   * cron logins and inherited by everything started in it): `uid`/`user` name the person who
   * logged in, whatever uid the process runs as now (sudo), `session` their session. Absent
   * for processes outside any login (services, boot).
   */
  login?: { uid: number; user: string | null; session: number | null };
}

export interface ContainerInfo {
  runtime: 'docker' | 'containerd' | 'cri-o' | 'podman' | 'kubernetes' | 'ecs' | 'unknown';
  id: string | null;
  name?: string | null;
  /** (optional, additive) image reference from the runtime's metadata, e.g. "nginx:1.25" */
  image?: string | null;
  pod?: { uid: string; namespace?: string | null; name?: string | null } | null;
}

export type Attribution = 'gate' | 'passive' | 'none';

export interface ImdsEvent {
  ts: string;
  version: ImdsVersion;
  method: string;
  path: string;
  status: number | null;
  client: Endpoint;
  server: Endpoint;
  userAgent: string | null;
  sdk: SdkInfo | null;
  process: ProcessInfo | null;
  attribution: Attribution;
  reason: V1Reason | null;
  /** HTTP version of the request ("HTTP/1.1", ...) */
  httpVersion: string;
  /** token TTL asked for, on token requests (a number, never the token) */
  tokenTtl?: number | null;
  /** the v2 header was present but empty (classified v1, see docs/imds-facts.md#classification) */
  emptyTokenHeader?: boolean;
  /**
   * (additive) the request's head went past a parser limit (over 8 KiB, or over 200 headers):
   * the headers after the limit were read for the token header, token TTL and User-Agent only
   * (docs/design.md#unfinished-requests)
   */
  headOverLimit?: 'E_HTTP_HEADERS_TOO_LARGE' | 'E_HTTP_TOO_MANY_HEADERS';
}
