import { execFile, execFileSync } from 'node:child_process';
import { ImdswatchError, type GateRulesErrorCode } from '../errors/catalogue.js';
import { DEFAULT_QUEUE_NUM, IMDS_V4_TEXT, IMDS_V6_TEXT } from '../domain/endpoint.js';
import { GATE_TABLE, inspectGateRules, installXtables, removeXtables, statusFromListing, tool, type GateRuleProblem, type LaneRules, type Runner } from './gate-xtables.js';

/**
 * The SYN gate's firewall rules. All rules live in dedicated chains (`IMDSWATCH` in the
 * `mangle` table of iptables and ip6tables, that OUTPUT and FORWARD jump to, and the system
 * lane's `IMDSWATCH-OUT` and `IMDSWATCH-LOG`: src/live/gate-xtables.ts); so a stale set from
 * a crash is found exactly (the chains exist / the jumps exist) and replaced, never
 * duplicated. The NFQUEUE target is used with --queue-bypass: with no listener on the queue
 * packets pass untouched (the gate fails open).
 *
 * Backends, in order: xtables (`iptables`, whichever of legacy / nf_tables it is), then the
 * nftables `queue ... bypass` statement in a table of its own (`inet imdswatch`) for hosts
 * without iptables — only where the kernel has nft queue support.
 */
export { GATE_CHAIN, GATE_TABLE, LANE_LOG_CHAIN, LANE_OUT_CHAIN, inspectGateRules, type GateRuleProblem, type LaneRules, type Runner } from './gate-xtables.js';
export const NFT_TABLE = 'imdswatch';
export const IMDS_V4 = IMDS_V4_TEXT; // one endpoint for the program: src/domain/endpoint.ts
export const IMDS_V6 = IMDS_V6_TEXT;
export { DEFAULT_QUEUE_NUM };

export type GateBackend = 'iptables' | 'nft';

export type { GateRulesErrorCode }; // codes and their fixes: src/errors/catalogue.ts, docs/errors.md

export class GateRulesError extends ImdswatchError<GateRulesErrorCode> {
  constructor(code: GateRulesErrorCode, message: string) {
    super(code, message);
    this.name = 'GateRulesError';
  }
}

export interface GateRulesResult {
  backend: GateBackend;
  /** "iptables v1.8.9 (nf_tables)" */
  version: string;
  /** a rule set from an earlier run was found (and replaced) */
  replacedStale: boolean;
  /** families that got rules */
  families: Array<4 | 6>;
  /** non-fatal problems, e.g. ip6tables unavailable */
  warnings: string[];
  /** times the running daemon found its rule removed or displaced and put it back */
  repairs?: number;
  /** the system lane as installed (absent: off or refused) */
  lane?: LaneRules;
}

export const execRunner: Runner = (cmd, args) => {
  try {
    const stdout = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return { ok: true, stdout, stderr: '' };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: string; message?: string };
    return { ok: false, stdout: e.stdout ?? '', stderr: e.stderr ?? e.code ?? e.message ?? 'failed' };
  }
};

export interface GateRulesOptions {
  queueNum: number;
  /** hook chains to jump from */
  hooks: string[];
  runner: Runner;
  /** prefer a backend; default: iptables, then nft */
  backend?: GateBackend;
  /** the system lane (docs/design.md#system-lane); xtables only, dropped with a warning where the kernel refuses it */
  lane?: LaneRules;
}

const DEFAULTS: GateRulesOptions = { queueNum: DEFAULT_QUEUE_NUM, hooks: ['OUTPUT', 'FORWARD'], runner: execRunner };

/** which backend works here; null when none */
export function detectBackend(runner: Runner = execRunner): { backend: GateBackend; version: string } | null {
  const ipt = runner('iptables', ['-V']);
  if (ipt.ok) return { backend: 'iptables', version: ipt.stdout.trim() };
  const nft = runner('nft', ['--version']);
  if (nft.ok) return { backend: 'nft', version: nft.stdout.trim() };
  return null;
}

function isPrivilegeError(stderr: string): boolean {
  return /permission denied|you must be root|operation not permitted/i.test(stderr);
}

