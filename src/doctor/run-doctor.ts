/**
 * `imdswatch doctor`: gathers the facts (probe.ts, or injected ones) and judges them
 * (checks.ts), in a fixed order.
 */
import { gateRuleStatus, execRunner, GATE_CHAIN, NFT_TABLE, type Runner } from '../live/gate-rules.js';
import { loadCap, capLoadError } from '../live/cap-binding.js';
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
  ec2Evidence,
  type CapabilityFacts,
  type DoctorLine,
  type Ec2Facts,
  type FirewallFacts,
  type GateRuleFacts,
  type ImdsProbeResult,
  type LibpcapFacts,
  type PathFacts,
  type ServiceFacts,
} from './checks.js';
import { ec2Facts, firewallFacts, pathFacts, probeImds, readText, resolveTool, serviceFacts, serviceMainPid, userUid } from './probe.js';

export interface DoctorOptions {
  /** default /var/log/imdswatch */
  logDir?: string;
  /** service user, default imdswatch */
  user?: string;
  unit?: string;
  /** probe IMDS with a token PUT (default true) */
  imds?: boolean;
  imdsHost?: string;
  imdsPort?: number;
  imdsTimeoutMs?: number;
  /** runs iptables/nft; injectable for tests */
  runner?: Runner;
  /** facts given instead of probed (tests) */
  facts?: Partial<DoctorFacts>;
}

export interface DoctorFacts {
  nodeVersion: string;
  libpcap: LibpcapFacts;
  capabilities: CapabilityFacts;
  firewall: FirewallFacts;
  gate: GateRuleFacts;
  logDir: PathFacts;
  serviceUid: number | null;
  ec2: Ec2Facts;
  imds: ImdsProbeResult;
  service: ServiceFacts;
}

export interface DoctorResult {
  lines: DoctorLine[];
  /** no line is "fail" */
  ok: boolean;
}

function gateFacts(runner: Runner, daemonRunning: boolean | null, fw: FirewallFacts): GateRuleFacts {
  const facts: GateRuleFacts = { v4: null, v6: null, nftTable: false, daemonRunning };
  if (fw.iptables) {
    const probe = runner('iptables', ['-w', '5', '-S']);
    if (!probe.ok) {
      facts.listError = probe.stderr.trim().split('\n')[0] || 'iptables -S failed';
      return facts;
    }
    facts.v4 = gateRuleStatus(4, runner);
    if (fw.ip6tables) facts.v6 = gateRuleStatus(6, runner);
  }
  if (fw.nft) facts.nftTable = runner('nft', ['list', 'table', 'inet', NFT_TABLE]).ok;
  return facts;
}

async function gather(o: DoctorOptions): Promise<DoctorFacts> {
  const f = o.facts ?? {};
  // iptables lives in /usr/sbin, often not on a non-root PATH: resolve it, never report it missing
  const runner: Runner = o.runner ?? ((cmd, args) => execRunner(resolveTool(cmd), args));
  const unit = o.unit ?? 'imdswatch.service';
  const service = f.service ?? serviceFacts(unit);
  const daemonRunning = service.pid1 === 'systemd' ? (service.active ?? '').trim() === 'active' : null;

  let capabilities = f.capabilities;
  if (!capabilities) {
    // The daemon's own capabilities matter most; without a running service, this process's.
    const pid = service.pid1 === 'systemd' && daemonRunning ? serviceMainPid(unit) : null;
    capabilities = pid
      ? { subject: `the imdswatch daemon (pid ${pid})`, statusText: readText(`/proc/${pid}/status`) }
      : { subject: 'this process', statusText: readText('/proc/self/status') };
  }
  const firewall = f.firewall ?? firewallFacts();
  const ec2 = f.ec2 ?? ec2Facts();
  let imds = f.imds;
  if (!imds) imds = o.imds === false ? { skipped: true, status: null } : await probeImds(o.imdsHost, o.imdsPort, o.imdsTimeoutMs);
  return {
    nodeVersion: f.nodeVersion ?? process.version,
    libpcap: f.libpcap ?? (loadCap() ? { loaded: true } : { loaded: false, error: capLoadError() }),
    capabilities,
    firewall,
    gate: f.gate ?? gateFacts(runner, daemonRunning, firewall),
    logDir: f.logDir ?? pathFacts(o.logDir ?? '/var/log/imdswatch'),
    serviceUid: f.serviceUid !== undefined ? f.serviceUid : userUid(o.user ?? 'imdswatch'),
    ec2,
    imds,
    service,
  };
}

/** Judge already-gathered facts: pure. */
export function judge(f: DoctorFacts, user = 'imdswatch'): DoctorResult {
  const lines: DoctorLine[] = [
    checkNode(f.nodeVersion),
    checkLibpcap(f.libpcap),
    checkCapabilities(f.capabilities),
    checkFirewallTools(f.firewall),
    checkGateRules(f.gate),
    checkLogDir(f.logDir, f.serviceUid, user),
    checkEc2(f.ec2),
    checkImds(f.imds, ec2Evidence(f.ec2) !== null),
    checkService(f.service),
  ];
  return { lines, ok: lines.every((l) => l.status !== 'fail') };
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorResult> {
  return judge(await gather(opts), opts.user ?? 'imdswatch');
}

export { GATE_CHAIN };
