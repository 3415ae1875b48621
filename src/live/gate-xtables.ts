import { IMDS_PORT, IMDS_V4_TEXT, IMDS_V6_TEXT } from '../domain/endpoint.js';

/**
 * The gate's rules through iptables/ip6tables (docs/design.md#syn-gate): the chains, their
 * install, their exact removal (from the `-S` listing, whatever an older run left), and the
 * system lane's chains (docs/design.md#system-lane).
 *
 *   OUTPUT      → IMDSWATCH-OUT (lane only) → IMDSWATCH
 *   FORWARD     → IMDSWATCH                   (containers: the owner match is not valid here)
 *   POSTROUTING → IMDSWATCH-LOG (lane only)
 *
 * IMDSWATCH holds every IMDS SYN on queue N. With the lane, IMDSWATCH-OUT first holds the
 * host's own system users' (uid 0–999) IMDS SYNs on queue P (NFQUEUE is a verdict, so such a
 * SYN never reaches queue N), and IMDSWATCH-LOG copies their packets to IMDS to NFLOG group
 * G. So a flood by another user fills neither root's queue nor root's capture. Both by the
 * packet's owner, no connection tracking: a host that ran without conntrack keeps running
 * without it (a labelled connection needed it for every connection of the host). IMDS's
 * answers are read from the shared capture. The copy is taken after address translation
 * (POSTROUTING): a connection that `imdswatch enforce` redirects to its responder no longer
 * goes to IMDS there and is not copied, as the shared capture never saw it either (the
 * enforce ledger records it, once).
 */
export const GATE_CHAIN = 'IMDSWATCH';
export const LANE_OUT_CHAIN = 'IMDSWATCH-OUT';
export const LANE_LOG_CHAIN = 'IMDSWATCH-LOG';
/** every chain this tool owns, in the order they can be deleted (a chain before the one it jumps to) */
const OWN_CHAINS = [LANE_OUT_CHAIN, LANE_LOG_CHAIN, GATE_CHAIN];
/**
 * The table the chains live in. Not `filter`: container runtimes own `filter FORWARD`
 * (dockerd inserts `DOCKER-USER`/`-i docker0 ! -o docker0 -j ACCEPT` at its top, the CNI
 * bridge plugin `CNI-FORWARD`), so a jump placed there at boot is displaced as soon as a
 * runtime starts and container SYNs are accepted before they reach it.
 * No runtime manages `mangle` OUTPUT/FORWARD; an NFQUEUE verdict of accept there goes on to
 * `filter` as before. Older versions used `filter`: their leftovers are removed too.
 */
export const GATE_TABLE = 'mangle';
/** the table older versions used (stale rules there are removed on install and remove) */
const LEGACY_TABLE = 'filter';

/** Runs a firewall tool; injectable so the rule logic is testable without root. */
export type Runner = (cmd: string, args: string[]) => { ok: boolean; stdout: string; stderr: string };

/** the system lane's numbers (docs/design.md#system-lane) */
export interface LaneRules {
  /** NFQUEUE of the system users' SYNs */
  queueNum: number;
  /** NFLOG group of their packets, both directions */
  nflogGroup: number;
  /** owner uid range, "0-999" */
  uids: string;
  /** most new lane connections per second (burst: twice as many) */
  ratePerSec: number;
}

export const tool = (family: 4 | 6) => (family === 4 ? 'iptables' : 'ip6tables');
const imds = (family: 4 | 6) => (family === 4 ? IMDS_V4_TEXT : IMDS_V6_TEXT);

/** the gate chain's single rule */
function ruleSpec(family: 4 | 6, queueNum: number): string[] {
  return ['-p', 'tcp', '--syn', '-d', imds(family), '--dport', String(IMDS_PORT), '-j', 'NFQUEUE', '--queue-num', String(queueNum), '--queue-bypass'];
}

/**
 * The lane's rules: [chain, spec] in order. A system user's SYN, within the lane's rate, is
 * held on the lane's queue; its packets to IMDS are copied to NFLOG. Past the rate (a system
 * user's own flood), its SYNs go the shared way, as without the lane, and the daemon reads
 * only connections whose SYN the lane's queue held from the lane (src/live/system-lane.ts);
 * the copies beyond the NFLOG socket's buffer are dropped by the kernel. No per-rule
 * threshold: the group's own flush timeout batches the copies (docs/design.md#lane-batching).
 */
