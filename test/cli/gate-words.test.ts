import { describe, expect, it } from 'vitest';
import { describeGate } from '../../src/cli/gate-command.js';

describe('imdswatch gate prints words, not JSON', () => {
  it('present chain with its hooks and rules', () => {
    const text = describeGate(4, { chain: true, jumps: { OUTPUT: 1, FORWARD: 1 }, rules: ['-A IMDSWATCH -p tcp -j NFQUEUE'] });
    expect(text).toBe('IPv4: gate chain present, jumped to from OUTPUT and FORWARD; 1 rule\n  -A IMDSWATCH -p tcp -j NFQUEUE');
    expect(text).not.toMatch(/[{}"]/);
  });
  it('says when the system lane is on', () => {
    const text = describeGate(4, { chain: true, jumps: { OUTPUT: 1, FORWARD: 1 }, rules: [], lane: true });
    expect(text.split('\n').at(-1)).toMatch(/^IPv4: system lane on \(uids 0-999 on their own queue and NFLOG group/);
  });
  it('no rules, and a stray jump named', () => {
    expect(describeGate(6, { chain: false, jumps: {}, rules: [] })).toBe('IPv6: no gate rules');
    expect(describeGate(4, { chain: true, jumps: { OUTPUT: 2 }, rules: [] })).toBe('IPv4: gate chain present, jumped to from OUTPUT (2 times); 0 rules');
  });
});
