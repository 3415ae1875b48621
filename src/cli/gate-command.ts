import type { Command } from 'commander';
import { gateRuleStatus, removeGateRules } from '../live/gate-rules.js';
import { CliError } from './exit-codes.js';
import { EARLY_CHAIN, readEarlyChain, removeEarlyChain } from '../live/boot-watch.js';

export function registerGateCommand(program: Command): void {
  program
    .command('gate')
    .description("show or remove the SYN gate's firewall rules (systemd ExecStopPost runs `gate --remove`)")
    .option('--remove', `remove the IMDSWATCH chains and jumps (iptables, ip6tables), the nft table and the boot watch's ${EARLY_CHAIN} chain, if any`)
    .option('--after-stop', "with --remove, as the unit's ExecStopPost (SERVICE_RESULT set): keep the boot watch chain the unit re-armed, so calls until the next start are counted")
    .action((o: { remove?: boolean; afterStop?: boolean }) => {
      if (o.remove) {
        let r;
        try {
          r = removeGateRules();
          // the boot watch's counting chain (docs/design.md#boot-watch): a stop removes it too,
          // except after a failure, when it counts until the restarted daemon takes over
          if (!o.afterStop || keepBootWatch(process.env) === false) removeEarlyChain();
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
        const early = readEarlyChain(fam);
        if (early.present) {
          const n = [...early.byUid.values()].reduce((a, b) => a + b, 0);
          process.stdout.write(`IPv${fam}: boot watch chain ${EARLY_CHAIN} armed: ${n} IMDS SYN(s) counted while no daemon watched\n`);
        }
      }
    });
}

/** "IPv4: chain IMDSWATCH present, jumped to from OUTPUT and FORWARD; 2 rules" and the rules, one per line */
export function describeGate(family: 4 | 6, s: { chain: boolean; jumps: Record<string, number>; rules: string[]; lane?: true }): string {
  const hooks = Object.entries(s.jumps).map(([hook, n]) => (n > 1 ? `${hook} (${n} times)` : hook));
  const jumped = hooks.length === 0 ? 'no jump to it' : `jumped to from ${hooks.join(' and ')}`;
  const head = s.chain
    ? `IPv${family}: gate chain present, ${jumped}; ${s.rules.length} rule${s.rules.length === 1 ? '' : 's'}`
    : `IPv${family}: no gate rules${hooks.length ? ` (but ${jumped})` : ''}`;
  const lane = s.lane ? [`IPv${family}: system lane on (uids 0-999 on their own queue and NFLOG group; docs/design.md#system-lane)`] : [];
  return [head, ...s.rules.map((r) => `  ${r}`), ...lane].join('\n');
}

/**
 * The unit's ExecStopPost (systemd sets SERVICE_RESULT there): the first ExecStopPost has
 * re-armed the boot watch after every stop but one at shutdown, so the chain counts until
 * the next daemon watches (a crash, a restart, an upgrade, a stop by hand): keep it. Run
 * by hand, `gate --remove` removes everything (docs/design.md#boot-watch).
 */
export function keepBootWatch(env: NodeJS.ProcessEnv): boolean {
  return env.SERVICE_RESULT !== undefined;
}
