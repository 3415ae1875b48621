/**
 * The IMDS lab harness: network namespaces joined by veth pairs, the simulator inside,
 * clients that can reach nothing but IMDS. Needs root, iproute2, iptables (for the hop
 * limit) and tcpdump (for captures). Other tests and scripts use it like this:
 *
 *   const lab = await createLab({ tokens: 'optional', hopLimitOnTokenPut: true });
 *   try {
 *     const r = await lab.run('container', ['curl', '-s', 'http://169.254.169.254/latest/meta-data/']);
 *     const cap = await lab.capture('client', { file: '/tmp/x.pcap', iface: 'any' });
 *     ...; await cap.stop();
 *   } finally {
 *     await lab.teardown();        // idempotent; also kills what runs in the namespaces
 *   }
 *
 * Topology (names are `${prefix}-${pid}-${n}-{imds,cli,ctr}`, unique per process):
 *
 *   [container ns] ctr0 ──veth── cli1 [client ns, router] cli0 ──veth── imds0 [imds ns]
 *    10.213.2.2                  10.213.2.1          10.213.1.2           169.254.169.254
 *    fd00:ec2:2::2               fd00:ec2:2::1       fd00:ec2:1::2        fd00:ec2::254
 *
 * All addresses are /32 or /128 without prefix routes; the client and container
 * namespaces have routes to the two IMDS addresses only (no default route), so any
 * other destination fails at once with ENETUNREACH and nothing leaves the machine.
 * The container is one routed hop further away: with `hopLimitOnTokenPut`, the imds
 * namespace sets IP TTL 1 / hop limit 1 on the answers to token PUTs (iptables string
 * match on the simulator's `X-aws-ec2-metadata-token-ttl-seconds` response header), so
 * the client namespace still gets tokens and the container never does — as on EC2
 * with HttpPutResponseHopLimit=1.
 *
 * `cleanupStale(prefix)` removes namespaces left by dead processes (their pid is in the
 * name). Nothing here logs a token or a response body.
 */
import { BUILD_DIR } from '../repo-root.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IMDS_IPV4, IMDS_IPV6, type TokenMode } from './imds-server.js';
import { must, run, startDaemon, type Daemon, type RunOptions, type RunResult } from './proc.js';

export type LabNs = 'imds' | 'client' | 'container';

export interface LabOptions {
  /** namespace name prefix; default 'iwlab' */
  prefix?: string;
  tokens?: TokenMode;
  connection?: 'keep-alive' | 'close';
  /** IP TTL 1 / hop limit 1 on token PUT answers (default false) */
  hopLimitOnTokenPut?: boolean;
  /** start the X-Forwarded-For proxy in the client ns on 127.0.0.1:3128 (default false) */
  proxy?: boolean;
  /** the simulator answers every token PUT 403, as behind a transparent X-Forwarded-For proxy (default false) */
  forwardedFor?: boolean;
  /** the simulator answers every token PUT 404, as something that is not IMDS (default false) */
  tokenPut404?: boolean;
  /** start the simulator (default true) */
  server?: boolean;
}

export interface CaptureOptions {
  file: string;
  /** 'any' → Linux SLL2; 'veth' → Ethernet on the namespace's IMDS-facing veth */
  iface: 'any' | 'veth';
  /** BPF filter; default: TCP to/from the IMDS addresses */
  filter?: string;
  /** wait before stopping, so trailing packets land in the file (default 300 ms) */
  settleMs?: number;
}

export interface Capture {
  file: string;
  stop(): Promise<void>;
}

