/**
 * Pure parsers for container runtimes' own metadata files and kubelet's log directory names.
 * Each takes file text (or a directory entry name). The file parsers return null only for text
 * that is not the expected JSON shape (malformed, truncated, hostile) and empty names when the
 * file is valid but names nothing. None throws. Only the fields named here are
 * kept; everything else in those files (environment variables, mounts, hooks, ...) is never
 * looked at beyond JSON.parse, and never leaves this module.
 *
 * Sources and the keys read (see src/enrich/container/README.md):
 * - Docker  `config.v2.json`: `Name`, `Config.Image`, `Config.Labels[io.kubernetes.*]`
 *   (dockershim / cri-dockerd put the pod's identity in labels).
 * - OCI runtime spec `config.json` (containerd task bundle, CRI-O and Podman userdata):
 *   `annotations` — containerd CRI `io.kubernetes.cri.*`, CRI-O `io.kubernetes.pod.*` /
 *   `io.kubernetes.container.name`, nerdctl `nerdctl/name`, image from
 *   `io.kubernetes.cri.image-name` / `io.kubernetes.cri-o.ImageName`.
 * - containers/storage `containers.json`: `[{id, names: [...]}]` (Podman's names).
 * - kubelet `/var/log/pods/<namespace>_<pod>_<uid>` and
 *   `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` entry names.
 */
export interface ContainerNames {
  name: string | null;
  image: string | null;
  pod: { uid: string | null; namespace: string | null; name: string | null } | null;
}

/** longest name / image text kept (longer values are cut: they only label things) */
export const MAX_NAME_LENGTH = 253;

const EMPTY: ContainerNames = { name: null, image: null, pod: null };

function str(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (!s) return null;
  // control characters never make it into a label or a log line
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '');
  return clean ? clean.slice(0, MAX_NAME_LENGTH) : null;
}

function obj(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function withPod(base: Omit<ContainerNames, 'pod'>, uid: string | null, namespace: string | null, name: string | null): ContainerNames {
  return { ...base, pod: uid || namespace || name ? { uid, namespace, name } : null };
}

export function hasNames(n: ContainerNames | null): n is ContainerNames {
  return n !== null && (n.name !== null || n.image !== null || n.pod !== null);
}

/** Docker's /var/lib/docker/containers/<id>/config.v2.json */
export function parseDockerConfig(text: string): ContainerNames | null {
  const root = obj(parseJson(text));
  if (!root) return null;
  const config = obj(root['Config']);
  const labels = obj(config?.['Labels']) ?? {};
  const rawName = str(root['Name']);
  const k8sContainer = str(labels['io.kubernetes.container.name']);
  const out = withPod(
    {
      name: k8sContainer ?? (rawName ? rawName.replace(/^\/+/, '') || null : null),
      image: str(config?.['Image']),
    },
    str(labels['io.kubernetes.pod.uid']),
    str(labels['io.kubernetes.pod.namespace']),
    str(labels['io.kubernetes.pod.name']),
  );
  return out;
}

/** what kind of CRI container an OCI spec describes: a pod's sandbox (pause) or a workload container */
export type OciContainerType = 'sandbox' | 'container' | null;

/** An OCI runtime spec (config.json): the annotations containerd (CRI, nerdctl), CRI-O and Podman set. */
export function parseOciConfig(text: string): (ContainerNames & { type: OciContainerType }) | null {
  const root = obj(parseJson(text));
  if (!root) return null;
  if (root['annotations'] !== undefined && !obj(root['annotations'])) return null;
  const a = obj(root['annotations']) ?? {};
  const get = (k: string) => str(a[k]);
  const typeRaw = get('io.kubernetes.cri.container-type') ?? get('io.kubernetes.cri-o.ContainerType');
  const type: OciContainerType = typeRaw === 'sandbox' || typeRaw === 'container' ? typeRaw : null;
  const out = withPod(
    {
      name: get('io.kubernetes.cri.container-name') ?? get('io.kubernetes.container.name') ?? get('nerdctl/name'),
      image: get('io.kubernetes.cri.image-name') ?? get('io.kubernetes.cri-o.ImageName') ?? get('org.opencontainers.image.ref.name'),
    },
    get('io.kubernetes.cri.sandbox-uid') ?? get('io.kubernetes.pod.uid'),
    get('io.kubernetes.cri.sandbox-namespace') ?? get('io.kubernetes.pod.namespace'),
    get('io.kubernetes.cri.sandbox-name') ?? get('io.kubernetes.pod.name'),
  );
  return { ...out, type };
}

/** containers/storage `overlay-containers/containers.json`: the first name of container `id` (empty names when not listed) */
export function parseContainersJson(text: string, id: string): ContainerNames | null {
  const list = parseJson(text);
  if (!Array.isArray(list)) return null;
  for (const item of list) {
    const o = obj(item);
    if (!o || o['id'] !== id) continue;
    const names = Array.isArray(o['names']) ? o['names'] : [];
    const name = names.map(str).find((n) => n !== null) ?? null;
    // Podman keeps the image it was created from in `metadata` (a JSON string): `image-name`
    let image: string | null = null;
    if (typeof o['metadata'] === 'string' && o['metadata'].length <= 65_536) image = str(obj(parseJson(o['metadata']))?.['image-name']);
    return { ...EMPTY, name, image };
  }
  return { ...EMPTY };
}

// Kubernetes object names: namespace is a DNS label, pod a DNS subdomain, container a DNS label:
// none of them contains '_', which is what makes kubelet's '_'-joined names unambiguous.
const DNS_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DNS_SUBDOMAIN = '[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?';
/** pod uid as kubelet writes it: a UUID, or 32 hex digits for static pods (a config hash) */
export const POD_UID_RE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;
export const CONTAINER_ID_RE = /^[0-9a-f]{64}$/;
/**
 * containerd's identifiers (namespaces and container ids created through `ctr`, nerdctl --name
 * etc. are free-form): alphanumerics joined by single '.', '_' or '-', at most 76 characters
 * (containerd's identifiers.Validate). Safe as one path component.
 */
export const CONTAINERD_ID_RE = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
export const CONTAINERD_ID_MAX = 76;
export const isContainerdId = (s: string): boolean => s.length <= CONTAINERD_ID_MAX && CONTAINERD_ID_RE.test(s);

const POD_DIR = new RegExp(`^(${DNS_LABEL})_(${DNS_SUBDOMAIN})_([0-9a-f-]{32,36})$`);
const CONTAINER_LOG = new RegExp(`^(${DNS_SUBDOMAIN})_(${DNS_LABEL})_(${DNS_LABEL})-([0-9a-f]{64})\\.log$`);

/** `/var/log/pods/<namespace>_<pod>_<uid>` entry name */
export function parsePodLogDirName(entry: string): { namespace: string; name: string; uid: string } | null {
  const m = POD_DIR.exec(entry);
  if (!m || !POD_UID_RE.test(m[3]!)) return null;
  return { namespace: m[1]!, name: m[2]!, uid: m[3]! };
}

/** `/var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log` entry name */
export function parseContainerLogName(entry: string): { pod: string; namespace: string; container: string; id: string } | null {
  const m = CONTAINER_LOG.exec(entry);
  if (!m) return null;
  return { pod: m[1]!, namespace: m[2]!, container: m[3]!, id: m[4]! };
}
