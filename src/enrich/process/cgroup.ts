import type { ContainerInfo } from '../../imds/event.js';

/**
 * Pure parser for /proc/PID/cgroup (v1 "id:controllers:path" lines and the v2 "0::path" line):
 * the systemd unit and the container / pod identity. Shapes follow docs/imds-facts.md#cgroup-shapes.
 */
export interface CgroupInfo {
  /** the cgroup path used (v2 line, else the v1 name=systemd line, else the first line) */
  path: string | null;
  /** systemd unit: innermost "*.service" or "*.scope" that is not a container scope */
  unit: string | null;
  /** user session / user service manager slice owner, e.g. "user@1000.service" */
  userUnit: string | null;
  container: ContainerInfo | null;
}

const HEX64 = '[0-9a-f]{64}';
const POD_UID = '([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})';

// systemd driver: "<prefix>-<id>.scope"; cgroupfs driver: the same without ".scope" — rootful
// Podman "/libpod_parent/libpod-<id>", CRI-O "…/pod<uid>/crio-<id>"
const SCOPE_RUNTIMES: Array<{ re: RegExp; runtime: ContainerInfo['runtime'] }> = [
  { re: new RegExp(`^docker-(${HEX64})(?:\\.scope)?$`), runtime: 'docker' },
  { re: new RegExp(`^cri-containerd-(${HEX64})(?:\\.scope)?$`), runtime: 'containerd' },
  { re: new RegExp(`^crio-(${HEX64})(?:\\.scope)?$`), runtime: 'cri-o' },
  { re: new RegExp(`^libpod-(${HEX64})(?:\\.scope)?$`), runtime: 'podman' },
];

/** Pick the path that names the process's placement. */
export function pickCgroupPath(text: string): string | null {
  let v2: string | null = null;
  let systemd: string | null = null;
  let first: string | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const a = line.indexOf(':');
    const b = a < 0 ? -1 : line.indexOf(':', a + 1);
    if (b < 0) continue;
    const id = line.slice(0, a);
    const controllers = line.slice(a + 1, b);
    const path = line.slice(b + 1);
    if (id === '0' && controllers === '') v2 = path;
    else if (controllers === 'name=systemd') systemd = path;
    if (first === null) first = path;
  }
  // hybrid hierarchy (cgroup v1 with an empty unified tree): the v2 line is "/" and only
  // the name=systemd line knows the unit — seen in a systemd-nspawn boot
  if (v2 !== null && v2 !== '/') return v2;
  return systemd ?? v2 ?? first;
}

export function parseCgroup(text: string): CgroupInfo {
  // Prefer the line with the most information: a container id may only appear in a v1
  // controller line while the v2 line is "/" (hybrid hierarchy), so scan all paths for a container.
  const path = pickCgroupPath(text);
  let container: ContainerInfo | null = null;
  for (const raw of text.split('\n')) {
    const b = raw.indexOf(':', raw.indexOf(':') + 1);
    if (b < 0) continue;
    container = containerFromPath(raw.slice(b + 1).trim());
    if (container) break;
  }
  const { unit, userUnit } = path ? unitFromPath(path) : { unit: null, userUnit: null };
  return { path, unit, userUnit, container };
}

/** systemd unit of a cgroup path: the innermost *.service or non-container *.scope. */
export function unitFromPath(path: string): { unit: string | null; userUnit: string | null } {
  const segs = path.split('/').filter(Boolean);
  let unit: string | null = null;
  let userUnit: string | null = null;
  for (const seg of segs) {
    if (/^user@\d+\.service$/.test(seg)) userUnit = seg;
    if (SCOPE_RUNTIMES.some((r) => r.re.test(seg)) || /-conmon-/.test(seg)) continue;
    // "containerd.service/kubepods-...:cri-containerd:<id>" style v1 segments are not units
    if (seg.includes(':')) continue;
    if (seg.endsWith('.service') || seg.endsWith('.scope')) unit = seg;
  }
  return { unit, userUnit };
}

export function containerFromPath(path: string): ContainerInfo | null {
  const segs = path.split('/').filter(Boolean);
  const podUid = findPodUid(path);
  let runtime: ContainerInfo['runtime'] | null = null;
  let id: string | null = null;

  // innermost match wins (docker-in-docker: the inner container)
  for (let i = segs.length - 1; i >= 0 && id === null; i--) {
    const seg = segs[i]!;
    for (const r of SCOPE_RUNTIMES) {
      const m = r.re.exec(seg);
      if (m) {
        runtime = r.runtime;
        id = m[1]!;
        break;
      }
    }
    if (id) break;
    // v1 "…/kubepods-…-pod<uid>.slice:cri-containerd:<id>" (systemd cgroup driver, name=systemd line)
    const colon = new RegExp(`^[^:]*:(cri-containerd|crio|docker):(${HEX64})$`).exec(seg);
    if (colon) {
      runtime = colon[1] === 'cri-containerd' ? 'containerd' : colon[1] === 'crio' ? 'cri-o' : 'docker';
      id = colon[2]!;
      break;
    }
    if (new RegExp(`^${HEX64}$`).test(seg)) {
      const parent = segs[i - 1] ?? '';
      const grand = segs[i - 2] ?? '';
      if (parent === 'docker') runtime = 'docker';
      else if (segs[0] === 'ecs') runtime = 'ecs';
      else if (/^pod/.test(parent) || segs[0] === 'kubepods') runtime = 'kubernetes';
      else if (grand === 'docker' || parent === 'lxc') runtime = 'docker';
      else runtime = 'unknown';
      id = seg;
      break;
    }
  }
  if (!id && !podUid && segs[0] !== 'ecs') return null;
  const info: ContainerInfo = { runtime: runtime ?? (podUid ? 'kubernetes' : 'unknown'), id };
  if (podUid) info.pod = { uid: podUid };
  // ECS on EC2 (v1): /ecs/<task-id>/<container-id>; the task id is not a container id
  if (segs[0] === 'ecs') info.runtime = 'ecs';
  return info;
}

function findPodUid(path: string): string | null {
  const m = new RegExp(`pod${POD_UID}(?:\\.slice)?(?:/|$|:)`).exec(path);
  return m ? m[1]!.replace(/_/g, '-') : null;
}

/**
 * `ctr run` (and anything using containerd's default spec) puts a task in the cgroup
 * "/<containerd namespace>/<container id>", both free-form identifiers: "/default/plain-ctr".
 * The path alone does not prove containerd; the caller confirms with the task directory
 * (`<containerdTaskDir>/<namespace>/<id>`). Returns the two parts when the path has that shape.
 */
export function containerdTaskCandidate(path: string | null): { namespace: string; id: string } | null {
  if (!path) return null;
  const segs = path.split('/').filter(Boolean);
  if (segs.length !== 2) return null;
  const [namespace, id] = segs as [string, string];
  const ident = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
  if (namespace.length > 76 || id.length > 76 || !ident.test(namespace) || !ident.test(id)) return null;
  if (/\.(slice|scope|service)$/.test(id) || /\.(slice|scope|service)$/.test(namespace)) return null;
  return { namespace, id };
}
