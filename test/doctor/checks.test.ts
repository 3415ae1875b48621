import { describe, expect, it } from 'vitest';
import {
  checkCapabilities,
  checkEc2,
  checkFirewallTools,
  checkGateRules,
  checkImds,
  checkLibpcap,
  checkLogDir,
  checkNode,
  checkService,
  decodeCapMask,
  parseCapEff,
  type GateRuleFacts,
} from '../../src/doctor/checks.js';

const status = (capEff: string) => `Name:\tnode\nUmask:\t0022\nCapInh:\t0000000000000000\nCapPrm:\t${capEff}\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;

describe('capabilities', () => {
  it.each([
    ['0000000000000000', []],
    ['0000000000000004', ['CAP_DAC_READ_SEARCH']],
    ['0000000000083004', ['CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SYS_PTRACE']],
    ['0000000000002000', ['CAP_NET_RAW']],
    ['0000008000000000', ['CAP_BPF']],
    ['zz', []],
  ])('decodes %s', (hex, names) => {
    expect(decodeCapMask(hex)).toEqual(names);
  });

  it('decodes a root mask (41 capabilities on 6.x)', () => {
    const all = decodeCapMask('000001ffffffffff');
    expect(all).toHaveLength(41);
    expect(all[0]).toBe('CAP_CHOWN');
    expect(all[40]).toBe('CAP_CHECKPOINT_RESTORE');
  });

  it('finds CapEff in /proc/PID/status', () => {
    expect(parseCapEff(status('0000000000083004'))).toBe('0000000000083004');
    expect(parseCapEff('Name:\tx\n')).toBeNull();
  });

  it('passes with exactly the unit’s four capabilities', () => {
    const l = checkCapabilities({ subject: 'the imdswatch daemon (pid 42)', statusText: status('0000000000083004') });
    expect(l.status).toBe('ok');
    expect(l.message).toContain('pid 42');
  });

  it('names each missing capability and why it is needed', () => {
    const l = checkCapabilities({ subject: 'this process', statusText: status('0000000000002000') });
    expect(l.status).toBe('fail');
    expect(l.message).toContain('CAP_NET_ADMIN (gate firewall rules and nfqueue)');
    expect(l.message).toContain('CAP_SYS_PTRACE');
    expect(l.message).not.toContain('CAP_NET_RAW');
    expect(l.fix).toMatch(/AmbientCapabilities=/);
  });

  it('warns when status is unreadable', () => {
    expect(checkCapabilities({ subject: 'x', statusText: null }).status).toBe('warn');
  });
});

describe('libpcap', () => {
  it('ok when cap loads', () => expect(checkLibpcap({ loaded: true }).status).toBe('ok'));
  it('missing libpcap → install it', () => {
    const l = checkLibpcap({ loaded: false, error: 'libpcap.so.0.8: cannot open shared object file: No such file or directory' });
    expect(l.status).toBe('fail');
    expect(l.fix).toMatch(/apt-get install libpcap0\.8/);
  });
  it('ABI mismatch → rebuild', () => {
    const l = checkLibpcap({ loaded: false, error: 'was compiled against a different Node.js version using NODE_MODULE_VERSION 108' });
    expect(l.fix).toMatch(/npm rebuild cap/);
  });
});

describe('firewall tools', () => {
  it('iptables and ip6tables', () => {
    expect(checkFirewallTools({ iptables: 'iptables v1.8.9 (nf_tables)\n', ip6tables: 'ip6tables v1.8.9 (nf_tables)\n', nft: null })).toMatchObject({ status: 'ok', message: 'iptables v1.8.9 (nf_tables)' });
  });
  it('no ip6tables is a warning', () => {
    expect(checkFirewallTools({ iptables: 'iptables v1.8.9', ip6tables: null, nft: null }).status).toBe('warn');
  });
  it('nft alone is enough', () => {
    expect(checkFirewallTools({ iptables: null, ip6tables: null, nft: 'nftables v1.0.6' }).status).toBe('ok');
  });
  it('none fails with the install command', () => {
    const l = checkFirewallTools({ iptables: null, ip6tables: null, nft: null });
    expect(l.status).toBe('fail');
    expect(l.fix).toMatch(/apt-get install iptables/);
  });
});

describe('gate rules', () => {
  const inPlace = { chain: true, jumps: { OUTPUT: 1, FORWARD: 1 } };
  const none = { chain: false, jumps: {} };
  const g = (over: Partial<GateRuleFacts>): GateRuleFacts => ({ v4: none, v6: none, nftTable: false, daemonRunning: true, ...over });
  it.each<[string, Partial<GateRuleFacts>, string]>([
    ['running with rules', { v4: inPlace, v6: inPlace }, 'ok'],
    ['running with the nft table', { v4: null, v6: null, nftTable: true }, 'ok'],
    ['running without rules', {}, 'warn'],
    ['running, chain without jumps', { v4: { chain: true, jumps: {} } }, 'warn'],
    ['stopped, no rules', { daemonRunning: false }, 'ok'],
    ['stopped, rules left behind', { daemonRunning: false, v4: inPlace }, 'warn'],
    ['unknown, no rules', { daemonRunning: null }, 'ok'],
    ['unknown, rules', { daemonRunning: null, v4: inPlace }, 'info'],
    ['cannot list', { listError: 'Permission denied (you must be root)' }, 'warn'],
  ])('%s', (_name, facts, want) => {
    expect(checkGateRules(g(facts)).status).toBe(want);
  });
  it('leftover rules: the fix removes them', () => {
    const l = checkGateRules(g({ daemonRunning: false, v4: inPlace }));
    expect(l.fix).toBe('imdswatch gate --remove');
    expect(l.message).toContain('iptables chain IMDSWATCH (2 jumps)');
  });
});

describe('log directory', () => {
  it('0700 dir with 0600 files owned by the user', () => {
    const l = checkLogDir({ path: '/var/log/imdswatch', exists: true, mode: 0o700, uid: 999, files: [{ name: 'imdswatch.log', mode: 0o600 }] }, 999);
    expect(l.status).toBe('ok');
  });
  it('loose modes and the wrong owner fail with chmod/chown', () => {
    const l = checkLogDir(
      { path: '/var/log/imdswatch', exists: true, mode: 0o755, uid: 0, files: [{ name: 'imdswatch.log', mode: 0o644 }, { name: 'imdswatch.log.1', mode: 0o600 }] },
      999,
    );
    expect(l.status).toBe('fail');
    expect(l.message).toContain('directory mode 0755, want 0700');
    expect(l.message).toContain('imdswatch.log mode 0644');
    expect(l.message).not.toContain('imdswatch.log.1');
    expect(l.message).toContain('owned by uid 0');
    expect(l.fix).toBe('chmod 0700 /var/log/imdswatch && chmod 0600 /var/log/imdswatch/* && chown -R imdswatch: /var/log/imdswatch');
  });
  it('missing directory is a warning', () => {
    expect(checkLogDir({ path: '/x', exists: false }, null).status).toBe('warn');
  });
});

describe('EC2 and IMDS', () => {
  const none = { sysVendor: null, boardAssetTag: null, biosVersion: null, hypervisorUuid: null };
  it.each([
    [{ ...none, sysVendor: 'Amazon EC2\n' }, 'ok'],
    [{ ...none, boardAssetTag: 'i-0123456789abcdef0\n' }, 'ok'],
    [{ ...none, hypervisorUuid: 'ec2e1916-9099-7caf-fd21-012345abcdef\n' }, 'ok'],
    [{ ...none, biosVersion: '4.11.amazon\n' }, 'ok'],
    [{ ...none, sysVendor: 'QEMU\n', biosVersion: '1.16.2-debian-1.16.2-1\n' }, 'warn'],
    [none, 'warn'],
  ])('%o → %s', (facts, want) => {
    expect(checkEc2(facts).status).toBe(want);
  });

  it('token answered → ok', () => expect(checkImds({ status: 200 }, true).status).toBe('ok'));
  it('403 names the proxy cause', () => expect(checkImds({ status: 403 }, true).message).toMatch(/X-Forwarded-For/));
  it('unreachable is a warning, never a failure', () => {
    const off = checkImds({ status: null, error: 'ENETUNREACH' }, false);
    expect(off.status).toBe('warn');
    expect(off.message).toContain('ENETUNREACH');
    expect(off.fix).toMatch(/expected off EC2/);
    expect(checkImds({ status: null, error: 'ETIMEDOUT' }, true).fix).toMatch(/HttpEndpoint=enabled/);
  });
  it('skipped', () => expect(checkImds({ skipped: true, status: null }, true).status).toBe('info'));
});

describe('service', () => {
  it.each([
    [{ pid1: 'process_api', active: null, enabled: null }, 'info'],
    [{ pid1: 'systemd', active: 'active\n', enabled: 'enabled\n' }, 'ok'],
    [{ pid1: 'systemd', active: 'active\n', enabled: 'disabled\n' }, 'warn'],
    [{ pid1: 'systemd', active: 'failed\n', enabled: 'enabled\n' }, 'fail'],
    [{ pid1: 'systemd', active: 'inactive\n', enabled: 'not-found\n' }, 'warn'],
    // installed but stopped: nothing is observed, a ✗ not a warning (#11)
    [{ pid1: 'systemd', active: 'inactive\n', enabled: 'enabled\n' }, 'fail'],
    [{ pid1: 'systemd', active: 'inactive\n', enabled: 'disabled\n' }, 'fail'],
  ])('%o → %s', (facts, want) => {
    expect(checkService(facts).status).toBe(want);
  });
  it('not installed → install.sh', () => {
    expect(checkService({ pid1: 'systemd', active: 'inactive', enabled: 'not-found' }).fix).toMatch(/install\.sh/);
  });
});

describe('node', () => {
  it.each([
    ['v20.20.2', 'ok'],
    ['v22.1.0', 'ok'],
    ['v18.19.0', 'fail'],
    ['garbage', 'fail'],
  ])('%s → %s', (v, want) => expect(checkNode(v).status).toBe(want));
});
