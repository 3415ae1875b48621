import { join } from 'node:path';
import type { ContainerInfo } from '../../imds/event.js';
import { nodeMetadataFs, type MetadataFs } from './metadata-fs.js';
import {
  CONTAINER_ID_RE,
  isContainerdId,
  POD_UID_RE,
  parseContainerLogName,
  parseContainersJson,
  parseDockerConfig,
  parseOciConfig,
  parsePodLogDirName,
  hasNames,
  type ContainerNames,
} from './metadata-parsers.js';

/**
 * Container id / pod uid (from /proc/PID/cgroup) → names, from the runtimes' own metadata on
 * disk, read-only. No runtime socket and no API server is contacted, and nothing under
 * /var/lib/kubelet is read (that is where service-account tokens live).
 *
 * Lookup order for a container id (the cgroup's runtime is tried first, then the others):
 *   docker      <dockerRoot>/containers/<id>/config.v2.json
 *   containerd  <containerdTaskDir>/<namespace>/<id>/config.json   (every namespace: k8s.io, moby, default, ...)
 *   cri-o/podman <storageRoot>/overlay-containers/<id>/userdata/config.json, then
 *               <storageRoot>/overlay-containers/containers.json   (names), for each storage root
 *   kubelet     entry names of <podLogDir>/../containers: <pod>_<namespace>_<container>-<id>.log
 * and for a pod uid still without namespace/name: entry names of <podLogDir>: <namespace>_<pod>_<uid>.
 *
 * Results are cached: a complete answer until evicted (names never change for an id), an
 * empty or partial one for `missTtlMs` (a brand-new pod's log directory may appear late).
 * At most `maxEntries` answers are kept (least recently used dropped first).
 */
export interface ContainerResolverOptions {
  /** every path below is taken under this directory (tests use a temp tree) */
  root: string;
  dockerRoot: string;
  containerdTaskDir: string;
  storageRoots: string[];
  podLogDir: string;
  containerLogDir: string;
  /** metadata files larger than this are not read (counted as too-large) */
  maxFileBytes: number;
  /** containers.json lists every container: it gets its own, larger bound */
  maxListBytes: number;
  maxEntries: number;
  missTtlMs: number;
  now: () => number;
  fs: MetadataFs;
}

export const DEFAULT_CONTAINER_RESOLVER_OPTIONS: ContainerResolverOptions = {
  root: '/',
  dockerRoot: '/var/lib/docker',
  containerdTaskDir: '/run/containerd/io.containerd.runtime.v2.task',
  storageRoots: ['/var/lib/containers/storage', '/run/containers/storage'],
  podLogDir: '/var/log/pods',
  containerLogDir: '/var/log/containers',
  maxFileBytes: 1024 * 1024,
  maxListBytes: 8 * 1024 * 1024,
  maxEntries: 2048,
  missTtlMs: 30_000,
  now: () => Date.now(),
  fs: nodeMetadataFs,
};

export type ContainerSource = 'docker' | 'containerd' | 'containers-storage' | 'containers-json' | 'kubelet-container-log' | 'kubelet-pod-log';

export interface ContainerResolverStats {
  lookups: number;
  cacheHits: number;
  resolved: number;
  unresolved: number;
  /** files that could not be used, by reason (missing files are normal and not counted) */
  unreadable: number;
  tooLarge: number;
  notAFile: number;
  malformed: number;
  evicted: number;
  bySource: Record<ContainerSource, number>;
}

interface Resolved extends ContainerNames {
  /** the runtime whose metadata named the container, when one did */
  runtime: ContainerInfo['runtime'] | null;
}

interface CacheEntry {
  names: Resolved;
  /** Infinity for complete answers */
  expiresAt: number;
}

const RUNTIME_ORDER: Record<ContainerInfo['runtime'], Array<'docker' | 'containerd' | 'storage'>> = {
  docker: ['docker', 'containerd', 'storage'],
  ecs: ['docker', 'containerd', 'storage'],
  containerd: ['containerd', 'docker', 'storage'],
  'cri-o': ['storage', 'containerd', 'docker'],
  podman: ['storage', 'docker', 'containerd'],
  kubernetes: ['containerd', 'storage', 'docker'],
  unknown: ['docker', 'containerd', 'storage'],
};

export class ContainerResolver {
  private readonly opts: ContainerResolverOptions;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly counters: Omit<ContainerResolverStats, 'bySource'> = {
    lookups: 0, cacheHits: 0, resolved: 0, unresolved: 0, unreadable: 0, tooLarge: 0, notAFile: 0, malformed: 0, evicted: 0,
  };
  private readonly bySource: Record<ContainerSource, number> = {
    docker: 0, containerd: 0, 'containers-storage': 0, 'containers-json': 0, 'kubelet-container-log': 0, 'kubelet-pod-log': 0,
  };