export function nftRuleset(queueNum: number): string {
  const rule = (match: string) => `${match} tcp dport 80 tcp flags & (fin|syn|rst|ack) == syn queue num ${queueNum} bypass`;
  const chain = (name: string, hook: string) =>
    `chain ${name} { type filter hook ${hook} priority 0; policy accept; ${rule(`ip daddr ${IMDS_V4}`)}; ${rule(`ip6 daddr ${IMDS_V6}`)}; };`;
  // one command-line argument: nft accepts ';' where a file would have newlines
  return `table inet ${NFT_TABLE} { ${chain('output', 'output')} ${chain('forward', 'forward')} }`;
}

function removeNft(run: Runner): boolean {
  if (!run('nft', ['list', 'table', 'inet', NFT_TABLE]).ok) return false;
  run('nft', ['delete', 'table', 'inet', NFT_TABLE]);
  return true;
}

/**
 * Install (or replace) the gate rules. Throws GateRulesError when no rule could be installed;
 * a family that fails alone (e.g. IPv6 disabled) is a warning.
 */
function withDefaults<T extends object>(options: T): GateRulesOptions {
  const o: Record<string, unknown> = { ...DEFAULTS };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) o[k] = v;
  return o as unknown as GateRulesOptions;
}

export function installGateRules(options: Partial<GateRulesOptions> = {}): GateRulesResult {
  const o = withDefaults(options);
  const det = detectBackend(o.runner);
  if (!det) throw new GateRulesError('E_GATE_NO_FIREWALL_TOOL', 'neither iptables nor nft is installed; install iptables (apt-get install iptables) or run with --no-gate');
  const backend = o.backend ?? det.backend;
  if (backend === 'nft') {
    const stale = removeNft(o.runner);
    const add = o.runner('nft', [nftRuleset(o.queueNum)]);
    if (!add.ok) {
      removeNft(o.runner);
      if (isPrivilegeError(add.stderr)) throw new GateRulesError('E_GATE_NO_PRIVILEGE', 'installing the SYN gate needs root (CAP_NET_ADMIN); run as root or with --no-gate');
      throw new GateRulesError('E_GATE_RULE_FAILED', `nft refused the gate rules (this kernel may lack nft queue support): ${add.stderr.trim().split('\n')[0]}`);
    }
    return { backend, version: det.version, replacedStale: stale, families: [4, 6], warnings: [] };
  }
  const families: Array<4 | 6> = [];
  const warnings: string[] = [];
  let lane = o.lane;
  let stale = false;
  let firstError = '';
  for (let i = 0; i < 2; i++) {
    const family = i === 0 ? 4 : 6;
    const r = installXtables(family, o.queueNum, o.hooks, o.runner, lane);
    if (lane === o.lane) stale ||= r.stale; // a second pass finds the first pass's rules
    if (!r.ok && lane && installXtables(family, o.queueNum, o.hooks, o.runner).ok) {
      // a kernel without owner, limit or NFLOG support: the gate without the lane, for both families
      warnings.push(`${tool(family)}: the system lane is off (${r.error}); system users' calls share the queue and the capture with everyone's`);
      lane = undefined;
      families.length = 0;
      i = -1;
      continue;
    }
    if (r.ok) families.push(family);
    else {
      firstError ||= r.error ?? '';
      warnings.push(`${tool(family)}: could not install the gate rule: ${r.error}`);
    }
  }
  if (families.length === 0) {
    if (isPrivilegeError(firstError)) throw new GateRulesError('E_GATE_NO_PRIVILEGE', 'installing the SYN gate needs root (CAP_NET_ADMIN); run as root or with --no-gate');
    throw new GateRulesError('E_GATE_RULE_FAILED', `iptables refused the gate rule: ${firstError}`);
  }
  return { backend, version: det.version, replacedStale: stale, families, warnings, ...(lane ? { lane } : {}) };
}

/** Remove every gate rule this tool may have left (both backends). Safe to call any time, any number of times. */
export function removeGateRules(options: Partial<Pick<GateRulesOptions, 'hooks' | 'runner'>> = {}): { removed: boolean } {
  const o = withDefaults(options);
  let removed = false;
  if (o.runner('iptables', ['-V']).ok) {
    for (const family of [4, 6] as const) removed = removeXtables(family, o.hooks, o.runner) || removed;
  }
  if (o.runner('nft', ['--version']).ok) removed = removeNft(o.runner) || removed;
  return { removed };
}

