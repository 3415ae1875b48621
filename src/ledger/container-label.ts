import type { ImdsEvent } from '../imds/event.js';

/** A call's container as one label: "namespace/pod/container" (Kubernetes), the container's name, or "runtime:id12". null outside containers. */
export function containerLabel(ev: ImdsEvent): string | null {
  const c = ev.process?.container;
  if (!c) return null;
  if (c.pod) return `${c.pod.namespace ?? '?'}/${c.pod.name ?? c.pod.uid}${c.name ? `/${c.name}` : ''}`;
  return c.name ?? (c.id ? `${c.runtime}:${c.id.slice(0, 12)}` : c.runtime);
}
