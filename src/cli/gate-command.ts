import type { Command } from 'commander';
import { gateRuleStatus, removeGateRules } from '../live/gate-rules.js';
import { CliError } from './exit-codes.js';

export function registerGateCommand(program: Command): void {
  program
    .command('gate')
    .description("show or remove the SYN gate's firewall rules (systemd ExecStopPost runs `gate --remove`)")
    .option('--remove', 'remove the IMDSWATCH chains and jumps (iptables, ip6tables) and the nft table, if any')
    .action((o: { remove?: boolean }) => {
      if (o.remove) {
        let r;
        try {
          r = removeGateRules();
        } catch (err) {
          throw new CliError(`cannot remove the gate rules: ${(err as Error).message} (needs root or CAP_NET_ADMIN)`, 'E_GATE_NO_PRIVILEGE');
        }
        // after a clean stop the daemon has removed its rules already: say nothing then (this
        // runs as ExecStopPost on every stop); rules found here were left by a crash
        if (r.removed) process.stdout.write('removed gate rules left by an earlier run\n');
        return;
      }
      for (const fam of [4, 6] as const) {
        process.stdout.write(`${describeGate(fam, gateRuleStatus(fam))}\n`);
      }
    });
}

/** "IPv4: chain IMDSWATCH present, jumped to from OUTPUT and FORWARD; 2 rules" and the rules, one per line */
export function describeGate(family: 4 | 6, s: { chain: boolean; jumps: Record<string, number>; rules: string[] }): string {
  const hooks = Object.entries(s.jumps).map(([hook, n]) => (n > 1 ? `${hook} (${n} times)` : hook));
  const jumped = hooks.length === 0 ? 'no jump to it' : `jumped to from ${hooks.join(' and ')}`;
  const head = s.chain
    ? `IPv${family}: gate chain present, ${jumped}; ${s.rules.length} rule${s.rules.length === 1 ? '' : 's'}`
    : `IPv${family}: no gate rules${hooks.length ? ` (but ${jumped})` : ''}`;
  return [head, ...s.rules.map((r) => `  ${r}`)].join('\n');
}