/** count of jumps to the gate chain per hook (for tests and `gate --status`) */
export function gateRuleStatus(family: 4 | 6 = 4, runner: Runner = execRunner): ReturnType<typeof statusFromListing> {
  return statusFromListing(runner(tool(family), ['-w', '5', '-t', GATE_TABLE, '-S']).stdout);
}

/**
 * Default period of the rule check (IMDSWATCH_GATE_CHECK_MS overrides, 200 ms .. 10 min).
 * Each check forks `iptables -S` (the daemon's ~120 MiB copied on write: ~40 µs per call at
 * 100 calls/s when it ran every 5 s). A missing or displaced rule shows first in the traffic —
 * a captured SYN the gate never held — and that evidence asks for a check at once
 * (`GateRuleWatch.checkSoon`, at most every EVIDENCE_CHECK_MS), so under traffic the rules are
 * back after one unheld call instead of up to 5 s of them; the period only bounds how late a
 * change is noticed with no IMDS traffic, when it costs no call (docs/design.md#lane-batching).
 */
export const GATE_CHECK_INTERVAL_MS = 30_000;
/** most often a check runs on evidence (an ungated SYN) */
export const EVIDENCE_CHECK_MS = 1_000;

export interface GateRuleWatchOptions {
  queueNum: number;
  /** the lane as installed (GateRulesResult.lane) */
  lane?: LaneRules;
  families: Array<4 | 6>;
  onRepair: (family: 4 | 6, problem: GateRuleProblem, repaired: boolean) => void;
  hooks?: string[];
  runner?: Runner;
  intervalMs?: number;
  /** lists the gate table (async, so the check never blocks held SYNs); injectable for tests */
  list?: (family: 4 | 6) => Promise<{ ok: boolean; stdout: string }>;
}

export interface GateRuleWatch {
  stop(): void;
  /** rules found removed or displaced, and put back */
  repairs(): number;
  /** one check now (tests) */
  check(): Promise<void>;
  /** a captured SYN the gate never held: check now, unless a check ran within EVIDENCE_CHECK_MS */
  checkSoon(): void;
}

const listAsync = (family: 4 | 6): Promise<{ ok: boolean; stdout: string }> =>
  new Promise((resolve) => {
    execFile(tool(family), ['-w', '5', '-t', GATE_TABLE, '-S'], { timeout: 15_000, encoding: 'utf8' }, (err, stdout) => resolve({ ok: !err, stdout: stdout ?? '' }));
  });

function intervalFromEnv(): number {
  const v = Number(process.env.IMDSWATCH_GATE_CHECK_MS);
  return Number.isFinite(v) && v >= 200 && v <= 600_000 ? v : GATE_CHECK_INTERVAL_MS;
}

/**
 * Keeps the xtables gate in place while the daemon runs: every interval, list the table;
 * a removed chain, a removed jump or a jump that is no longer first is put back (the whole
 * set is reinstalled, exactly as at start) and reported through onRepair. A listing that
 * fails (xtables lock held elsewhere) is not a problem; the next check tries again.
 */
export function watchGateRules(opts: GateRuleWatchOptions): GateRuleWatch {
  const o = withDefaults({ queueNum: opts.queueNum, hooks: opts.hooks, runner: opts.runner });
  // a given runner (tests, a probe working in another namespace) lists too; the real one lists without blocking
  const given = opts.runner && opts.runner !== execRunner ? opts.runner : null;
  const list = opts.list ?? (given ? async (family: 4 | 6) => given(tool(family), ['-w', '5', '-t', GATE_TABLE, '-S']) : listAsync);
  let repairs = 0;
  let lastEvidence = -Infinity;
  let busy = false;
  let stopped = false;
  const check = async (): Promise<void> => {
    if (busy || stopped) return;
    busy = true;
    try {
      for (const family of opts.families) {
        const l = await list(family);
        if (!l.ok || stopped) continue;
        const problem = inspectGateRules(l.stdout, o.hooks, o.queueNum, opts.lane);
        if (!problem) continue;
        const r = installXtables(family, o.queueNum, o.hooks, o.runner, opts.lane);
        repairs++;
        opts.onRepair(family, problem, r.ok);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void check(), opts.intervalMs ?? intervalFromEnv());
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
    repairs: () => repairs,
    check,
    checkSoon: () => {
      const now = performance.now();
      if (now - lastEvidence < EVIDENCE_CHECK_MS) return;
      lastEvidence = now;
      void check();
    },
  };
}
