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
        try {
          const r = removeGateRules();
          process.stdout.write(r.removed ? 'gate rules removed\n' : 'no gate rules were installed\n');
        } catch (err) {
          throw new CliError(`cannot remove the gate rules: ${(err as Error).message} (needs root or CAP_NET_ADMIN)`);
        }
        return;
      }
      for (const fam of [4, 6] as const) {
        const s = gateRuleStatus(fam);
        process.stdout.write(`IPv${fam}: chain ${s.chain ? 'present' : 'absent'}; jumps ${JSON.stringify(s.jumps)}\n`);
        for (const r of s.rules) process.stdout.write(`  ${r}\n`);
      }
    });
}
