import { describe, expect, it } from 'vitest';
import { GATE_CHAIN, gateRuleStatus, installGateRules, nftRuleset, removeGateRules } from '../../src/live/gate-rules.js';
import { fakeIptables } from './fake-iptables.js';

describe('gate rules (fake iptables)', () => {
  it('installs one NFQUEUE rule in a dedicated chain jumped to from OUTPUT and FORWARD, for both families', () => {
    const ipt = fakeIptables();
    const r = installGateRules({ queueNum: 9, runner: ipt });
    expect(r).toMatchObject({ backend: 'iptables', replacedStale: false, families: [4, 6], warnings: [] });
    for (const fam of [4, 6] as const) {
      const s = gateRuleStatus(fam, ipt);
      expect(s.chain).toBe(true);
      expect(s.jumps).toEqual({ OUTPUT: 1, FORWARD: 1 });
      expect(s.rules).toHaveLength(1);
      expect(s.rules[0]).toContain('--syn');
      expect(s.rules[0]).toContain('--queue-num 9 --queue-bypass');
      expect(s.rules[0]).toContain(fam === 4 ? '169.254.169.254' : 'fd00:ec2::254');
    }
  });

  it('replaces a stale set (even duplicated jumps) instead of adding a second one', () => {
    const ipt = fakeIptables();
    installGateRules({ runner: ipt });
    ipt.tables.iptables!.get('OUTPUT')!.push(`-j ${GATE_CHAIN}`); // an older run's duplicate
    const r = installGateRules({ runner: ipt });
    expect(r.replacedStale).toBe(true);
    expect(gateRuleStatus(4, ipt).jumps).toEqual({ OUTPUT: 1, FORWARD: 1 });
    expect(gateRuleStatus(4, ipt).rules).toHaveLength(1);
  });

  it('removes everything, and removing twice is harmless', () => {
    const ipt = fakeIptables();
    installGateRules({ runner: ipt });
    expect(removeGateRules({ runner: ipt }).removed).toBe(true);
    expect(gateRuleStatus(4, ipt)).toEqual({ chain: false, jumps: {}, rules: [] });
    expect(gateRuleStatus(6, ipt)).toEqual({ chain: false, jumps: {}, rules: [] });
    expect(removeGateRules({ runner: ipt }).removed).toBe(false);
  });

  it('says clearly when it lacks the rights', () => {
    expect(() => installGateRules({ runner: fakeIptables({ denied: true }) })).toThrow(expect.objectContaining({ code: 'E_GATE_NO_PRIVILEGE' }));
  });

  it('reports a missing firewall tool', () => {
    expect(() => installGateRules({ runner: fakeIptables({ missing: true }) })).toThrow(expect.objectContaining({ code: 'E_GATE_NO_FIREWALL_TOOL' }));
  });

  it('keeps IPv4 when ip6tables fails, with a warning', () => {
    const r = installGateRules({ runner: fakeIptables({ noIp6: true }) });
    expect(r.families).toEqual([4]);
    expect(r.warnings).toHaveLength(1);
  });

  it('builds an nft ruleset with bypass for hosts that have nft queue', () => {
    const s = nftRuleset(7);
    expect(s).toContain('table inet imdswatch');
    expect(s.match(/queue num 7 bypass/g)).toHaveLength(4);
    expect(s).toContain('ip6 daddr fd00:ec2::254');
  });
});