  constructor(opts: Partial<ContainerResolverOptions> = {}) {
    this.opts = { ...DEFAULT_CONTAINER_RESOLVER_OPTIONS, ...opts };
  }

  /**
   * The same container with `name`, `image` and `pod.{namespace,name}` filled in where the
   * metadata has them. Never throws; returns the input unchanged when nothing is found.
   */
  resolve(c: ContainerInfo): ContainerInfo {
    this.counters.lookups++;
    // a containerd container may have a free-form id (ctr run … plain-ctr): only the containerd source then
    const id = c.id && (CONTAINER_ID_RE.test(c.id) || (c.runtime === 'containerd' && isContainerdId(c.id))) ? c.id : null;
    const uid = c.pod?.uid && POD_UID_RE.test(c.pod.uid) ? c.pod.uid : null;
    if (!id && !uid) return c;
    const key = `${c.runtime}|${id ?? ''}|${uid ?? ''}`;
    const now = this.opts.now();
    let entry = this.cache.get(key);
    if (entry && entry.expiresAt > now) {
      this.counters.cacheHits++;
      this.cache.delete(key);
      this.cache.set(key, entry); // LRU order
    } else {
      const names = this.lookup(c.runtime, id, uid);
      const complete = names.name !== null && (names.pod === null ? uid === null : names.pod.name !== null && names.pod.namespace !== null);
      entry = { names, expiresAt: complete ? Infinity : now + this.opts.missTtlMs };
      if (names.name !== null || names.pod?.name) this.counters.resolved++;
      else this.counters.unresolved++;
      this.cache.delete(key);
      this.cache.set(key, entry);
      while (this.cache.size > this.opts.maxEntries) {
        this.cache.delete(this.cache.keys().next().value as string);
        this.counters.evicted++;
      }
    }
    return merge(c, entry.names);
  }

  stats(): ContainerResolverStats {
    return { ...this.counters, bySource: { ...this.bySource } };
  }

  private path(...parts: string[]): string {
    return join(this.opts.root, ...parts);
  }

  private lookup(runtime: ContainerInfo['runtime'], id: string | null, uid: string | null): Resolved {
    let names: ContainerNames = { name: null, image: null, pod: null };
    let foundBy: ContainerInfo['runtime'] | null = null;
    if (id) {
      const order = CONTAINER_ID_RE.test(id) ? (RUNTIME_ORDER[runtime] ?? RUNTIME_ORDER.unknown) : (['containerd'] as const);
      for (const src of order) {
        const found = src === 'docker' ? this.fromDocker(id) : src === 'containerd' ? this.fromContainerd(id) : this.fromStorage(id);
        if (found) {
          names = found;
          foundBy = src === 'storage' ? (found.pod ? 'cri-o' : 'podman') : src;
          break;
        }
      }
      if (names.name === null || (names.pod === null && uid !== null)) {
        const fromLog = this.fromContainerLogs(id);
        if (fromLog) names = fill(names, fromLog);
      }
    }
    const podUid = names.pod?.uid ?? uid;
    if (podUid && (!names.pod?.name || !names.pod.namespace)) {
      const fromPods = this.fromPodLogs(podUid);
      if (fromPods) names = fill(names, fromPods);
    }
    if (names.pod && !names.pod.uid) {
      const found = uid ?? (names.pod.namespace && names.pod.name ? this.podUidFromPodLogs(names.pod.namespace, names.pod.name) : null);
      if (found) names = { ...names, pod: { ...names.pod, uid: found } };
    }
    return { ...names, runtime: foundBy };
  }

  private read(path: string, max: number): string | null {
    const r = this.opts.fs.readSmallFile(path, max);
    if (r.ok) return r.text;
    if (r.code === 'unreadable') this.counters.unreadable++;
    else if (r.code === 'too-large') this.counters.tooLarge++;
    else if (r.code === 'not-a-file') this.counters.notAFile++;
    return null;
  }

  private parsed<T>(text: string | null, parse: (t: string) => T | null): T | null {
    if (text === null) return null;
    const v = parse(text);
    if (v === null) this.counters.malformed++;
    return v;
  }

  private fromDocker(id: string): ContainerNames | null {
    const names = this.parsed(this.read(this.path(this.opts.dockerRoot, 'containers', id, 'config.v2.json'), this.opts.maxFileBytes), parseDockerConfig);
    if (!hasNames(names)) return null;
    this.bySource.docker++;
    return names;
  }