function laneSpecs(family: 4 | 6, lane: LaneRules): Array<[string, string[]]> {
  const mine = ['-p', 'tcp', '-d', imds(family), '--dport', String(IMDS_PORT), '-m', 'owner', '--uid-owner', lane.uids];
  const mySyn = ['-p', 'tcp', '--syn', '-d', imds(family), '--dport', String(IMDS_PORT), '-m', 'owner', '--uid-owner', lane.uids];
  const rate = ['-m', 'limit', '--limit', `${lane.ratePerSec}/sec`, '--limit-burst', String(lane.ratePerSec * 2)];
  return [
    [LANE_OUT_CHAIN, [...mySyn, ...rate, '-j', 'NFQUEUE', '--queue-num', String(lane.queueNum), '--queue-bypass']],
    [LANE_OUT_CHAIN, ['-j', GATE_CHAIN]],
    [LANE_LOG_CHAIN, [...mine, '-j', 'NFLOG', '--nflog-group', String(lane.nflogGroup)]],
  ];
}

/** the chain a hook jumps to */
export function hookTarget(hook: string, lane: boolean): string {
  return lane && hook === 'OUTPUT' ? LANE_OUT_CHAIN : GATE_CHAIN;
}

/** the lane's hook besides the gate's (it jumps to the log chain) */
const LANE_HOOKS = ['POSTROUTING'];

const JUMP = /^-A (\S+) -j (IMDSWATCH(?:-OUT|-LOG)?)$/;

/** our chains and every jump to them, from `-S` */
function listXtables(family: 4 | 6, run: Runner, table: string): { ok: boolean; chains: string[]; jumps: Array<[string, string]> } {
  const out = run(tool(family), ['-w', '5', '-t', table, '-S']);
  const chains: string[] = [];
  const jumps: Array<[string, string]> = [];
  for (const line of out.stdout.split('\n')) {
    const n = /^-N (\S+)$/.exec(line);
    if (n && OWN_CHAINS.includes(n[1]!)) chains.push(n[1]!);
    const m = JUMP.exec(line);
    if (m && !OWN_CHAINS.includes(m[1]!)) jumps.push([m[1]!, m[2]!]);
  }
  return { ok: out.ok, chains, jumps };
}

/**
 * Remove every jump to our chains and the chains themselves; returns true if anything was
 * there. Works from the `-S` listing (exact, whatever hooks an older run used) and checks the
 * result, retrying a few times: under concurrent rule updates a single iptables call can fail.
 */
export function removeXtables(family: 4 | 6, hooks: string[], run: Runner): boolean {
  let found = removeXtablesIn(family, hooks, run, LEGACY_TABLE);
  found = removeXtablesIn(family, hooks, run, GATE_TABLE) || found;
  return found;
}

function removeXtablesIn(family: 4 | 6, hooks: string[], run: Runner, table: string): boolean {
  const t = tool(family);
  const T = ['-w', '5', '-t', table];
  let found = false;
  for (let attempt = 0; attempt < 4; attempt++) {
    const state = listXtables(family, run, table);
    if (!state.ok) {
      // no -S (e.g. a restricted runner): fall back to -C/-D on the known hooks
      for (const hook of [...hooks, ...LANE_HOOKS]) {
        for (const chain of OWN_CHAINS) {
          for (let i = 0; i < 64 && run(t, [...T, '-C', hook, '-j', chain]).ok; i++) {
            found = true;
            run(t, [...T, '-D', hook, '-j', chain]);
          }
        }
      }
      for (const chain of OWN_CHAINS) {
        if (run(t, [...T, '-L', chain, '-n']).ok) {
          found = true;
          run(t, [...T, '-F', chain]);
        }
      }
      for (const chain of OWN_CHAINS) run(t, [...T, '-X', chain]);
      return found;
    }
    if (state.chains.length === 0 && state.jumps.length === 0) return found;
    found = true;
    for (const [hook, chain] of state.jumps) run(t, [...T, '-D', hook, '-j', chain]);
    for (const chain of state.chains) run(t, [...T, '-F', chain]);
    for (const chain of OWN_CHAINS) if (state.chains.includes(chain)) run(t, [...T, '-X', chain]);
    if (attempt > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50 * attempt);
  }
  return found;
}

