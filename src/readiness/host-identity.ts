import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Which host an event or a state belongs to: the host name and, on EC2 Nitro
 * instances, the instance id — read from the DMI board asset tag, never from IMDS
 * (asking IMDS would be a call imdswatch itself makes). null elsewhere (Xen
 * instances, other clouds, laptops).
 */
export interface HostIdentity {
  name: string;
  instanceId: string | null;
}

export const BOARD_ASSET_TAG = '/sys/devices/virtual/dmi/id/board_asset_tag';

/** "i-0123456789abcdef0" (8 or 17 hex digits) from the asset tag's text, else null */
export function instanceIdFromAssetTag(text: string | null): string | null {
  const t = (text ?? '').trim();
  return /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(t) ? t : null;
}

export function readHostIdentity(assetTagPath = BOARD_ASSET_TAG, name = hostname()): HostIdentity {
  let text: string | null = null;
  try {
    text = readFileSync(assetTagPath, 'utf8');
  } catch {
    text = null;
  }
  return { name, instanceId: instanceIdFromAssetTag(text) };
}