  private fromContainerd(id: string): ContainerNames | null {
    const taskDir = this.path(this.opts.containerdTaskDir);
    for (const ns of this.opts.fs.listDir(taskDir) ?? []) {
      if (ns.startsWith('.') || ns.includes('/')) continue;
      const spec = this.parsed(this.read(join(taskDir, ns, id, 'config.json'), this.opts.maxFileBytes), parseOciConfig);
      if (hasNames(spec)) {
        this.bySource.containerd++;
        return { name: spec.name, image: spec.image, pod: spec.pod };
      }
    }
    return null;
  }

  private fromStorage(id: string): ContainerNames | null {
    for (const root of this.opts.storageRoots) {
      const found = this.parsed(this.read(this.path(root, 'overlay-containers', id, 'userdata', 'config.json'), this.opts.maxFileBytes), parseOciConfig);
      const spec = hasNames(found) ? found : null;
      if (spec && spec.name) {
        this.bySource['containers-storage']++;
        return { name: spec.name, image: spec.image, pod: spec.pod };
      }
      // Podman keeps the container's name in its database and in containers/storage's list;
      // only consulted when this storage root has the container at all
      if (found === null && !this.opts.fs.listDir(this.path(root, 'overlay-containers', id))) continue;
      const listed = this.parsed(this.read(this.path(root, 'overlay-containers', 'containers.json'), this.opts.maxListBytes), (t) => parseContainersJson(t, id));
      if (hasNames(listed)) {
        this.bySource['containers-json']++;
        return spec ? fill({ name: spec.name, image: spec.image, pod: spec.pod }, listed) : listed;
      }
      if (spec) {
        this.bySource['containers-storage']++;
        return { name: spec.name, image: spec.image, pod: spec.pod };
      }
    }
    return null;
  }

  private fromContainerLogs(id: string): ContainerNames | null {
    const suffix = `-${id}.log`;
    for (const entry of this.opts.fs.listDir(this.path(this.opts.containerLogDir)) ?? []) {
      if (!entry.endsWith(suffix)) continue;
      const p = parseContainerLogName(entry);
      if (!p) continue;
      this.bySource['kubelet-container-log']++;
      return { name: p.container, image: null, pod: { uid: null, namespace: p.namespace, name: p.pod } };
    }
    return null;
  }

  private podUidFromPodLogs(namespace: string, name: string): string | null {
    const prefix = `${namespace}_${name}_`;
    for (const entry of this.opts.fs.listDir(this.path(this.opts.podLogDir)) ?? []) {
      if (!entry.startsWith(prefix)) continue;
      const p = parsePodLogDirName(entry);
      if (p && p.namespace === namespace && p.name === name) return p.uid;
    }
    return null;
  }

  private fromPodLogs(uid: string): ContainerNames | null {
    const suffix = `_${uid}`;
    for (const entry of this.opts.fs.listDir(this.path(this.opts.podLogDir)) ?? []) {
      if (!entry.endsWith(suffix)) continue;
      const p = parsePodLogDirName(entry);
      if (!p || p.uid !== uid) continue;
      this.bySource['kubelet-pod-log']++;
      return { name: null, image: null, pod: { uid, namespace: p.namespace, name: p.name } };
    }
    return null;
  }
}

/** fill the gaps of `a` from `b` (a's values win) */
function fill(a: ContainerNames, b: ContainerNames): ContainerNames {
  const pod = a.pod || b.pod
    ? {
        uid: a.pod?.uid ?? b.pod?.uid ?? null,
        namespace: a.pod?.namespace ?? b.pod?.namespace ?? null,
        name: a.pod?.name ?? b.pod?.name ?? null,
      }
    : null;
  return { name: a.name ?? b.name, image: a.image ?? b.image, pod };
}

function merge(c: ContainerInfo, n: Resolved): ContainerInfo {
  if (n.name === null && n.image === null && n.pod === null) return c;
  const out: ContainerInfo = { ...c };
  if (n.name !== null && !c.name) out.name = n.name;
  if (n.image !== null && !c.image) out.image = n.image;
  if (n.pod) {
    // uid '' when no source knew it (a Docker container with pod labels but no uid label)
    const uid = c.pod?.uid ?? n.pod.uid ?? '';
    out.pod = { uid, namespace: c.pod?.namespace ?? n.pod.namespace, name: c.pod?.name ?? n.pod.name };
  }
  // the cgroup path alone cannot always tell the runtime (cgroupfs driver: "kubernetes", "unknown")
  if (n.runtime && (c.runtime === 'unknown' || c.runtime === 'kubernetes')) out.runtime = n.runtime;
  return out;
}
