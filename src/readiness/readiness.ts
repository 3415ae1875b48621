import type { DaemonState, OverflowBucket, SoftwareEntry } from '../ledger/ledger.js';
import type { V1Reason } from '../imds/event.js';
import { finishJob, jobFix, jobKeyPart, mergeJob, newFindingJob, type FindingJob } from './job-finding.js';
import { programWindow } from './program-window.js';
import { observationOf, type Gap, type Unwatched } from './observation.js';
import { gapsWhy, unwatchedWhy } from './unwatched.js';
import { nextStepOf, type NextStep } from './next-step.js';
import { enforceLinesOf, type EnforceLine } from './enforce-lines.js';

/**
 * "Is this host ready for IMDSv2-only?" from the daemon's state (one host) or many
 * states (a fleet). READY needs zero IMDSv1 calls over at least `minHours` of
 * observation without capture loss or gaps; any IMDSv1 call is NOT READY; otherwise
 * UNKNOWN. A fleet gives every host its own verdict; the fleet's follows from them.
 */
export type Verdict = 'READY' | 'NOT READY' | 'UNKNOWN';

export interface ReadinessOptions {
  minHours: number;
  /** only what happened at or after this ISO time (null: everything recorded) */
  since: string | null;
  /** "now", for clipping the last window (ISO) */
  now: string;
}

export interface ReadinessInput {
  host: string;
  state: DaemonState;
  /** an NDJSON event file (already filtered to the window, exact), not a daemon state file */
  fromEvents?: boolean;
  /** the running daemon's own state file: a window not extended lately is a gap up to now */
  live?: boolean;
  /** per-minute counts of an event file (for a timeline under an hour) */
  minutes?: Map<string, { v1: number; v2: number; token: number }>;
}

export interface SoftwareFinding {
  software: string;
  exe: string | null;
  unit: string | null;
  container: string | null;
  userAgent: string | null;
  sdk: string | null;
  hosts: string[];
  v1: number;
  v1Rejected: number;
  /** the last call was an IMDSv1 call rejected with 401 (IMDSv2 is required and this fails now) */
  brokenNow: boolean;
  v2: number;
  token: number;
  /** findings: first/last IMDSv1 call; already-on-IMDSv2 entries: first/last call */
  firstSeen: string;
  lastSeen: string;
  /** what to edit: redacted command lines, scripts an interpreter or shell ran, users, cron jobs / sessions */
  commands: string[];
  scripts: string[];
  users: string[];
  origins: string[];
  paths: string[];
  reasons: Partial<Record<V1Reason, number>>;
  /** only on findings (software already on IMDSv2 needs none) */
  fix?: string;
  /** (additive) programs of one owner kept only as counts (past the owner's share of the program table): which owner, a few of them */
  overflow?: { owner: string; displaced: number; examples: string[] };
  /** (additive) the cron line, timer or person's shell that made the calls (docs/design.md#jobs) */
  job?: FindingJob;
}

export interface HostReadiness {
  name: string;
  instanceId: string | null;
  verdict: Verdict;
  observedHours: number;
  observedSince: string | null;
  v1: number;
  v1Rejected: number;
  gaps: Gap[];
  why: string[];
  /** (additive) boots that began in the report's window, and how many were watched from their start */
  boots?: { total: number; watchedFromStart: number };
  /** (additive) IMDS connections made while imdswatch was not yet watching (total) */
  unwatched?: number;
}