/** replace whatever was there with the gate's chain (and the lane's, when given) */
export function installXtables(family: 4 | 6, queueNum: number, hooks: string[], run: Runner, lane?: LaneRules): { ok: boolean; stale: boolean; error?: string } {
  const t = tool(family);
  const stale = removeXtables(family, hooks, run);
  const steps: string[][] = [['-N', GATE_CHAIN], ['-A', GATE_CHAIN, ...ruleSpec(family, queueNum)]];
  if (lane) {
    steps.push(['-N', LANE_OUT_CHAIN], ['-N', LANE_LOG_CHAIN]);
    for (const [chain, spec] of laneSpecs(family, lane)) steps.push(['-A', chain, ...spec]);
  }
  for (const h of hooks) steps.push(['-I', h, '1', '-j', hookTarget(h, lane !== undefined)]);
  if (lane) for (const h of LANE_HOOKS) steps.push(['-I', h, '1', '-j', LANE_LOG_CHAIN]);
  for (const s of steps) {
    const r = run(t, ['-w', '5', '-t', GATE_TABLE, ...s]);
    if (!r.ok) {
      removeXtables(family, hooks, run);
      return { ok: false, stale, error: r.stderr.trim().split('\n')[0] };
    }
  }
  return { ok: true, stale };
}

/** what is wrong with the installed xtables rules of one family */
export type GateRuleProblem = 'chain-missing' | 'jump-missing' | 'jump-displaced';

/**
 * Pure check of `iptables -t mangle -S` output: the chain with its NFQUEUE rule exists and
 * each hook's FIRST rule jumps to it (OUTPUT to the lane's chain when the lane is on, and
 * POSTROUTING to the lane's log chain). A jump below another rule is "displaced" (a rule above
 * it may accept a SYN before the gate sees it).
 */
export function inspectGateRules(listing: string, hooks: string[], queueNum: number, lane?: LaneRules): GateRuleProblem | null {
  const chains = new Set<string>();
  let queued = false;
  let laneQueued = lane === undefined;
  const first = new Map<string, string>();
  const jumps = new Set<string>();
  for (const line of listing.split('\n')) {
    const n = /^-N (\S+)$/.exec(line);
    if (n) chains.add(n[1]!);
    if (line.startsWith(`-A ${GATE_CHAIN} `) && line.includes(`--queue-num ${queueNum}`)) queued = true;
    if (lane && line.startsWith(`-A ${LANE_OUT_CHAIN} `) && line.includes(`--queue-num ${lane.queueNum}`)) laneQueued = true;
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (!m) continue;
    if (!first.has(m[1]!)) first.set(m[1]!, m[2]!);
    const j = /^-j (\S+)$/.exec(m[2]!);
    if (j) jumps.add(`${m[1]}>${j[1]}`);
  }
  const want: Array<[string, string]> = hooks.map((h) => [h, hookTarget(h, lane !== undefined)]);
  if (lane) for (const h of LANE_HOOKS) want.push([h, LANE_LOG_CHAIN]);
  if (!chains.has(GATE_CHAIN) || !queued || !laneQueued) return 'chain-missing';
  if (lane && (!chains.has(LANE_LOG_CHAIN) || !jumps.has(`${LANE_OUT_CHAIN}>${GATE_CHAIN}`))) return 'chain-missing';
  for (const [hook, chain] of want) if (!jumps.has(`${hook}>${chain}`)) return 'jump-missing';
  for (const [hook, chain] of want) if (first.get(hook) !== `-j ${chain}`) return 'jump-displaced';
  return null;
}

/** count of jumps to the gate per hook (the lane's OUTPUT chain counts as OUTPUT's gate jump) and the gate chain's rules */
export function statusFromListing(listing: string): { chain: boolean; jumps: Record<string, number>; rules: string[]; lane?: true } {
  const jumps: Record<string, number> = {};
  const rules: string[] = [];
  let chain = false;
  let lane = false;
  for (const line of listing.split('\n')) {
    if (line === `-N ${GATE_CHAIN}`) chain = true;
    if (line === `-N ${LANE_OUT_CHAIN}`) lane = true;
    const m = JUMP.exec(line);
    if (m && !OWN_CHAINS.includes(m[1]!) && m[2] !== LANE_LOG_CHAIN) jumps[m[1]!] = (jumps[m[1]!] ?? 0) + 1;
    if (line.startsWith(`-A ${GATE_CHAIN} `)) rules.push(line);
  }
  return lane ? { chain, jumps, rules, lane } : { chain, jumps, rules };
}
