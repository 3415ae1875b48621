import { ImdswatchError } from '../errors/catalogue.js';
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, readdirSync, readFileSync, readlinkSync, renameSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { DEFAULT_STATE_PATH } from '../domain/endpoint.js';
import { checkDirectory, prepareDirectory, UnsafePathError } from '../files/safe-file.js';

/**
 * One imdswatch daemon per network namespace (the scope of the gate's rules and its
 * NFQUEUE): two daemons would fight over both, and the second would log every call again.
 *
 * The lock lives in a directory only root or the daemon's user can write — the unit's
 * RuntimeDirectory /run/imdswatch (created 0700 when run by hand as root); where /run cannot
 * be written (a container with a read-only root) the state file's directory — checked like
 * every file the daemon writes (src/files/safe-file.ts), so no other local user can hold
 * it, or make a daemon refuse to start (docs/design.md#security). Every daemon and `scan`
 * look in all of these. It used to be the abstract socket `@imdswatch-daemon`, which any
 * user could bind first; that name is ignored now.
 *
 * Each daemon binds a listening unix socket of its own, `daemon-n<netns>-p<pid>-<random>.sock`
 * (made under a temporary name and renamed, so a visible one always listens), then looks for
 * others of its namespace: a socket that refuses connections is a dead daemon's and is removed;
 * one that answers is a live daemon. Seen before registering: refuse, naming its pid. Seen
 * after: both started at once — step back for a random moment and try again. Of two daemons
 * the later one to register always sees the earlier one, so two never both hold it. The
 * kernel frees nothing here: a SIGKILLed daemon's socket stays until the next daemon (or
 * systemd, which empties the RuntimeDirectory at every stop) removes it.
 */
export const DEFAULT_RUN_DIR = '/run/imdswatch';
const ATTEMPTS = 5;
const PROBE_MS = 500;

export interface InstanceLock {
  /** the socket file this daemon holds */
  readonly path: string;
  release(): void;
}

export class AlreadyRunningError extends ImdswatchError<'E_DAEMON_RUNNING'> {
  constructor(readonly pid: number | null) {
    super(
      'E_DAEMON_RUNNING',
      `another imdswatch daemon is running on this host${pid ? ` (pid ${pid})` : ''}: it already logs every call ` +
        '(see `imdswatch report`); stop it first (systemctl stop imdswatch) to run another',
    );
    this.name = 'AlreadyRunningError';
  }
}

export interface LockPlace {
  /** where daemons register, in order of preference; all are searched for other daemons */
  dirs: string[];
  /** the network namespace's id (inode of /proc/self/ns/net) */
  netns: string;
}

/**
 * This process's lock place: IMDSWATCH_RUN_DIR alone when set (tests, unusual setups), else
 * /run/imdswatch then `stateDirs` (default: the default state file's directory); and its
 * network namespace.
 */
export function lockPlace(env: NodeJS.ProcessEnv = process.env, stateDirs: string[] = [dirname(DEFAULT_STATE_PATH)]): LockPlace {
  let netns = 'unknown';
  try {
    netns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? netns;
  } catch {
    /* no /proc: one namespace as far as we can tell */
  }
  const dirs = env.IMDSWATCH_RUN_DIR ? [env.IMDSWATCH_RUN_DIR] : [...new Set([DEFAULT_RUN_DIR, ...stateDirs])];
  return { dirs, netns };
}

const NAME = /^daemon-n([0-9a-z]+)-p(\d+)-[0-9a-f]+\.sock$/;

/**
 * A live daemon's socket in this namespace: true when it answers (or cannot be asked: a full
 * backlog, no answer). A caller that may not connect (EACCES: a user's scan, the socket is
 * root's 0600) cannot tell a live daemon from one killed by SIGKILL that left its socket: it
 * asks /proc whether the socket's pid still runs and started before the socket was made
 * (else the pid was reused). Without that, a daemon killed once — or a socket whose network
 * namespace id was reused by a new namespace — refused every user's scan until root cleaned up.
 */
