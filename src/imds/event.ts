import type { Endpoint } from '../tcp/stream.js';

/** The event contract of DESIGN.md ("Event contract"). Add fields freely; never rename. */
export type ImdsVersion = 'v1' | 'v2' | 'token';

export type V1Reason =
  | 'no-token-attempt'
  | 'token-put-unanswered'
  | 'token-put-rejected'
  | 'token-expired'
  | 'v2-unsupported-client';

export interface SdkInfo {
  name: string;
  version: string | null;
  /** lowest version of this SDK/tool that supports IMDSv2, null when unknown */
  minV2Version: string | null;
  /** true/false when known from the version, null when unknown */
  supportsV2: boolean | null;
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
  ancestors: Array<{ pid: number; exe: string | null; comm: string | null }>;
  /** network namespace inode, when known */
  netns?: number | null;
}

export interface ContainerInfo {
  runtime: 'docker' | 'containerd' | 'cri-o' | 'podman' | 'kubernetes' | 'ecs' | 'unknown';
  id: string | null;
  name?: string | null;
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
  /** the v2 header was present but empty (classified v1, see DESIGN.md) */
  emptyTokenHeader?: boolean;
}
