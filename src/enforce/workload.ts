import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { ImdswatchError, type EnforceErrorCode } from '../errors/catalogue.js';

/**
 * Which workload `imdswatch enforce` applies HttpTokens=required to: a cgroup v2 path
 * (relative to the cgroup v2 root, as `iptables -m cgroup --path` takes it), found from a
 * systemd unit, a container or given as is (docs/design.md#enforce).
 */
export type { EnforceErrorCode };

export class EnforceError extends ImdswatchError<EnforceErrorCode> {
  constructor(code: EnforceErrorCode, message: string) {
    super(code, message);
    this.name = 'EnforceError';
  }
}

export type SelectionKind = 'unit' | 'container' | 'cgroup';

export interface Selection {
  kind: SelectionKind;
  name: string;
}

export interface Workload {
  /** "unit:nginx.service", "container:web", "cgroup:/lab/a" (events and the report) */
  label: string;
  /** relative to the cgroup v2 root, no leading slash, e.g. "system.slice/nginx.service" */
  path: string;
  /** depth of the path (nft `socket cgroupv2 level N`) */
  level: number;
  /** a pid of a container, to reach its network namespace */
  pid?: number;
}

/** statfs f_type of a cgroup v2 file system */
export const CGROUP2_SUPER_MAGIC = 0x63677270;

/** env override of the cgroup v2 root (tests; hosts with an unusual mount) */
export const CGROUP_ROOT_ENV = 'IMDSWATCH_CGROUP2_ROOT';

/** mount point of the cgroup v2 hierarchy from a /proc/self/mounts text; null when none */
export function cgroup2MountFrom(mounts: string): string | null {
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2' && f[1]) return f[1].replace(/\\040/g, ' ');
  }
  return null;
}

function isCgroup2(path: string): boolean {
  try {
    return statfsSync(path).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/**
 * The cgroup v2 root: the given one (--cgroup-root, IMDSWATCH_CGROUP2_ROOT) or the cgroup2
 * mount in /proc/self/mounts (/sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on
 * systemd's hybrid layout). Throws E_ENFORCE_NO_CGROUP2 when it is not a cgroup v2 file system.
 */
export function findCgroup2Root(given?: string, mountsPath = '/proc/self/mounts'): string {
  const override = given ?? process.env[CGROUP_ROOT_ENV];
  if (override) {
    if (isCgroup2(override)) return override;
    throw new EnforceError('E_ENFORCE_NO_CGROUP2', `${override} is not a cgroup v2 hierarchy: imdswatch enforce selects workloads by their cgroup v2 path and needs one (nothing was installed)`);
  }
  let mounts = '';
  try {
    mounts = readFileSync(mountsPath, 'utf8');
  } catch {
    /* no /proc: handled below */
  }
  const root = cgroup2MountFrom(mounts);
  if (root && isCgroup2(root)) return root;
  throw new EnforceError('E_ENFORCE_NO_CGROUP2', 'this host has no cgroup v2 hierarchy mounted: imdswatch enforce selects workloads by their cgroup v2 path and needs one (nothing was installed)');
}

/** the characters a path may have here (it goes into an nft rule as a quoted string) */
const SAFE_PATH = /^[A-Za-z0-9_.:@=+,\-/]+$/;

/** "/a/b/" → "a/b"; throws E_ENFORCE_NO_WORKLOAD for the root, `..` or characters nft cannot take */
export function normalizeCgroupPath(path: string): string {
  const rel = path.split('/').filter((s) => s !== '' && s !== '.').join('/');
  if (rel === '') throw new EnforceError('E_ENFORCE_NO_WORKLOAD', 'the cgroup v2 root selects every process of the host: select one workload (a cgroup below the root)');
  if (rel.split('/').includes('..') || !SAFE_PATH.test(rel)) {
    throw new EnforceError('E_ENFORCE_NO_WORKLOAD', `cgroup path ${JSON.stringify(path)} is not a plain path below the cgroup v2 root`);
  }
  return rel;
}

function workloadAt(root: string, path: string, label: string, pid?: number): Workload {
  const rel = normalizeCgroupPath(path);
  let dir = false;
  try {
    dir = statSync(join(root, rel)).isDirectory();
  } catch {
    /* not there */
  }
  if (!dir) throw new EnforceError('E_ENFORCE_NO_WORKLOAD', `${label}: no cgroup ${rel} under the cgroup v2 root ${root}`);
  return { label, path: rel, level: rel.split('/').length, ...(pid ? { pid } : {}) };
}

const UNIT_SUFFIX = /\.(service|scope|slice|socket|mount|swap|timer|path|target|device|automount)$/;

/** breadth-first search of the cgroup tree for a directory named `name` (a unit's cgroup) */
export function findCgroupNamed(root: string, name: string, maxDirs = 50_000): string | null {
  let level = [''];
  let seen = 0;
  while (level.length > 0 && seen < maxDirs) {
    const next: string[] = [];
    for (const rel of level) {
      let entries;
      try {
        entries = readdirSync(join(root, rel), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (e.name === name) return child;
        if (++seen >= maxDirs) break;
        next.push(child);
      }
    }
    level = next;
  }
  return null;
}

/** the cgroup v2 path of a pid ("0::/path" of /proc/PID/cgroup), no leading slash */
export function cgroupOfPid(pid: number | 'self', procRoot = '/proc'): string | null {
  try {
    const line = readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    return line === undefined ? null : line.slice(3).replace(/^\/+/, '');
  } catch {
    return null;
  }
}

type Inspect = (cmd: string, args: string[]) => string | null;
const execInspect: Inspect = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 15_000 }).trim();
  } catch {
    return null;
  }
};

