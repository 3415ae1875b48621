import { readFileSync } from 'node:fs';
import type { ObservationWindow, UnwatchedConnections } from '../sinks/state-store.js';
import { execRunner, GATE_TABLE, type Runner } from './gate-rules.js';

/**
 * The boot watch (docs/design.md#boot-watch): IMDS connections made while the daemon did
 * not watch are counted, never lost. systemd/imdswatch-generator installs the chain
 * IMDSWATCH-EARLY at the start of every boot (before any unit runs) and the unit's
 * ExecStopPost after a failure; it counts IMDS SYNs per uid (one `-m owner --uid-owner`
 * rule per uid of /etc/passwd, then a catch-all). At start the daemon, once its gate is up
 * (the gate's jump sits above the early one, so from then on the early chain sees nothing),
 * reads the counters into the window it opened and removes the chain.
 *
 * Counting, not holding: see docs/design.md#boot-watch for why the early rule never
 * queues or drops a SYN.
 */
export const EARLY_CHAIN = 'IMDSWATCH-EARLY';
/** forwarded SYNs (containers): the owner match is valid in OUTPUT only, so they have a chain of their own (uid unknown) */
export const EARLY_FWD_CHAIN = 'IMDSWATCH-EARLY-FWD';
const CHAINS = [EARLY_CHAIN, EARLY_FWD_CHAIN];

/** what the chain's last rule says of when it was armed (its comment) */
export interface EarlyArming {
  kind: 'boot' | 'restart';
  bootId: string | null;
  /** seconds since the kernel started, when armed */
  uptimeSec: number | null;
  /** wall clock (ISO) when armed */
  armedAt: string | null;
  /** TCP connections this network namespace had opened before the chain was there (null: unknown) */
  activeOpensBefore: number | null;
}

export interface EarlyReading {
  /** the chain exists (in this family) */
  present: boolean;
  arming: EarlyArming | null;
  /** SYNs counted per uid; key null: unknown uid or a forwarded SYN */
  byUid: Map<number | null, number>;
}

const num = (v: string | undefined): number | null => (v !== undefined && /^\d+(\.\d+)?$/.test(v) ? Number(v) : null);

/** parse the comment "imdswatch-early v1 kind=boot boot=ID up=1.23 at=1700000000 opens=0" */
export function parseArming(comment: string): EarlyArming | null {
  if (!/^imdswatch-early v1\b/.test(comment)) return null;
  const f: Record<string, string> = {};
  for (const m of comment.matchAll(/(\w+)=(\S+)/g)) f[m[1]!] = m[2]!;
  const at = num(f.at);
  return {
    kind: f.kind === 'restart' ? 'restart' : 'boot',
    bootId: f.boot && /^[0-9a-f-]{36}$/.test(f.boot) ? f.boot : null,
    uptimeSec: num(f.up),
    armedAt: at === null ? null : new Date(at * 1000).toISOString(),
    activeOpensBefore: num(f.opens),
  };
}

/**
 * Parse `iptables -t mangle -S -v` (rules with `-c PACKETS BYTES`; other chains are
 * ignored). A rule with `--uid-owner N` counts uid N; the rule with the comment counts the
 * rest of OUTPUT, the forward chain's rule forwarded SYNs (uid unknown).
 */
export function parseEarlyListing(listing: string): EarlyReading {
  const out: EarlyReading = { present: false, arming: null, byUid: new Map() };
  for (const line of listing.split('\n')) {
    if (CHAINS.some((c) => line === `-N ${c}`)) out.present = true;
    if (!CHAINS.some((c) => line.startsWith(`-A ${c} `))) continue;
    out.present = true;
    const c = / -c (\d+) \d+/.exec(line);
    const packets = c ? Number(c[1]) : 0;
    const uid = / --uid-owner (\d+)\b/.exec(line);
    const comment = / --comment "([^"]*)"/.exec(line) ?? / --comment (\S+)/.exec(line);
    if (comment) out.arming = parseArming(comment[1]!) ?? out.arming;
    const key = uid ? Number(uid[1]) : null;
    if (packets > 0) out.byUid.set(key, (out.byUid.get(key) ?? 0) + packets);
  }
  return out;
}

/** `/proc/net/snmp`'s Tcp ActiveOpens (tests, doctor); null when unreadable */
export function parseActiveOpens(snmp: string): number | null {
  const lines = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
  if (lines.length < 2) return null;
  const i = lines[0]!.split(/\s+/).indexOf('ActiveOpens');
  const v = lines[1]!.split(/\s+/)[i];
  return i > 0 && v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
}

const tool = (family: 4 | 6) => (family === 4 ? 'iptables' : 'ip6tables');

export function readEarlyChain(family: 4 | 6, run: Runner = execRunner): EarlyReading {
  const r = run(tool(family), ['-w', '5', '-t', GATE_TABLE, '-S', '-v']);
  if (!r.ok) return { present: false, arming: null, byUid: new Map() };
  return parseEarlyListing(r.stdout);
}

