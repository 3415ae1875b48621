import type { Socket } from 'node:net';
import { ProcCorrelator } from '../enrich/process/proc-correlator.js';
import { IMDS_PORT, IMDS_V4_TEXT, IMDS_V6_TEXT } from '../domain/endpoint.js';
import type { ProcessInfo } from '../imds/event.js';
import { missingTools, OwnedTable, tableName, type EnforceRule } from './owned-table.js';
import { Responder, type Decision, type UpstreamOpened } from './responder.js';
import { startDelegate, type Delegate } from './delegate.js';
import { MARK_REJECTED, MARK_WOULD_REJECT, type EnforceEvent, type OwnerHint, type WorkloadSummary } from './events.js';
import { cgroupOfPid, cgroupWithin, EnforceError, findCgroup2Root, netnsOf, resolveSelection, type ResolveOptions, type Selection, type Workload } from './workload.js';

/**
 * `imdswatch enforce`: HttpTokens=required for the selected workloads only
 * (docs/design.md#enforce). Stages: resolve each selection to a cgroup v2 path, start one
 * responder per workload, then install the owned nft table that redirects that workload's
 * IMDS connections to it. Any failure before the table is in place undoes what was started.
 */
export { MARK_REJECTED, MARK_WOULD_REJECT, type EnforceEvent, type OwnerHint, type WorkloadSummary } from './events.js';

export interface EnforceOptions {
  /** each selection may set its own dryRun; `dryRun` is the default */
  selections: Array<Selection & { dryRun?: boolean }>;
  dryRun: boolean;
  cgroupRoot?: string;
  /** `process`: the caller as read from /proc (in this process's namespace; a delegate's events have none) */
  onEvent: (e: EnforceEvent, process?: ProcessInfo | null) => void;
  /** a call passed on to IMDS from this process: who it is for (the capture sees it as this process's) */
  onUpstream?: (h: OwnerHint) => void;
  /** the rules went away while running (nft died): enforcement is off */
  onLost?: (why: string) => void;
  /** look up the process behind a client socket; default /proc via ProcCorrelator */
  owner?: (d: ClientSocket) => ProcessInfo | null;
  /** the label of the (one) selection in events, instead of "cgroup:/PATH" (a delegate's parent names it) */
  labelAs?: string;
  /** the CLI entry a delegate runs (default: this process's script) */
  cliPath?: string;
  /** how a container's pid is found (default: `docker`/`podman inspect`; the daemon has asked already) */
  inspect?: ResolveOptions['inspect'];
  /** the owned table's name (default tableName(): one per process; the daemon runs one session per workload) */
  table?: string;
}

export interface EnforceSession {
  workloads: Workload[];
  /** this process's table; null when every workload is enforced from its own namespace */
  table: string | null;
  /** the nft process owning the table (tests) */
  nftPid: number | undefined;
  /** enforce processes in other network namespaces */
  delegatePids: Array<number | undefined>;
  /** what is not enforced (a family without loopback) */
  warnings: string[];
  summary(): WorkloadSummary[];
  /** the workload's mode (its selection's dryRun, else the options') */
  isDryRun(w: Workload): boolean;
  stop(): Promise<WorkloadSummary[]>;
  /** process exit without an event loop: kill nft (the kernel drops the table) */
  removeNow(): void;
}

type ClientSocket = Pick<Decision, 'clientIp' | 'clientPort' | 'family'>;

function defaultOwner(): (d: ClientSocket) => ProcessInfo | null {
  let correlator: ProcCorrelator | null = null;
  return (d) => {
    correlator ??= new ProcCorrelator();
    const tuple = { srcIp: d.clientIp.replace(/^::ffff:/, ''), srcPort: d.clientPort, dstIp: d.family === 4 ? IMDS_V4_TEXT : IMDS_V6_TEXT, dstPort: IMDS_PORT, ipVersion: d.family };
    try {
      return correlator.findSocketOwner(tuple, 100).process;
    } catch {
      return null;
    }
  };
}

