import type { DaemonState, SoftwareEntry } from '../sinks/state-store.js';
import type { V1Reason } from '../imds/event.js';
import { fixFor } from '../enrich/sdk/fix.js';

/**
 * "Is this host ready for IMDSv2-only?" from the daemon's state (one host) or many
 * states (a fleet). READY needs zero IMDSv1 calls over at least `minHours` of
 * observation without capture loss; any IMDSv1 call is NOT READY; otherwise UNKNOWN.
 */
export type Verdict = 'READY' | 'NOT READY' | 'UNKNOWN';

export interface ReadinessOptions {
  minHours: number;
  /** only what happened at or after this ISO time (null: everything recorded) */
  since: string | null;
  /** "now", for clipping the last window (ISO) */
  now: string;
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
  v2: number;
  token: number;
  firstSeen: string;
  lastSeen: string;
  paths: string[];
  reasons: Partial<Record<V1Reason, number>>;
  fix: string;
}

export interface Readiness {
  verdict: Verdict;
  why: string[];
  hosts: string[];
  observedHours: number;
  observedSince: string | null;
  totals: { v1: number; v1Rejected: number; v2: number; token: number };
  /** software with IMDSv1 calls, rejected ones first, then by count */
  findings: SoftwareFinding[];
  /** software that used only IMDSv2 (for the record) */
  clean: SoftwareFinding[];
  timeline: Array<{ hour: string; v1: number; v2: number; token: number }>;
  losses: { pcapDrops: number; flowsEvicted: number; unattributed: number };
}

export function softwareName(s: SoftwareEntry): string {
  if (s.exe) return s.container ? `${s.exe} (${s.container})` : s.exe;
  if (s.sdk && s.sdk.name !== 'unknown') return `${s.sdk.name}${s.sdk.version ? ` ${s.sdk.version}` : ''}`;
  return s.userAgent ? `User-Agent "${s.userAgent}"` : '(no User-Agent)';
}

function mainReason(r: Partial<Record<V1Reason, number>>): V1Reason | null {
  let best: V1Reason | null = null;
  for (const [k, n] of Object.entries(r) as Array<[V1Reason, number]>) if (best === null || n > (r[best] ?? 0)) best = k;
  return best;
}

export function computeReadiness(states: Array<{ host: string; state: DaemonState }>, opts: ReadinessOptions): Readiness {
  const since = opts.since;
  const bySoftware = new Map<string, SoftwareFinding>();
  const hourly = new Map<string, { v1: number; v2: number; token: number }>();
  const totals = { v1: 0, v1Rejected: 0, v2: 0, token: 0 };
  const losses = { pcapDrops: 0, flowsEvicted: 0, unattributed: 0 };
  let observedMs = Infinity;
  let observedSince: string | null = null;

  for (const { host, state } of states) {
    let hostMs = 0;
    for (const w of state.windows) {
      const start = since && w.start < since ? since : w.start;
      const end = w.end > opts.now ? opts.now : w.end;
      if (end <= start) continue;
      hostMs += Date.parse(end) - Date.parse(start);
      if (observedSince === null || start < observedSince) observedSince = start;
    }
    // a fleet is only as observed as its least-observed host
    observedMs = Math.min(observedMs, hostMs);
    losses.pcapDrops += state.drops.pcap;
    losses.flowsEvicted += state.drops.flowsEvicted;
    losses.unattributed += state.drops.unattributed;
    for (const [hour, c] of Object.entries(state.hourly)) {
      if (since && hour < since.slice(0, 13)) continue;
      const h = hourly.get(hour) ?? { v1: 0, v2: 0, token: 0 };
      h.v1 += c.v1;
      h.v2 += c.v2;
      h.token += c.token;
      hourly.set(hour, h);
    }
    for (const s of Object.values(state.software)) {
      if (since && s.lastSeen < since) continue;
      const name = softwareName(s);
      const key = JSON.stringify([name, s.unit]);
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
          v2: 0,
          token: 0,
          firstSeen: s.firstSeen,
          lastSeen: s.lastSeen,
          paths: [],
          reasons: {},
          fix: '',
        };
        bySoftware.set(key, f);
      }
      if (!f.hosts.includes(host)) f.hosts.push(host);
      f.v1 += s.v1;
      f.v1Rejected += s.v1Rejected;
      f.v2 += s.v2;
      f.token += s.token;
      if (s.firstSeen < f.firstSeen) f.firstSeen = s.firstSeen;
      if (s.lastSeen > f.lastSeen) f.lastSeen = s.lastSeen;
      for (const p of s.v1Paths) if (f.paths.length < 20 && !f.paths.includes(p)) f.paths.push(p);
      for (const [r, n] of Object.entries(s.reasons) as Array<[V1Reason, number]>) f.reasons[r] = (f.reasons[r] ?? 0) + n;
      f.fix = fixFor(s.sdk, mainReason(f.reasons));
      totals.v1 += s.v1;
      totals.v1Rejected += s.v1Rejected;
      totals.v2 += s.v2;
      totals.token += s.token;
    }
  }
  if (!Number.isFinite(observedMs)) observedMs = 0;
  const all = [...bySoftware.values()];
  // token-less probes for another cloud's metadata (GCP, Azure, ...) do not break under IMDSv2-only
  const probesOnly = (f: SoftwareFinding) => f.v1 > 0 && (f.reasons['foreign-cloud-probe'] ?? 0) === f.v1;
  const probes = all.filter(probesOnly);
  const findings = all.filter((f) => f.v1 > 0 && !probesOnly(f)).sort((a, b) => b.v1Rejected - a.v1Rejected || b.v1 - a.v1 || a.software.localeCompare(b.software));
  const clean = all.filter((f) => f.v1 === 0 || probesOnly(f)).sort((a, b) => a.software.localeCompare(b.software));
  const observedHours = observedMs / 3_600_000;
  const why: string[] = [];
  const probeCalls = probes.reduce((n, f) => n + f.v1, 0);
  let verdict: Verdict;
  if (totals.v1 - probeCalls > 0) {
    verdict = 'NOT READY';
    why.push(`${totals.v1 - probeCalls} IMDSv1 call(s) from ${findings.length} program(s)${totals.v1Rejected ? `; ${totals.v1Rejected} already rejected with 401` : ''}`);
  } else {
    if (observedHours < opts.minHours) why.push(`observed ${observedHours.toFixed(1)} h, less than the ${opts.minHours} h asked for (--min-hours)`);
    if (losses.pcapDrops > 0) why.push(`the capture dropped ${losses.pcapDrops} packet(s): calls may have been missed`);
    if (losses.flowsEvicted > 0) why.push(`${losses.flowsEvicted} connection(s) were evicted from the flow table under load: calls may have been missed`);
    verdict = why.length > 0 ? 'UNKNOWN' : 'READY';
    if (verdict === 'READY') why.push(`no IMDSv1 call in ${observedHours.toFixed(1)} h of observation since ${observedSince}`);
  }
  if (probeCalls > 0) why.push(`${probeCalls} token-less probe(s) for another cloud's metadata (not IMDS paths) are not counted`);
  const timeline = [...hourly.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([hour, c]) => ({ hour, ...c }));
  return {
    verdict,
    why,
    hosts: states.map((s) => s.host),
    observedHours,
    observedSince,
    totals,
    findings,
    clean,
    timeline,
    losses,
  };
}
