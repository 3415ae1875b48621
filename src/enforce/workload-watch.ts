import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EnforceError, labelOf, resolveSelection, type ResolveOptions, type Selection, type Workload } from './workload.js';

/**
 * Is a listed workload there now (docs/design.md#enforce-in-effect)? The daemon asks every
 * POLL_MS for each workload of its `enforce` setting: one not running yet (at boot the usual
 * case) is enforced once it appears, one that went (or was re-created: a new cgroup, so the
 * old rule matches nothing) is let go. Cheap: a stat for a cgroup, a walk of the cgroup tree
 * for a unit not found yet, and `docker`/`podman inspect` run asynchronously for a container
 * (never blocking capture).
 */
export const POLL_MS = 2_000;

/** the cgroup directory's inode (the kernel's cgroup id, what nft's rule matches); null when gone */
export function cgroupIno(root: string, path: string): number | null {
  try {
    const st = statSync(join(root, path));
    return st.isDirectory() ? st.ino : null;
  } catch {
    return null;
  }
}

/** "unit app.service was not running", "cgroup /lab/a was not found" */
export function notRunningWhy(sel: Selection): string {
  const label = labelOf(sel);
  const what = label.slice(label.indexOf(':') + 1);
  return sel.kind === 'cgroup' ? `cgroup ${what} was not found` : `${sel.kind} ${what} was not running`;
}

const run = promisify(execFile);

async function containerPidAsync(name: string): Promise<{ pid: number; runtime: string } | null> {
  for (const runtime of ['docker', 'podman']) {
    try {
      const { stdout } = await run(runtime, ['inspect', '--format', '{{.State.Pid}}', name], { timeout: 15_000 });
      const pid = Number(stdout.trim());
      if (Number.isInteger(pid) && pid > 0) return { pid, runtime };
    } catch {
      /* not this runtime's, or not running */
    }
  }
  return null;
}

export type Presence =
  | { present: true; workload: Workload; ino: number; inspect?: ResolveOptions['inspect'] }
  | { present: false; why: string; permanent: boolean };

/** the workload as it is now; `permanent` when no later look can find it (a path nft cannot take) */
export async function lookUp(root: string, sel: Selection): Promise<Presence> {
  let inspect: ResolveOptions['inspect'];
  if (sel.kind === 'container') {
    const c = await containerPidAsync(sel.name);
    if (!c) return { present: false, why: notRunningWhy(sel), permanent: false };
    inspect = (cmd) => (cmd === c.runtime ? String(c.pid) : null);
  }
  try {
    const workload = resolveSelection(root, sel, { inspect });
    const ino = cgroupIno(root, workload.path);
    if (ino === null) return { present: false, why: notRunningWhy(sel), permanent: false };
    return { present: true, workload, ino, inspect };
  } catch (err) {
    const absent = err instanceof EnforceError && err.code === 'E_ENFORCE_NO_WORKLOAD' && !/not a plain path|the cgroup v2 root selects|no cgroup v2 group of its own/.test(err.message);
    return { present: false, why: absent ? notRunningWhy(sel) : (err as Error).message, permanent: !absent };
  }
}