export async function startEnforce(opts: EnforceOptions): Promise<EnforceSession> {
  if (opts.selections.length === 0) throw new EnforceError('E_ENFORCE_NO_WORKLOAD', 'name at least one workload: --unit NAME, --container NAME or --cgroup PATH');
  const root = findCgroup2Root(opts.cgroupRoot);
  const dryRunOf = new Map<Workload, boolean>();
  const all = opts.selections.map((s) => {
    const w = resolveSelection(root, s, { inspect: opts.inspect });
    dryRunOf.set(w, s.dryRun ?? opts.dryRun);
    return w;
  });
  if (opts.labelAs && all.length === 1) all[0]!.label = opts.labelAs;
  // a workload in a network namespace of its own is enforced from inside it (delegate.ts)
  const foreign = all.filter((w) => w.pid !== undefined && !sameNetns(w.pid));
  const workloads = all.filter((w) => !foreign.includes(w));
  const missing = missingTools();
  if (missing.length) throw new EnforceError('E_ENFORCE_NO_NFT', `imdswatch enforce needs ${missing.join(' and ')} (apt-get install nftables util-linux); nothing was installed`);
  const own = cgroupOfPid('self');
  const exclude = own && workloads.some((w) => cgroupWithin(own, w.path)) ? { path: own, level: own.split('/').length } : null;

  const owner = opts.owner ?? defaultOwner();
  const summaries = new Map<Workload, WorkloadSummary>();
  const responders: Responder[] = [];
  const rules: EnforceRule[] = [];
  const warnings: string[] = [];
  try {
    for (const w of workloads) {
      const sum: WorkloadSummary = { workload: w.label, cgroup: `/${w.path}`, rejected: 0, wouldReject: 0, passed: 0, calls: [] };
      summaries.set(w, sum);
      const r = new Responder({
        dryRun: dryRunOf.get(w)!,
        onUpstream: opts.onUpstream ? (u: UpstreamOpened) => opts.onUpstream!({ family: u.family, localIp: u.localIp, localPort: u.localPort, workload: w.label, process: owner(u) }) : undefined,
        onDecision: (d: Decision, s: Socket) => {
          if (d.verdict === 'passed') {
            sum.passed++;
            return;
          }
          if (d.verdict === 'rejected') sum.rejected++;
          else sum.wouldReject++;
          const p = owner(d);
          const e: EnforceEvent = {
            type: 'enforce',
            time: new Date().toISOString(),
            verdict: d.verdict,
            note: d.verdict === 'rejected' ? MARK_REJECTED : MARK_WOULD_REJECT,
            workload: w.label,
            method: d.method,
            path: d.path,
            connection: `${d.clientIp}:${d.clientPort} -> ${d.family === 4 ? IMDS_V4_TEXT : `[${IMDS_V6_TEXT}]`}:${IMDS_PORT}`,
            pid: p?.pid ?? null,
            exe: p?.exe ?? null,
            unit: p?.unit ?? null,
            container: p?.container?.name ?? p?.container?.id ?? null,
          };
          const call = `${d.method} ${d.path} by ${p?.exe ?? 'unknown process'}`;
          if (!sum.calls.includes(call) && sum.calls.length < 20) sum.calls.push(call);
          void s;
          opts.onEvent(e, p);
        },
      });
      responders.push(r);
      const ports = await r.listen();
      if (ports.port4 === null && ports.port6 === null) throw new EnforceError('E_ENFORCE_RULE_FAILED', 'cannot listen on loopback (127.0.0.1 or ::1) for the enforce responder; nothing was installed');
      if (ports.port6 === null) warnings.push(`${w.label}: no IPv6 loopback here, so its calls to [${IMDS_V6_TEXT}] are not enforced (IPv4 is)`);
      if (ports.port4 === null) warnings.push(`${w.label}: no IPv4 loopback here, so its calls to ${IMDS_V4_TEXT} are not enforced (IPv6 is)`);
      rules.push({ workload: w, port4: ports.port4, port6: ports.port6 });
    }
  } catch (err) {
    await Promise.all(responders.map((r) => r.close(0)));
    throw err;
  }

  let table: OwnedTable | null = null;
  try {
    if (workloads.length > 0) table = await OwnedTable.install({ table: opts.table ?? tableName(), rules, exclude }, { cgroupRoot: root, onLost: opts.onLost });
  } catch (err) {
    await Promise.all(responders.map((r) => r.close(0)));
    throw err;
  }
  const delegates: Delegate[] = [];
  try {
    for (const w of foreign) delegates.push(await startDelegate(w, { dryRun: dryRunOf.get(w)!, cgroupRoot: root, onEvent: opts.onEvent, onUpstream: opts.onUpstream, onLost: opts.onLost, cliPath: opts.cliPath }));
  } catch (err) {
    await Promise.all(delegates.map((d) => d.stop()));
    await table?.remove();
    await Promise.all(responders.map((r) => r.close(0)));
    throw err;
  }
  const summary = (): WorkloadSummary[] => [...summaries.values()].map((s) => ({ ...s, calls: [...s.calls] }));
  return {
    workloads: [...workloads, ...foreign],
    table: table?.spec.table ?? null,
    nftPid: table?.pid,
    delegatePids: delegates.map((d) => d.pid),
    warnings,
    summary,
    isDryRun: (w) => dryRunOf.get(w) ?? opts.dryRun,
    stop: async () => {
      // rules first: new connections go straight to IMDS again; then let open ones finish
      const [, ...theirs] = await Promise.all([table?.remove(), ...delegates.map((d) => d.stop())]);
      await Promise.all(responders.map((r) => r.close()));
      return [...summary(), ...theirs.flat()];
    },
    removeNow: () => {
      table?.removeNow();
      for (const d of delegates) d.removeNow();
    },
  };
}

function sameNetns(pid: number): boolean {
  const theirs = netnsOf(pid);
  return theirs === null || theirs === netnsOf('self');
}