export interface Lab {
  names: Record<LabNs, string>;
  /** IMDS-facing interface of each namespace */
  ifaces: Record<LabNs, string>;
  addresses: {
    imds: { ipv4: string; ipv6: string };
    client: { ipv4: string; ipv6: string };
    container: { ipv4: string; ipv6: string };
  };
  /** e.g. http://127.0.0.1:3128 inside the client ns, when `proxy` was asked */
  proxyUrl: string | null;
  /** run argv inside a namespace to completion */
  run(ns: LabNs, argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** argv prefix that runs a command inside a namespace (for your own spawn) */
  execPrefix(ns: LabNs): string[];
  /** start tcpdump in a namespace; resolves once it listens */
  capture(ns: LabNs, opts: CaptureOptions): Promise<Capture>;
  /** simulator log lines so far ("METHOD PATH STATUS") */
  serverLog(): string[];
  teardown(): Promise<void>;
}

export const LINK = {
  imds: { ipv4: IMDS_IPV4, ipv6: IMDS_IPV6 },
  client: { ipv4: '10.213.1.2', ipv6: 'fd00:ec2:1::2' },
  router: { ipv4: '10.213.2.1', ipv6: 'fd00:ec2:2::1' },
  container: { ipv4: '10.213.2.2', ipv6: 'fd00:ec2:2::2' },
} as const;

const IFACES: Record<LabNs, string> = { imds: 'imds0', client: 'cli0', container: 'ctr0' };
const DEFAULT_FILTER = `tcp and (host ${IMDS_IPV4} or host ${IMDS_IPV6})`;
const TOKEN_PUT_MARK = 'X-aws-ec2-metadata-token-ttl-seconds';

let counter = 0;

/** the compiled lab entry points (build/lab/*.js), whether this module runs from test/support or build */
export function labScript(name: string): string {
  const path = join(BUILD_DIR, 'lab', name);
  if (!existsSync(path)) {
    const err = new Error(`${path} is missing: run "npm run build" first`);
    (err as NodeJS.ErrnoException).code = 'LAB_NOT_BUILT';
    throw err;
  }
  return path;
}

const IP_CANDIDATES = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];
/** absolute path of iproute2's ip, so commands run with any caller-given PATH */
const IP = IP_CANDIDATES.find((p) => existsSync(p)) ?? 'ip';

/** true when this process can build a lab (root, ip) */
export function labAvailable(): boolean {
  return process.getuid?.() === 0 && IP !== 'ip';
}

async function ns(name: string, argv: string[]): Promise<string> {
  return must(['ip', 'netns', 'exec', name, ...argv]);
}