function probe(path: string, pid: number): Promise<'live' | 'dead' | 'gone'> {
  return new Promise((resolve) => {
    const sock = createConnection({ path });
    const done = (r: 'live' | 'dead' | 'gone') => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('live'), PROBE_MS);
    sock.on('connect', () => done('live'));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') return done('dead');
      if (err.code === 'ENOENT') return done('gone');
      if (err.code === 'EACCES' || err.code === 'EPERM') return done(pidHoldsSocket(pid, path) ? 'live' : 'dead');
      done('live');
    });
  });
}

/** clock ticks per second of /proc/PID/stat's start time (USER_HZ: 100 on every Linux ABI) */
const USER_HZ = 100;

/** whether `pid` runs and started no later than the socket at `path` was made (false: gone, or the pid was reused) */
export function pidHoldsSocket(pid: number, path: string, proc = '/proc'): boolean {
  try {
    const stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
    // field 22 (starttime) counts from after the comm field, which may hold spaces and parens
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync(`${proc}/stat`, 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(btime)) return true;
    const startedMs = (btime + startTicks / USER_HZ) * 1000;
    // a second of slack: btime is whole seconds
    return startedMs <= lstatSync(path).mtimeMs + 1000;
  } catch (err) {
    // no such process: the socket is a dead daemon's; anything else: cannot tell, assume live
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/**
 * The lock sockets registered in `place` for its network namespace (other than `own`), with
 * the pid in their name. A directory another user could write holds no lock: what is in it
 * is not obeyed.
 */
function* registered(place: LockPlace, own: string | null = null): Generator<{ path: string; pid: number }> {
  for (const dir of place.dirs) {
    let names: string[];
    try {
      checkDirectory(dir);
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = NAME.exec(name);
      if (m && m[1] === place.netns && name !== own) yield { path: join(dir, name), pid: Number(m[2]) };
    }
  }
}

/** the pids of the live daemons registered in `place` (other than `own`); removes dead daemons' sockets */
export async function liveDaemons(place: LockPlace, own: string | null = null): Promise<number[]> {
  const pids: number[] = [];
  for (const { path, pid } of registered(place, own)) {
    const r = await probe(path, pid);
    if (r === 'live') pids.push(pid);
    else if (r === 'dead') {
      try {
        unlinkSync(path);
      } catch {
        /* not ours to remove (scan as another user), or gone already */
      }
    }
  }
  return pids;
}

/** the first directory of the place that is there (or can be made) and safe; UnsafePathError for an unsafe one */
function registerDir(place: LockPlace): string {
  const failed: string[] = [];
  for (const dir of place.dirs) {
    try {
      prepareDirectory(dir);
      return dir;
    } catch (err) {
      if (err instanceof UnsafePathError) throw err;
      failed.push(`${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  throw new Error(`no directory for the single-instance lock: ${failed.join(', ')}; set IMDSWATCH_RUN_DIR to one only root or the daemon's user can write`);
}

/** what a daemon tells whoever connects to its lock socket (`scan` follows its event log: src/cli/scan-follow.ts) */
export interface DaemonFacts {
  pid: number;
  /** its event log file, or null when it writes none */
  logFile: string | null;
  /** (asked only) the owner of its lock socket: the daemon's user, who may own its log's directory */
  owner?: { uid: number; gid: number };
  /**
   * its counters at the moment it answered (src/live/daemon-health.ts lossCounters): how far
   * its capture was read and every loss that can hide a call; null before capture starts
   */
  health?: Record<string, number> | null;
}

/** what the daemon gives the lock socket: fixed facts, and its health read at each answer */
export interface DaemonFactsSource {
  logFile: string | null;
  health?: () => Record<string, number> | null;
}

function listen(path: string, facts: DaemonFactsSource): Promise<Server> {
  const server = createServer((sock) => {
    sock.on('error', () => {});
    let health: Record<string, number> | null = null;
    try {
      health = facts.health?.() ?? null;
    } catch {
      /* no counters rather than no answer */
    }
    sock.end(`${JSON.stringify({ pid: process.pid, logFile: facts.logFile, health })}\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path }, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve(server);
    });
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Take the daemon lock of this network namespace, or throw AlreadyRunningError naming the
 * holder; UnsafePathError when the directory could be written by another user.
 */
export async function acquireDaemonLock(place: LockPlace = lockPlace(), facts: DaemonFactsSource = { logFile: null }): Promise<InstanceLock> {
  const dir = registerDir(place);
  let last: number | null = null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const before = await liveDaemons(place);
    if (before.length > 0) throw new AlreadyRunningError(before[0]!);
    const rand = randomBytes(6).toString('hex');
    const name = `daemon-n${place.netns}-p${process.pid}-${rand}.sock`;
    const tmp = join(dir, `.tmp-${rand}.sock`);
    const path = join(dir, name);
    const server = await listen(tmp, facts);
    const drop = () => {
      server.close();
      for (const p of [tmp, path]) {
        try {
          unlinkSync(p);
        } catch {
          /* gone */
        }
      }
    };
    try {
      chmodSync(tmp, 0o600);
      renameSync(tmp, path);
    } catch (err) {
      drop();
      throw err;
    }
    const after = await liveDaemons(place, name);
    if (after.length === 0) {
      server.unref();
      return { path, release: drop };
    }
    // another daemon registered at the same moment: step back, then look again
    last = after[0]!;
    drop();
    await pause(20 + Math.floor(Math.random() * 200));
  }
  throw new AlreadyRunningError(last);
}

/** whether a daemon holds the lock of this network namespace, and its pid (for `scan`) */
export async function daemonRunning(place: LockPlace = lockPlace()): Promise<{ running: boolean; pid: number | null }> {
  const pids = await liveDaemons(place);
  return pids.length > 0 ? { running: true, pid: pids[0]! } : { running: false, pid: null };
}

/**
 * What the live daemon of this network namespace says about itself (its pid and event log),
 * read from its lock socket — which sits in a directory only root or the daemon's user can
 * write, so the answer is the daemon's; null when none runs or it does not answer (an older
 * daemon answers its pid alone: logFile null).
 */
export async function askDaemon(place: LockPlace = lockPlace()): Promise<DaemonFacts | null> {
  for (const { path, pid } of registered(place)) {
    const facts = await readAnswer(path, pid);
    if (!facts) continue;
    try {
      const st = lstatSync(path);
      facts.owner = { uid: st.uid, gid: st.gid };
    } catch {
      /* gone meanwhile: root's */
    }
    return facts;
  }
  return null;
}

const MAX_ANSWER = 8192;

function readAnswer(path: string, pid: number): Promise<DaemonFacts | null> {
  return new Promise((resolve) => {
    const sock = createConnection({ path });
    let text = '';
    const done = (r: DaemonFacts | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(null), PROBE_MS);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      text += d;
      if (text.length > MAX_ANSWER) done(null);
    });
    sock.on('end', () => {
      const line = text.trim();
      if (/^\d+$/.test(line)) return done({ pid, logFile: null });
      try {
        const o = JSON.parse(line) as { pid?: unknown; logFile?: unknown; health?: unknown };
        done({ pid: typeof o.pid === 'number' ? o.pid : pid, logFile: typeof o.logFile === 'string' && o.logFile.startsWith('/') ? o.logFile : null, health: numbersOf(o.health) });
      } catch {
        done(null);
      }
    });
    sock.on('error', () => done(null));
  });
}

/** an object of finite numbers, else null (the answer is parsed, not trusted to be well formed) */
function numbersOf(v: unknown): Record<string, number> | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(v)) {
    if (typeof n !== 'number' || !Number.isFinite(n)) return null;
    out[k] = n;
  }
  return out;
}
