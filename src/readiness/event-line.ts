import type { ContainerInfo, ImdsEvent, ProcessInfo } from '../imds/event.js';
import { isIsoTime } from '../ledger/ledger.js';

/**
 * One reader of an event as a log line carries it (the daemon's log, scan's NDJSON): for
 * `report` over event files (src/readiness/inputs.ts) and for `scan` following the daemon
 * (src/cli/scan-follow.ts). Every field of the type it claims — a hand-edited or foreign
 * line must not crash a report — and only the fields the event contract names
 * (docs/design.md#event-contract): nothing else of a line is carried into a state.
 */
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** a line's event (`{event: …}` of the daemon's log, or the bare event of scan's NDJSON), or null */
export function eventOf(v: unknown): ImdsEvent | null {
  if (!v || typeof v !== 'object') return null;
  const e = v as Record<string, unknown>;
  const client = e.client as { ip?: unknown; port?: unknown } | null;
  if (!isIsoTime(e.ts) || !['v1', 'v2', 'token'].includes(e.version as string)) return null;
  if (!client || typeof client !== 'object' || typeof client.ip !== 'string') return null;
  const ev = { ...e } as unknown as ImdsEvent;
  ev.method = str(e.method) ?? 'GET';
  ev.path = typeof e.path === 'string' ? e.path : String(e.path ?? '');
  ev.reason = (str(e.reason) as ImdsEvent['reason']) ?? null;
  ev.attribution = e.attribution === 'gate' || e.attribution === 'passive' ? e.attribution : 'none';
  ev.userAgent = str(e.userAgent);
  ev.sdk = (e.sdk && typeof e.sdk === 'object' ? e.sdk : null) as ImdsEvent['sdk'];
  ev.process = processOf(e.process);
  return ev;
}

/** a line's process, each field typed; the optional login session and exe mismatch kept when well formed */
export function processOf(v: unknown): ProcessInfo | null {
  if (!v || typeof v !== 'object') return null;
  const p = v as Record<string, unknown>;
  const c = p.container && typeof p.container === 'object' ? (p.container as Record<string, unknown>) : null;
  const login = p.login && typeof p.login === 'object' ? (p.login as Record<string, unknown>) : null;
  return {
    pid: typeof p.pid === 'number' ? p.pid : 0,
    exe: str(p.exe),
    cmdline: str(p.cmdline),
    uid: typeof p.uid === 'number' ? p.uid : null,
    user: str(p.user),
    unit: str(p.unit),
    container: c
      ? {
          runtime: (str(c.runtime) ?? 'unknown') as ContainerInfo['runtime'],
          id: str(c.id),
          name: str(c.name),
          image: str(c.image),
          pod: c.pod && typeof c.pod === 'object' && typeof (c.pod as { uid?: unknown }).uid === 'string' ? (c.pod as { uid: string; namespace?: string | null; name?: string | null }) : null,
        }
      : null,
    ancestors: Array.isArray(p.ancestors)
      ? p.ancestors
          .filter((a): a is Record<string, unknown> => !!a && typeof a === 'object')
          .map((a) => ({ pid: typeof a.pid === 'number' ? a.pid : 0, exe: str(a.exe), comm: str(a.comm), cmdline: str(a.cmdline) }))
      : [],
    ...(p.exeMismatch === 'other-file' || p.exeMismatch === 'no-host-file' ? { exeMismatch: p.exeMismatch } : {}),
    ...(login && typeof login.uid === 'number'
      ? { login: { uid: login.uid, user: str(login.user), session: typeof login.session === 'number' ? login.session : null } }
      : {}),
  } as ProcessInfo;
}
