import { describe, expect, it } from 'vitest';
import { GATE_CHAIN, gateRuleStatus, inspectGateRules, installGateRules, nftRuleset, removeGateRules, watchGateRules } from '../../src/live/gate-rules.js';
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

describe('gate rules: the mangle table, and a rule that something else changes (#10 item 9)', () => {
  it('lives in mangle (runtimes own filter FORWARD) and removes an older version\'s filter-table set', () => {
    const ipt = fakeIptables();
    // what a version that used the filter table left after a crash
    ipt.tables['iptables/filter']!.set(GATE_CHAIN, ['-p tcp --syn -j NFQUEUE --queue-num 7 --queue-bypass']);
    ipt.tables['iptables/filter']!.get('FORWARD')!.unshift(`-j ${GATE_CHAIN}`);
    const r = installGateRules({ runner: ipt });
    expect(r.replacedStale).toBe(true);
    expect(ipt.tables['iptables/filter']!.has(GATE_CHAIN)).toBe(false);
    expect(ipt.tables['iptables/filter']!.get('FORWARD')).toEqual([]);
    expect(ipt.tables.iptables!.get('FORWARD')).toEqual([`-j ${GATE_CHAIN}`]);
  });

  it('inspects a listing: ok, displaced, jump missing, chain missing', () => {
    const ok = ['-P FORWARD ACCEPT', `-N ${GATE_CHAIN}`, `-A OUTPUT -j ${GATE_CHAIN}`, `-A FORWARD -j ${GATE_CHAIN}`, `-A ${GATE_CHAIN} -p tcp -j NFQUEUE --queue-num 7 --queue-bypass`];
    const hooks = ['OUTPUT', 'FORWARD'];
    expect(inspectGateRules(ok.join('\n'), hooks, 7)).toBeNull();
    expect(inspectGateRules(ok.join('\n'), hooks, 8)).toBe('chain-missing');
    const displaced = [...ok.slice(0, 3), '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT', ...ok.slice(3)];
    expect(inspectGateRules(displaced.join('\n'), hooks, 7)).toBe('jump-displaced');
    expect(inspectGateRules(ok.filter((l) => !l.startsWith('-A FORWARD')).join('\n'), hooks, 7)).toBe('jump-missing');
    expect(inspectGateRules(ok.filter((l) => !l.includes(`-N ${GATE_CHAIN}`)).join('\n'), hooks, 7)).toBe('chain-missing');
  });

  it('the watch puts back a displaced and a removed rule and counts each repair', async () => {
    const ipt = fakeIptables();
    installGateRules({ runner: ipt, queueNum: 7 });
    const seen: string[] = [];
    const list = async (family: 4 | 6) => ipt(family === 4 ? 'iptables' : 'ip6tables', ['-w', '5', '-t', 'mangle', '-S']);
    const w = watchGateRules({ queueNum: 7, families: [4, 6], runner: ipt, list, intervalMs: 600_000, onRepair: (f, p, ok) => seen.push(`${f}:${p}:${ok}`) });
    try {
      await w.check();
      expect(w.repairs()).toBe(0);
      ipt.tables.iptables!.get('FORWARD')!.unshift('-i docker0 ! -o docker0 -j ACCEPT');
      await w.check();
      expect(seen).toEqual(['4:jump-displaced:true']);
      expect(ipt.tables.iptables!.get('FORWARD')![0]).toBe(`-j ${GATE_CHAIN}`);
      expect(ipt.tables.iptables!.get('FORWARD')).toContain('-i docker0 ! -o docker0 -j ACCEPT');
      ipt.tables.ip6tables!.set('OUTPUT', []);
      await w.check();
      expect(seen).toEqual(['4:jump-displaced:true', '6:jump-missing:true']);
      expect(gateRuleStatus(6, ipt).jumps).toEqual({ OUTPUT: 1, FORWARD: 1 });
      expect(gateRuleStatus(4, ipt).rules).toHaveLength(1);
      expect(w.repairs()).toBe(2);
    } finally {
      w.stop();
    }
  });
});

describe('gate rule watch with a given runner', () => {
  it('lists through that runner (a namespace runner, a fake), never the host\'s table', async () => {
    const ipt = fakeIptables();
    installGateRules({ runner: ipt, queueNum: 7 });
    const calls: string[] = [];
    const spy = ((cmd: string, args: string[]) => {
      calls.push(`${cmd} ${args.join(' ')}`);
      return ipt(cmd, args);
    }) as typeof ipt;
    const w = watchGateRules({ queueNum: 7, families: [4], runner: spy, intervalMs: 600_000, onRepair: () => undefined });
    try {
      await w.check();
      expect(calls).toEqual(['iptables -w 5 -t mangle -S']);
      expect(w.repairs()).toBe(0);
    } finally {
      w.stop();
    }
  });
});
