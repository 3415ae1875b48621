import type { Runner } from '../../src/live/gate-rules.js';

/**
 * An in-memory iptables/ip6tables good enough for the gate's rule logic (-N -F -X -A -I -D -C -L -S -V,
 * `-t TABLE`). `refuse`: rules it refuses, as a kernel without a match module would. `tables.iptables` is the gate's table (mangle); `tables['iptables/filter']` the filter table.
 */
export function fakeIptables(opts: { denied?: boolean; noIp6?: boolean; missing?: boolean; refuse?: RegExp } = {}): Runner & { tables: Record<string, Map<string, string[]>> } {
  const base = (): Map<string, string[]> => new Map([['INPUT', []], ['FORWARD', []], ['OUTPUT', []]]);
  const mangle = (): Map<string, string[]> => new Map([['INPUT', []], ['FORWARD', []], ['OUTPUT', []], ['POSTROUTING', []]]);
  const tables: Record<string, Map<string, string[]>> = {
    iptables: mangle(),
    ip6tables: mangle(),
    'iptables/filter': base(),
    'ip6tables/filter': base(),
  };
  const runner = ((cmd: string, args: string[]) => {
    const fail = (stderr: string) => ({ ok: false, stdout: '', stderr });
    if (opts.missing || (cmd !== 'iptables' && cmd !== 'ip6tables')) return fail('ENOENT');
    if (args[0] === '-V') return { ok: true, stdout: 'iptables v1.8.9 (nf_tables)\n', stderr: '' };
    if (cmd === 'ip6tables' && opts.noIp6) return fail('ip6tables: Protocol not supported');
    let a = args[0] === '-w' ? args.slice(2) : args;
    let table = 'filter';
    if (a[0] === '-t') {
      table = a[1]!;
      a = a.slice(2);
    }
    const t = table === 'mangle' ? tables[cmd]! : tables[`${cmd}/${table}`]!;
    const [op, chain, ...rest] = a as [string, string, ...string[]];
    if (op === '-S') {
      const lines: string[] = [];
      for (const [c] of t) lines.push(['INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'].includes(c) ? `-P ${c} ACCEPT` : `-N ${c}`);
      for (const [c, rules] of t) for (const r of rules) lines.push(`-A ${c} ${r}`);
      return { ok: true, stdout: lines.join('\n') + '\n', stderr: '' };
    }
    if (opts.denied && op !== '-L' && op !== '-C') return fail('iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)');
    switch (op) {
      case '-N':
        if (t.has(chain)) return fail('Chain already exists.');
        t.set(chain, []);
        return { ok: true, stdout: '', stderr: '' };
      case '-F':
        if (!t.has(chain)) return fail('No chain/target/match by that name.');
        t.set(chain, []);
        return { ok: true, stdout: '', stderr: '' };
      case '-X':
        if (!t.has(chain)) return fail('No chain/target/match by that name.');
        for (const rules of t.values()) if (rules.some((r) => r === `-j ${chain}`)) return fail('Too many links.');
        t.delete(chain);
        return { ok: true, stdout: '', stderr: '' };
      case '-L':
        return t.has(chain) ? { ok: true, stdout: `Chain ${chain}\n`, stderr: '' } : fail('No chain/target/match by that name.');
      case '-A':
      case '-I': {
        const rule = op === '-I' && /^\d+$/.test(rest[0] ?? '') ? rest.slice(1).join(' ') : rest.join(' ');
        if (!t.has(chain)) return fail('No chain/target/match by that name.');
        if (opts.refuse?.test(rule)) return fail(`iptables v1.8.9 (nf_tables): Couldn't load match: No such file or directory`);
        const target = /-j (\S+)/.exec(rule)?.[1];
        if (target && !['NFQUEUE', 'NFLOG', 'ACCEPT', 'DROP'].includes(target) && !t.has(target)) return fail("Couldn't load target");
        if (op === '-A') t.get(chain)!.push(rule);
        else t.get(chain)!.unshift(rule);
        return { ok: true, stdout: '', stderr: '' };
      }
      case '-C':
        return t.get(chain)?.includes(rest.join(' ')) ? { ok: true, stdout: '', stderr: '' } : fail('Bad rule');
      case '-D': {
        const rules = t.get(chain);
        const i = rules?.indexOf(rest.join(' ')) ?? -1;
        if (i < 0) return fail('Bad rule');
        rules!.splice(i, 1);
        return { ok: true, stdout: '', stderr: '' };
      }
    }
    return fail(`unsupported ${op}`);
  }) as Runner & { tables: typeof tables };
  runner.tables = tables;
  return runner;
}