export interface Readiness {
  verdict: Verdict;
  why: string[];
  hosts: HostReadiness[];
  observedHours: number;
  observedSince: string | null;
  /** 'hour' when a --since window was answered from state files' per-hour counts */
  windowPrecision: 'exact' | 'minute' | 'hour';
  since: string | null;
  totals: { v1: number; v1Rejected: number; v2: number; token: number };
  /** software with IMDSv1 calls, broken-now first, then by count */
  findings: SoftwareFinding[];
  /** software that used only IMDSv2 (for the record) */
  clean: SoftwareFinding[];
  timelineStep: 'hour' | 'minute';
  timeline: Array<{ hour: string; v1: number; v2: number; token: number }>;
  losses: { pcapDrops: number; flowsEvicted: number; unattributed: number; imdsUnread: number; requestGapBytes: number };
  /** observation gaps (daemon stopped or not saving), at most MAX_GAPS listed */
  gaps: Array<Gap & { host: string }>;
  gapsNotListed: number;
  /** (additive) boots that began in the report's window over all hosts, and how many were watched from their start */
  boots: { total: number; watchedFromStart: number };
  /** (additive) IMDS connections made while imdswatch was not yet watching, with what is known of their makers (docs/design.md#observation-gaps) */
  unwatched: Array<Unwatched & { host: string }>;
  unwatchedNotListed: number;
  /** (additive) READY: the command for this host (a fleet: the READY hosts, the account defaults); otherwise what blocks it (docs/design.md#next-step) */
  nextStep: NextStep;
  /** (additive) per workload, what `imdswatch enforce` under the daemon rejected or would have (docs/design.md#enforce) */
  enforce: EnforceLine[];
}

const MAX_GAPS = 50;
const MAX_LIST = 8;

/** what a report calls an overflow bucket (docs/design.md#program-table) */
export const bucketName = (owner: string) => `programs of ${owner} past its share of the program table`;
const BUCKET_FIX = "these programs were kept only as counts: each IMDSv1 call is a warning line naming its program in the daemon's event log (journalctl -u imdswatch -p warning, or the --log-file); fix each as its own finding";

export function softwareName(s: SoftwareEntry): string {
  if ((s as OverflowBucket).examples) return bucketName((s as OverflowBucket).owner);
  if (s.exe) return s.container ? `${s.exe} (${s.container})` : s.exe;
  if (s.sdk && s.sdk.name !== 'unknown') return `${s.sdk.name}${s.sdk.version ? ` ${s.sdk.version}` : ''}`;
  return s.userAgent ? `User-Agent "${s.userAgent}"` : '(no User-Agent)';
}

function mainReason(r: Partial<Record<V1Reason, number>>): V1Reason | null {
  let best: V1Reason | null = null;
  for (const [k, n] of Object.entries(r) as Array<[V1Reason, number]>) if (best === null || n > (r[best] ?? 0)) best = k;
  return best;
}

const merge = (into: string[], from: string[] | undefined) => {
  for (const x of from ?? []) if (into.length < MAX_LIST && !into.includes(x)) into.push(x);
};

/** token-less probes for another cloud's metadata (GCP, Azure, ...) do not break under IMDSv2-only */
const probesOnly = (f: { v1: number; reasons: Partial<Record<V1Reason, number>> }) => f.v1 > 0 && (f.reasons['foreign-cloud-probe'] ?? 0) === f.v1;

function judge(v1: number, probeCalls: number, v1Rejected: number, programs: number, observedHours: number, observedSince: string | null, allGaps: Gap[], losses: Readiness['losses'], minHours: number, unwatched: Unwatched[] = []) {
  const why: string[] = [];
  // a boot or restart an early rule counted is listed, but its connections are judged by `unwatched`
  const gaps = allGaps.filter((g) => !g.accounted);
  let verdict: Verdict;
  if (v1 - probeCalls > 0) {
    verdict = 'NOT READY';
    why.push(`${v1 - probeCalls} IMDSv1 call(s) from ${programs} program(s)${v1Rejected ? `; ${v1Rejected} rejected with 401 (IMDSv2 was required then)` : ''}`);
  } else {
    if (observedHours < minHours) why.push(`observed ${observedHours.toFixed(1)} h, less than the ${minHours} h asked for (--min-hours)`);
    if (gaps.length) why.push(gapsWhy(gaps));
    if (losses.pcapDrops > 0) why.push(`the capture dropped ${losses.pcapDrops} packet(s): calls may have been missed`);
    if (losses.flowsEvicted > 0) why.push(`${losses.flowsEvicted} connection(s) were evicted from the flow table under load: calls may have been missed`);
    if (losses.imdsUnread > 0) why.push(`${losses.imdsUnread} IMDS packet(s) could not be read (IP fragments not reassembled, or an unsupported link type): an IMDSv1 call may be hidden there`);
    // docs/design.md#observation-gaps: connections nobody watched may have been IMDSv1: never READY, not NOT READY (nothing to fix is known)
    if (unwatched.length) why.push(unwatchedWhy(unwatched));
    if (losses.requestGapBytes > 0) why.push(`${losses.requestGapBytes} byte(s) sent to IMDS were not captured (packets dropped inside IMDS connections): an IMDSv1 call may be hidden there`);
    verdict = why.length > 0 ? 'UNKNOWN' : 'READY';
    if (verdict === 'READY') why.push(`no IMDSv1 call in ${observedHours.toFixed(1)} h of observation since ${observedSince}`);
  }
  return { verdict, why };
}

