import { spawn } from 'node:child_process';
import type { EnforceEvent, OwnerHint, WorkloadSummary } from './events.js';
import { EnforceError, type Workload } from './workload.js';

/**
 * A workload in a network namespace of its own (a bridged container) is enforced from
 * inside that namespace: the socket's cgroup is only known there (on the host a forwarded
 * packet has no socket), and the responder must reach IMDS over the container's own path
 * (docs/design.md#enforce). imdswatch runs itself there — `nsenter --net=/proc/PID/ns/net
 * imdswatch enforce --cgroup PATH --follow-stdin` — and reads its NDJSON. The child stops
 * (and removes its table) when its stdin ends, which is when this process exits, SIGKILL
 * included; and its table is owned by its own nft child, so even a SIGKILL of both leaves
 * nothing behind.
 */
export interface Delegate {
  workload: Workload;
  pid: number | undefined;
  stop(): Promise<WorkloadSummary[]>;
  removeNow(): void;
}

export interface DelegateOptions {
  dryRun: boolean;
  cgroupRoot: string;
  onEvent: (e: EnforceEvent) => void;
  /** the delegate's `enforce-upstream` lines (its responder's connections to IMDS, for the owner hint) */
  onUpstream?: (h: OwnerHint) => void;
  onLost?: (why: string) => void;
  /** the CLI entry (default: this process's script) */
  cliPath?: string;
  timeoutMs?: number;
}

export function startDelegate(w: Workload, opts: DelegateOptions): Promise<Delegate> {
  const argv = [
    'nsenter', `--net=/proc/${w.pid}/ns/net`, '--', process.execPath, opts.cliPath ?? process.argv[1]!, 'enforce',
    '--cgroup', `/${w.path}`, '--as', w.label, '--cgroup-root', opts.cgroupRoot, '--follow-stdin', ...(opts.dryRun ? ['--dry-run'] : []), ...(opts.onUpstream ? ['--upstream-hints'] : []),
  ];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', () => undefined);
  let summary: WorkloadSummary[] | null = null;
  let stderr = '';
  let ready = false;
  let stopping = false;
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let obj: { type?: string; workloads?: WorkloadSummary[]; hint?: OwnerHint };
        try {
          obj = JSON.parse(line) as typeof obj;
        } catch {
          continue;
        }
        if (obj.type === 'enforce') opts.onEvent(obj as unknown as EnforceEvent);
        else if (obj.type === 'enforce-upstream' && obj.hint) opts.onUpstream?.(obj.hint);
        else if (obj.type === 'enforce-summary') summary = obj.workloads ?? [];
        else if (obj.type === 'enforce-ready' && !ready) {
          ready = true;
          clearTimeout(timer);
          resolve(delegate);
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    void exited.then(() => {
      clearTimeout(timer);
      const last = stderr.trim().split('\n').filter((l) => !l.startsWith('imdswatch enforce:')).pop() ?? '';
      if (!ready) reject(new EnforceError('E_ENFORCE_RULE_FAILED', `${w.label}: enforcing inside its network namespace failed: ${last.replace(/^imdswatch: /, '') || 'no message'}`));
      else if (!stopping) opts.onLost?.(`${w.label}: the enforce process in its network namespace exited (${last || 'no message'})`);
    });
    const delegate: Delegate = {
      workload: w,
      pid: child.pid,
      stop: async () => {
        stopping = true;
        child.stdin.end();
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
        return summary ?? [{ workload: w.label, cgroup: `/${w.path}`, rejected: 0, wouldReject: 0, passed: 0, calls: [] }];
      },
      removeNow: () => {
        if (child.exitCode === null) child.kill('SIGTERM');
      },
    };
  });
}
