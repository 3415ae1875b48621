import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../../src/live/gate-rules.js';

/** Helpers for the live integration tests: the compiled probe, run inside a lab namespace. */
export const PROBE = fileURLToPath(new URL('../../dist/live/live-probe-main.js', import.meta.url));
export const probeBuilt = (): boolean => existsSync(PROBE);

export interface ProbeLine {
  ready?: boolean;
  gateActive?: boolean;
  warning?: string;
  mode?: string;
  key?: string;
  pid?: number | null;
  exe?: string | null;
  outcome?: string;
  holdMs?: number | null;
  lookupMs?: number;
  netns?: number | null;
  stats?: Record<string, unknown>;
}

export class Probe {
  readonly lines: ProbeLine[] = [];
  private readonly child: ChildProcess;
  private exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(ns: string, args: string[]) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, PROBE, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let buf = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line) as ProbeLine);
        } catch {
          /* not ours */
        }
        for (const w of this.waiters.splice(0)) w();
      }
    });
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** wait until `pred` holds for the lines so far, or throw after timeoutMs */
  async waitFor(pred: (lines: ProbeLine[]) => boolean, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred(this.lines)) {
      if (Date.now() > end) throw new Error(`probe: condition not met after ${timeoutMs} ms (${this.lines.length} lines)`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  records(): ProbeLine[] {
    return this.lines.filter((l) => l.mode);
  }

  /** SIGTERM (clean stop: rules removed, stats printed) or SIGKILL (crash) */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

/** runs a firewall tool inside a namespace */
export function nsRunner(ns: string): Runner {
  return (cmd, args) => {
    try {
      return { ok: true, stdout: execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), stderr: '' };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
}

export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
}
