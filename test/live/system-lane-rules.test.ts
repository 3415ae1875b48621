import { describe, expect, it } from 'vitest';
import { GATE_CHAIN, LANE_LOG_CHAIN, LANE_OUT_CHAIN, gateRuleStatus, inspectGateRules, installGateRules, removeGateRules, watchGateRules } from '../../src/live/gate-rules.js';
import { laneRules } from '../../src/live/system-lane.js';
import { fakeIptables } from './fake-iptables.js';

/** The system lane's rules (docs/design.md#system-lane) against the in-memory iptables. */
const lane = laneRules(7);

describe('system lane rules (fake iptables)', () => {
  it("OUTPUT jumps to the lane chain, which holds system users' SYNs on queue 8 (within the lane's rate) and goes on to the gate; POSTROUTING copies their packets to NFLOG; no connection tracking", () => {
    const ipt = fakeIptables();
    const r = installGateRules({ runner: ipt, queueNum: 7, lane });
    expect(r).toMatchObject({ families: [4, 6], warnings: [], lane });
    for (const fam of ['iptables', 'ip6tables'] as const) {
      const t = ipt.tables[fam]!;
      expect(t.get('OUTPUT')).toEqual([`-j ${LANE_OUT_CHAIN}`]);
      expect(t.get('FORWARD')).toEqual([`-j ${GATE_CHAIN}`]);
      expect(t.get('INPUT')).toEqual([]);
      expect(t.get('POSTROUTING')).toEqual([`-j ${LANE_LOG_CHAIN}`]);
      expect(t.get(LANE_OUT_CHAIN)).toEqual([
        expect.stringMatching(/--syn .*--uid-owner 0-999 -m limit --limit 200\/sec --limit-burst 400 -j NFQUEUE --queue-num 8 --queue-bypass$/),
        `-j ${GATE_CHAIN}`,
      ]);
      // after address translation: a connection enforce redirects is not copied; no per-rule
      // threshold (1 flushed every packet to the daemon: the group's own timeout batches them,
      // docs/design.md#lane-batching)
      expect(t.get(LANE_LOG_CHAIN)).toEqual([expect.stringMatching(/--dport 80 -m owner --uid-owner 0-999 -j NFLOG --nflog-group 7$/)]);
      expect([...t.values()].flat().join('\n')).not.toMatch(/conn(label|mark|track)|ctstate|--state/);
    }
    // the gate's own view: one jump per hook, one gate rule
    expect(gateRuleStatus(4, ipt)).toEqual({ chain: true, jumps: { OUTPUT: 1, FORWARD: 1 }, rules: [expect.stringContaining('--queue-num 7')], lane: true });
  });

  it('removes every chain and jump, and a later install without the lane leaves none of the lane behind', () => {
    const ipt = fakeIptables();
    installGateRules({ runner: ipt, lane });
    expect(installGateRules({ runner: ipt }).replacedStale).toBe(true);
    expect(ipt.tables.iptables!.has(LANE_OUT_CHAIN)).toBe(false);
    expect(ipt.tables.iptables!.get('POSTROUTING')).toEqual([]);
    installGateRules({ runner: ipt, lane });
    expect(removeGateRules({ runner: ipt }).removed).toBe(true);
    for (const fam of ['iptables', 'ip6tables'] as const) expect([...ipt.tables[fam]!.entries()]).toEqual([['INPUT', []], ['FORWARD', []], ['OUTPUT', []], ['POSTROUTING', []]]);
  });

  it('a kernel that refuses the lane (no owner, limit or NFLOG) gets the gate alone, for both families, with a warning', () => {
    const ipt = fakeIptables({ refuse: /NFLOG/ });
    const r = installGateRules({ runner: ipt, lane });
    expect(r.lane).toBeUndefined();
    expect(r.families).toEqual([4, 6]);
    expect(r.warnings.join('\n')).toMatch(/system lane is off/);
    expect(r.replacedStale).toBe(false);
    for (const fam of ['iptables', 'ip6tables'] as const) {
      expect(ipt.tables[fam]!.get('OUTPUT')).toEqual([`-j ${GATE_CHAIN}`]);
      expect(ipt.tables[fam]!.has(LANE_OUT_CHAIN)).toBe(false);
    }
  });

  it('the rule check sees a lane chain removed, a lane jump displaced, and puts the whole set back', async () => {
    const ipt = fakeIptables();
    const r = installGateRules({ runner: ipt, lane });
    const listing = () => ipt('iptables', ['-t', 'mangle', '-S']).stdout;
    const hooks = ['OUTPUT', 'FORWARD'];
    expect(inspectGateRules(listing(), hooks, 7, r.lane)).toBeNull();
    // without the lane in mind, an OUTPUT that jumps to the lane chain is not the gate's layout
    expect(inspectGateRules(listing(), hooks, 7)).toBe('jump-missing');
    ipt.tables.iptables!.get('POSTROUTING')!.unshift('-j ACCEPT');
    expect(inspectGateRules(listing(), hooks, 7, r.lane)).toBe('jump-displaced');
    ipt.tables.iptables!.get(LANE_OUT_CHAIN)!.splice(0, 1); // the lane's queue rule
    expect(inspectGateRules(listing(), hooks, 7, r.lane)).toBe('chain-missing');
    const seen: string[] = [];
    const w = watchGateRules({ queueNum: 7, lane: r.lane, families: [4], runner: ipt, intervalMs: 600_000, onRepair: (_f, p, ok) => seen.push(`${p}:${ok}`) });
    try {
      await w.check();
    } finally {
      w.stop();
    }
    expect(seen).toEqual(['chain-missing:true']);
    expect(inspectGateRules(listing(), hooks, 7, r.lane)).toBeNull();
  });
});