/** the init pid of a running Docker or Podman container by name or id; null when neither knows it */
export function containerPid(name: string, inspect: Inspect = execInspect): { pid: number; runtime: string } | null {
  for (const runtime of ['docker', 'podman']) {
    const out = inspect(runtime, ['inspect', '--format', '{{.State.Pid}}', name]);
    const pid = Number(out);
    if (out && Number.isInteger(pid) && pid > 0) return { pid, runtime };
  }
  return null;
}

export interface ResolveOptions {
  procRoot?: string;
  inspect?: Inspect;
}

const unitName = (name: string): string => (UNIT_SUFFIX.test(name) ? name : `${name}.service`);

/** the workload's label before it is resolved ("unit:app.service", "container:web", "cgroup:/lab/a") */
export function labelOf(sel: Selection): string {
  if (sel.kind === 'cgroup') return `cgroup:/${sel.name.replace(/^\/+/, '')}`;
  return sel.kind === 'unit' ? `unit:${unitName(sel.name)}` : `container:${sel.name}`;
}

/** a selection → its workload; throws E_ENFORCE_NO_WORKLOAD with one line saying what is missing */
export function resolveSelection(root: string, sel: Selection, opts: ResolveOptions = {}): Workload {
  const procRoot = opts.procRoot ?? '/proc';
  if (sel.kind === 'cgroup') return workloadAt(root, sel.name, labelOf(sel));
  if (sel.kind === 'unit') {
    const unit = unitName(sel.name);
    const path = findCgroupNamed(root, unit);
    if (!path) throw new EnforceError('E_ENFORCE_NO_WORKLOAD', `unit ${unit} has no cgroup under ${root} (is it running? systemctl status ${unit})`);
    return workloadAt(root, path, labelOf(sel));
  }
  const c = containerPid(sel.name, opts.inspect);
  if (!c) throw new EnforceError('E_ENFORCE_NO_WORKLOAD', `no running Docker or Podman container named ${sel.name}`);
  const path = cgroupOfPid(c.pid, procRoot);
  if (!path) throw new EnforceError('E_ENFORCE_NO_WORKLOAD', `container ${sel.name} (pid ${c.pid}) is in no cgroup v2 group of its own (cgroup v1 runtime?)`);
  return workloadAt(root, path, labelOf(sel), c.pid);
}

/** true when `inner` is `outer` or below it */
export function cgroupWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}/`);
}

/** network namespace inode of a pid (self by default); null when unreadable */
export function netnsOf(pid: number | 'self', procRoot = '/proc'): string | null {
  try {
    return existsSync(`${procRoot}/${pid}/ns/net`) ? statSync(`${procRoot}/${pid}/ns/net`).ino.toString() : null;
  } catch {
    return null;
  }
}