/** `inputs` is read once, in order: a fleet's files can be loaded one at a time (10 000 hosts in bounded memory) */
export function computeReadiness(inputs: Iterable<ReadinessInput>, opts: ReadinessOptions): Readiness {
  const since = opts.since;
  const bySoftware = new Map<string, SoftwareFinding>();
  const times = new Map<SoftwareFinding, { firstAny: string; lastAny: string; firstV1: string | null; lastV1: string | null }>();
  const timelineHours = new Map<string, { v1: number; v2: number; token: number }>();
  const timelineMinutes = new Map<string, { v1: number; v2: number; token: number }>();
  let allHaveMinutes = true;
  const hostSets = new Map<SoftwareFinding, Set<string>>();
  const totals = { v1: 0, v1Rejected: 0, v2: 0, token: 0 };
  const losses = { pcapDrops: 0, flowsEvicted: 0, unattributed: 0, imdsUnread: 0, requestGapBytes: 0 };
  const hosts: HostReadiness[] = [];
  const gaps: Readiness['gaps'] = [];
  let gapsNotListed = 0;
  const boots = { total: 0, watchedFromStart: 0 };
  const unwatched: Readiness['unwatched'] = [];
  let unwatchedNotListed = 0;
  const allUnwatched: Unwatched[] = [];
  let observedMs = Infinity;
  let observedSince: string | null = null;
  let hourPrecision = false;
  let minutePrecision = false;
  const enforce: EnforceLine[] = [];

  for (const { host, state, fromEvents, minutes, live } of inputs) {
    const obs = observationOf(state.windows, since, opts.now, live === true && !fromEvents);
    observedMs = Math.min(observedMs, obs.ms);
    if (obs.since && (observedSince === null || obs.since < observedSince)) observedSince = obs.since;
    for (const g of obs.gaps) {
      if (gaps.length < MAX_GAPS) gaps.push({ host, ...g });
      else gapsNotListed++;
    }
    enforce.push(...enforceLinesOf(state, host, since));
    boots.total += obs.boots.total;
    boots.watchedFromStart += obs.boots.watchedFromStart;
    for (const u of obs.unwatched) {
      allUnwatched.push(u);
      if (unwatched.length < MAX_GAPS) unwatched.push({ host, ...u });
      else unwatchedNotListed++;
    }
    const hostLosses = { pcapDrops: state.drops.pcap, flowsEvicted: state.drops.flowsEvicted, unattributed: state.drops.unattributed, imdsUnread: state.drops.imdsUnread ?? 0, requestGapBytes: state.drops.requestGapBytes ?? 0 };
    losses.pcapDrops += hostLosses.pcapDrops;
    losses.flowsEvicted += hostLosses.flowsEvicted;
    losses.unattributed += hostLosses.unattributed;
    losses.imdsUnread += hostLosses.imdsUnread;
    losses.requestGapBytes += hostLosses.requestGapBytes;
    if (since && !fromEvents) minutePrecision = true;
    for (const [hour, c] of Object.entries(state.hourly)) {
      if (since && hour < since.slice(0, 13)) continue;
      const h = timelineHours.get(hour) ?? { v1: 0, v2: 0, token: 0 };
      h.v1 += c.v1;
      h.v2 += c.v2;
      h.token += c.token;
      timelineHours.set(hour, h);
    }
    if (minutes) {
      for (const [m, c] of minutes) {
        const t = timelineMinutes.get(m) ?? { v1: 0, v2: 0, token: 0 };
        t.v1 += c.v1;
        t.v2 += c.v2;
        t.token += c.token;
        timelineMinutes.set(m, t);
      }
    } else allHaveMinutes = false;

    const host1 = { v1: 0, v1Rejected: 0, probeCalls: 0, programs: 0 };
    for (const s of [...Object.values(state.software), ...Object.values(state.overflow ?? {})]) {
      const w = programWindow(s, since);
      if (!fromEvents && w?.precision === 'hour') hourPrecision = true;
      const bucket = (s as OverflowBucket).examples ? (s as OverflowBucket) : null;
      if (!w) continue;
      const name = softwareName(s);
      // a cron job: one finding per program, user and cron line; a person's shells: one per person (docs/design.md#jobs)
      const jk = jobKeyPart(s);
      const key = JSON.stringify([jk?.interactive ? null : s.exe, s.unit, s.container, s.exe ? null : name, ...(jk ? [jk.key] : [])]);
      let f = bySoftware.get(key);
      if (!f) {
        f = {
          software: name,
          exe: s.exe,
          unit: s.unit,
          container: s.container,
          userAgent: s.userAgent,
          sdk: s.sdk ? `${s.sdk.name}${s.sdk.version ? ` ${s.sdk.version}` : ''}` : null,
          hosts: [],
          v1: 0,
          v1Rejected: 0,
          brokenNow: false,
          v2: 0,
          token: 0,
          firstSeen: '',
          lastSeen: '',
          commands: [],
          scripts: [],
          users: [],
          origins: [],
          paths: [],
          reasons: {},
          ...(bucket ? { overflow: { owner: bucket.owner, displaced: 0, examples: [] } } : {}),
          ...(s.job ? { job: newFindingJob(s) } : {}),
        };
        bySoftware.set(key, f);
      }
      const hs = hostSets.get(f) ?? hostSets.set(f, new Set()).get(f)!;
      if (!hs.has(host)) {
        hs.add(host);
        f.hosts.push(host);
      }
      f.v1 += w.v1;
      f.v1Rejected += w.v1Rejected;
      f.brokenNow ||= w.brokenNow;
      f.v2 += w.v2;
      f.token += w.token;
      // a finding's first/last seen are its IMDSv1 calls; IMDSv2-only software shows any call
      const t = (times.get(f) ?? times.set(f, { firstAny: w.firstSeen, lastAny: w.lastSeen, firstV1: null, lastV1: null }).get(f))!;
      if (w.firstSeen < t.firstAny) t.firstAny = w.firstSeen;
      if (w.lastSeen > t.lastAny) t.lastAny = w.lastSeen;
      if (w.firstV1 && (!t.firstV1 || w.firstV1 < t.firstV1)) t.firstV1 = w.firstV1;
      if (w.lastV1 && (!t.lastV1 || w.lastV1 > t.lastV1)) t.lastV1 = w.lastV1;
      merge(f.commands, s.commands ?? (s.lastCmdline ? [s.lastCmdline] : []));
      merge(f.scripts, s.scripts);
      merge(f.users, s.users);
      merge(f.origins, s.origins);
      mergeJob(f.job, s, host, name, w.v1);
      if (w.v1 > 0) for (const p of s.v1Paths) if (f.paths.length < 20 && !f.paths.includes(p)) f.paths.push(p);
      // reasons are all-time per program (not kept per hour); shown only while the window has v1 calls
      if (w.v1 > 0) for (const [r, n] of Object.entries(s.reasons) as Array<[V1Reason, number]>) f.reasons[r] = (f.reasons[r] ?? 0) + Math.min(n, w.v1);
      if (bucket && f.overflow) {
        f.overflow.displaced += bucket.displaced;
        merge(f.overflow.examples, bucket.examples);
      }
      if (f.v1 > 0 && !probesOnly(f)) f.fix = bucket ? BUCKET_FIX : jobFix(f, s.sdk, mainReason(f.reasons));
      totals.v1 += w.v1;
      totals.v1Rejected += w.v1Rejected;
      totals.v2 += w.v2;
      totals.token += w.token;
      host1.v1 += w.v1;
      host1.v1Rejected += w.v1Rejected;
      if (w.v1 > 0 && (s.reasons['foreign-cloud-probe'] ?? 0) >= s.v1) host1.probeCalls += w.v1;
      else if (w.v1 > 0) host1.programs++;
    }
    const hostHours = obs.ms / 3_600_000;
    const hv = judge(host1.v1, host1.probeCalls, host1.v1Rejected, host1.programs, hostHours, obs.since, obs.gaps, hostLosses, opts.minHours, obs.unwatched);
    hosts.push({
      name: host,
      instanceId: state.instanceId ?? null,
      verdict: hv.verdict,
      observedHours: Math.round(hostHours * 100) / 100,
      observedSince: obs.since,
      v1: host1.v1,
      v1Rejected: host1.v1Rejected,
      gaps: obs.gaps,
      why: hv.why,
      boots: obs.boots,
      unwatched: obs.unwatched.reduce((n, u) => n + u.count, 0),
    });
  }
  if (!Number.isFinite(observedMs)) observedMs = 0;
  const all = [...bySoftware.values()];
  for (const f of all) {
    const t = times.get(f)!;
    f.firstSeen = t.firstV1 ?? t.firstAny;
    f.lastSeen = t.lastV1 ?? t.lastAny;
    finishJob(f);
  }
  const probes = all.filter(probesOnly);
  const findings = all
    .filter((f) => f.v1 > 0 && !probesOnly(f))
    .sort((a, b) => Number(b.brokenNow) - Number(a.brokenNow) || b.v1 - a.v1 || a.software.localeCompare(b.software));
  const clean = all.filter((f) => f.v1 === 0 || probesOnly(f)).sort((a, b) => a.software.localeCompare(b.software));
  for (const f of clean) delete f.fix;
  const observedHours = observedMs / 3_600_000;
  const probeCalls = probes.reduce((n, f) => n + f.v1, 0);
  const why: string[] = [];
  let verdict: Verdict;
  if (hosts.length <= 1) {
    const j = judge(totals.v1, probeCalls, totals.v1Rejected, findings.length, observedHours, observedSince, gaps, losses, opts.minHours, allUnwatched);
    verdict = j.verdict;
    why.push(...j.why);
  } else {
    // the fleet follows its hosts: NOT READY if any host is, READY only if every host is
    const count = (v: Verdict) => hosts.filter((h) => h.verdict === v).length;
    const notReady = count('NOT READY');
    const unknown = count('UNKNOWN');
    verdict = notReady ? 'NOT READY' : unknown ? 'UNKNOWN' : 'READY';
    if (notReady) why.push(`${notReady} of ${hosts.length} host(s) NOT READY: ${totals.v1 - probeCalls} IMDSv1 call(s) from ${findings.length} program(s)${totals.v1Rejected ? `; ${totals.v1Rejected} rejected with 401 (IMDSv2 was required then)` : ''}`);
    if (unknown) why.push(`${unknown} of ${hosts.length} host(s) UNKNOWN (too little observation, gaps, capture loss or IMDS connections made before imdswatch watched)`);
    if (verdict === 'READY') why.push(`all ${hosts.length} hosts READY: no IMDSv1 call, each observed at least ${opts.minHours} h`);
  }
  if (probeCalls > 0) why.push(`${probeCalls} token-less probe(s) for another cloud's metadata (not IMDS paths) are not counted`);
  const spanMs = observedSince ? Date.parse(opts.now) - Date.parse(observedSince) : Infinity;
  if (!hosts.length) allHaveMinutes = false;
  const useMinutes = allHaveMinutes && timelineMinutes.size > 0 && (timelineHours.size <= 2 || spanMs <= 3_600_000);
  const tl = useMinutes ? timelineMinutes : timelineHours;
  const timeline = [...tl.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([hour, c]) => ({ hour, ...c }));
  const nextStep = nextStepOf({ verdict, why, hosts, findings, clean });
  return {
    verdict,
    why,
    hosts,
    observedHours,
    observedSince,
    windowPrecision: hourPrecision ? 'hour' : minutePrecision ? 'minute' : 'exact',
    since,
    totals,
    findings,
    clean,
    timelineStep: useMinutes ? 'minute' : 'hour',
    timeline,
    losses,
    gaps,
    gapsNotListed,
    boots,
    unwatched,
    unwatchedNotListed,
    nextStep,
    enforce,
  };
}