/** Remove the early chain and its jumps (both families); true when something was there. Safe any time. */
export function removeEarlyChain(run: Runner = execRunner): boolean {
  let found = false;
  for (const family of [4, 6] as const) {
    const t = tool(family);
    const T = ['-w', '5', '-t', GATE_TABLE];
    const listed = run(t, [...T, '-S']);
    if (!listed.ok) continue;
    const lines = listed.stdout.split('\n');
    for (const line of lines) {
      const m = /^-A (\S+) -j (IMDSWATCH-EARLY(?:-FWD)?)$/.exec(line);
      if (m) {
        found = true;
        run(t, [...T, '-D', m[1]!, '-j', m[2]!]);
      }
    }
    for (const chain of CHAINS) {
      if (!lines.includes(`-N ${chain}`)) continue;
      found = true;
      run(t, [...T, '-F', chain]);
      run(t, [...T, '-X', chain]);
    }
  }
  return found;
}

/** what the daemon learns at start, for the window it opens */
export type StartWindowFields = Pick<ObservationWindow, 'startKind' | 'bootStart' | 'fromBoot' | 'unwatched'>;

export interface StartContext {
  /** this boot's id (/proc/sys/kernel/random/boot_id) */
  bootId: string | null;
  /** the windows of the state before the new one was opened */
  earlier: ObservationWindow[];
  /** kernel boot time, ISO */
  bootStart: string | null;
}

/** at most this many makers are kept; `count` stays the total */
export const MAX_UNWATCHED_MAKERS = 32;

/**
 * The fields of the window the daemon opens at start, from the early chain's readings
 * (pure). A boot window is `fromBoot` only when the chain was armed before any TCP
 * connection was opened (so no IMDS connection can have been made unseen).
 */
export function startWindowFields(ctx: StartContext, readings: EarlyReading[]): StartWindowFields {
  const restart = ctx.bootId !== null && ctx.earlier.some((w) => w.bootId === ctx.bootId);
  const fields: StartWindowFields = { startKind: restart ? 'restart' : 'boot' };
  if (!restart) fields.bootStart = ctx.bootStart;
  const present = readings.filter((r) => r.present);
  const arming = present.map((r) => r.arming).find((a) => a !== null) ?? null;
  // From boot: the chain was there before the first TCP connection of its network
  // namespace, so every IMDS connection since was counted or watched. Boot ids are not
  // compared: the sandboxed daemon (ProtectKernelTunables=) and the generator can see
  // different ones in a container, and a chain that outlived a container's boot in a
  // kept namespace counted that boot's calls all the same.
  if (!restart) fields.fromBoot = arming !== null && arming.activeOpensBefore === 0;
  // A restart: the unit's ExecStopPost re-arms the chain when the daemon stops (a crash, a
  // restart, a stop outside shutdown), so a chain present now counted the whole time between
  // the two windows; without one (no iptables, a stop by hand) the gap stays unaccounted.
  else fields.fromBoot = present.length > 0;
  if (present.length === 0) return fields;
  const byUid = new Map<number | null, number>();
  for (const r of present) for (const [uid, n] of r.byUid) byUid.set(uid, (byUid.get(uid) ?? 0) + n);
  const makers = [...byUid.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] ?? Infinity) - (b[0] ?? Infinity))
    .map(([uid, count]) => ({ uid, pid: null, exe: null, unit: null, count, firstTs: null }));
  const unwatched: UnwatchedConnections = {
    count: makers.reduce((s, m) => s + m.count, 0),
    makers: makers.slice(0, MAX_UNWATCHED_MAKERS),
    source: 'early-rule',
  };
  fields.unwatched = unwatched;
  return fields;
}

/** kernel boot time from /proc/stat btime, ISO; null when unreadable */
export function kernelBootTime(stat?: string): string | null {
  try {
    const m = /^btime (\d+)$/m.exec(stat ?? readFileSync('/proc/stat', 'utf8'));
    return m ? new Date(Number(m[1]) * 1000).toISOString() : null;
  } catch {
    return null;
  }
}

/**
 * Read the early chain's counters and remove it: call once the gate is up (or, without a
 * gate, once the capture runs). Returns the fields for the window opened at start.
 */
export function takeOverBootWatch(ctx: Omit<StartContext, 'bootStart'>, run: Runner = execRunner): { fields: StartWindowFields; arming: EarlyArming | null } {
  const readings = [readEarlyChain(4, run), readEarlyChain(6, run)];
  removeEarlyChain(run);
  return { fields: startWindowFields({ ...ctx, bootStart: kernelBootTime() }, readings), arming: readings.find((r) => r.arming)?.arming ?? null };
}

/** one line for the daemon's log: what the boot watch found */
export function describeStart(f: StartWindowFields, arming: EarlyArming | null = null): string {
  const head = f.startKind === 'restart' ? 'daemon restarted within this boot' : `first start of this boot (kernel up since ${f.bootStart ?? 'unknown'})`;
  const armed = arming ? ` (boot watch armed ${arming.uptimeSec ?? '?'} s after kernel start, ${arming.activeOpensBefore ?? 'unknown'} TCP connection(s) opened before)` : '';
  const watched = f.startKind === 'boot' ? (f.fromBoot ? `; watched from the boot's start${armed}` : `; NOT watched from the boot's start${armed}`) : '';
  if (!f.unwatched) return `${head}${watched}; no early count (imdswatch-generator did not arm): IMDS calls before now are unknown`;
  const who = f.unwatched.makers.map((m) => `${m.count} by uid ${m.uid ?? 'unknown'}`).join(', ');
  return `${head}${watched}; ${f.unwatched.count} IMDS connection(s) made before imdswatch watched${who ? ` (${who})` : ''}`;
}