export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  const prefix = opts.prefix ?? 'iwlab';
  const id = `${prefix}-${process.pid}-${++counter}`;
  const names: Record<LabNs, string> = { imds: `${id}-imds`, client: `${id}-cli`, container: `${id}-ctr` };
  const daemons: Daemon[] = [];
  let server: Daemon | null = null;
  let torn = false;

  const teardown = async (): Promise<void> => {
    if (torn) return;
    torn = true;
    for (const d of daemons.reverse()) await d.stop().catch(() => undefined);
    for (const name of Object.values(names)) await deleteNamespace(name);
  };

  try {
    for (const name of Object.values(names)) {
      await must(['ip', 'netns', 'add', name]);
      await must(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    }
    const { imds, client, container } = names;
    await must(['ip', '-n', imds, 'link', 'add', 'imds0', 'type', 'veth', 'peer', 'name', 'cli0', 'netns', client]);
    await must(['ip', '-n', client, 'link', 'add', 'cli1', 'type', 'veth', 'peer', 'name', 'ctr0', 'netns', container]);
    const addr = async (n: string, dev: string, v4: string, v6: string): Promise<void> => {
      await must(['ip', '-n', n, 'addr', 'add', `${v4}/32`, 'dev', dev, 'noprefixroute']);
      await must(['ip', '-n', n, '-6', 'addr', 'add', `${v6}/128`, 'dev', dev, 'nodad', 'noprefixroute']);
      await must(['ip', '-n', n, 'link', 'set', dev, 'up']);
    };
    await addr(imds, 'imds0', LINK.imds.ipv4, LINK.imds.ipv6);
    await addr(client, 'cli0', LINK.client.ipv4, LINK.client.ipv6);
    await addr(client, 'cli1', LINK.router.ipv4, LINK.router.ipv6);
    await addr(container, 'ctr0', LINK.container.ipv4, LINK.container.ipv6);
    const route = (n: string, ...args: string[]): Promise<string> => must(['ip', '-n', n, ...args]);
    // imds ns: back to the client directly, to the container through the client.
    await route(imds, 'route', 'add', `${LINK.client.ipv4}/32`, 'dev', 'imds0', 'src', LINK.imds.ipv4);
    await route(imds, 'route', 'add', `${LINK.container.ipv4}/32`, 'via', LINK.client.ipv4, 'dev', 'imds0', 'onlink');
    await route(imds, '-6', 'route', 'add', `${LINK.client.ipv6}/128`, 'dev', 'imds0', 'src', LINK.imds.ipv6);
    await route(imds, '-6', 'route', 'add', `${LINK.container.ipv6}/128`, 'via', LINK.client.ipv6, 'dev', 'imds0', 'onlink');
    // client ns: IMDS and the container, nothing else; forwards between them.
    await route(client, 'route', 'add', `${LINK.imds.ipv4}/32`, 'dev', 'cli0', 'src', LINK.client.ipv4);
    await route(client, '-6', 'route', 'add', `${LINK.imds.ipv6}/128`, 'dev', 'cli0', 'src', LINK.client.ipv6);
    await route(client, 'route', 'add', `${LINK.container.ipv4}/32`, 'dev', 'cli1', 'src', LINK.router.ipv4);
    await route(client, '-6', 'route', 'add', `${LINK.container.ipv6}/128`, 'dev', 'cli1', 'src', LINK.router.ipv6);
    await ns(client, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    // container ns: IMDS through the client ns router, nothing else.
    await route(container, 'route', 'add', `${LINK.imds.ipv4}/32`, 'via', LINK.router.ipv4, 'dev', 'ctr0', 'onlink', 'src', LINK.container.ipv4);
    await route(container, '-6', 'route', 'add', `${LINK.imds.ipv6}/128`, 'via', LINK.router.ipv6, 'dev', 'ctr0', 'onlink', 'src', LINK.container.ipv6);

    if (opts.hopLimitOnTokenPut) {
      const match = ['-p', 'tcp', '--sport', '80', '-m', 'string', '--string', TOKEN_PUT_MARK, '--algo', 'bm'];
      await ns(imds, ['iptables', '-w', '-t', 'mangle', '-A', 'OUTPUT', ...match, '-j', 'TTL', '--ttl-set', '1']);
      await ns(imds, ['ip6tables', '-w', '-t', 'mangle', '-A', 'OUTPUT', ...match, '-j', 'HL', '--hl-set', '1']);
    }
    if (opts.server !== false) {
      server = await startDaemon(
        [
          'ip', 'netns', 'exec', imds, process.execPath, labScript('imds-server-main.js'),
          '--tokens', opts.tokens ?? 'optional', '--connection', opts.connection ?? 'keep-alive',
          ...(opts.forwardedFor ? ['--forwarded-for'] : []),
          ...(opts.tokenPut404 ? ['--token-put-404'] : []),
        ],
        /^ready /,
      );
      daemons.push(server);
    }
    if (opts.proxy) {
      daemons.push(
        await startDaemon(['ip', 'netns', 'exec', client, process.execPath, labScript('xff-proxy-main.js'), '--port', '3128'], /^ready /),
      );
    }
  } catch (err) {
    await teardown();
    throw err;
  }

  const execPrefix = (n: LabNs): string[] => [IP, 'netns', 'exec', names[n]];
  return {
    names,
    ifaces: { ...IFACES },
    addresses: { imds: { ...LINK.imds }, client: { ...LINK.client }, container: { ...LINK.container } },
    proxyUrl: opts.proxy ? 'http://127.0.0.1:3128' : null,
    execPrefix,
    run: (n, argv, runOpts) => run([...execPrefix(n), ...argv], runOpts),
    capture: async (n, capOpts) => {
      const argv = [
        ...execPrefix(n), 'tcpdump', '-n', '-U', '--immediate-mode', '-Z', 'root', '-s', '0',
        '-i', capOpts.iface === 'any' ? 'any' : IFACES[n],
        ...(capOpts.iface === 'any' ? ['-y', 'LINUX_SLL2'] : []),
        '-w', capOpts.file, capOpts.filter ?? DEFAULT_FILTER,
      ];
      const d = await startDaemon(argv, /listening on/);
      daemons.push(d);
      // Let the last FIN/ACKs of a just-finished client reach the capture before stopping.
      const stop = async (): Promise<void> => {
        await new Promise((r) => setTimeout(r, capOpts.settleMs ?? 300));
        await d.stop('SIGINT');
      };
      return { file: capOpts.file, stop };
    },
    serverLog: () => (server ? server.lines.filter((l) => !l.startsWith('ready ')) : []),
    teardown,
  };
}

async function deleteNamespace(name: string): Promise<void> {
  // Whatever still runs inside was started by the lab: stop it, then drop the ns.
  const pids = await run(['ip', 'netns', 'pids', name]).catch(() => null);
  for (const pid of (pids?.stdout ?? '').split(/\s+/).filter((p) => /^\d+$/.test(p))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await run(['ip', 'netns', 'del', name]).catch(() => undefined);
}

/** names of lab namespaces with this prefix (all owners) */
export async function listLabNamespaces(prefix = 'iwlab'): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n): n is string => !!n && n.startsWith(`${prefix}-`));
}

/** delete namespaces of this prefix whose owning process is gone; returns their names */
export async function cleanupStale(prefix = 'iwlab'): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listLabNamespaces(prefix)) {
    const pid = Number(name.slice(prefix.length + 1).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) continue;
    if (pid === process.pid) continue;
    await deleteNamespace(name);
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
