import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { CliError } from './exit-codes.js';
import { DEFAULT_METRICS_PORT } from '../sinks/metrics.js';
import { DEFAULT_METRICS_GROUP } from '../service/metrics-server.js';
import {
  DEFAULT_CONFIG_FILE,
  DEFAULT_GATE_BUDGET_MS,
  DEFAULT_QUEUE_NUM,
  DEFAULT_STATE_PATH,
  GATE_BUDGET_MAX_MS,
  GATE_BUDGET_MIN_MS,
  QUEUE_NUM_MAX,
} from '../domain/endpoint.js';
import { ENFORCE_SETTING_TAKES, parseEnforceSetting, type EnforcedWorkload } from '../enforce/daemon-setting.js';

/**
 * The one settings schema of `scan` and `daemon`: for each setting its name (the config
 * file key), environment variable, flag, default and validator. Layers, later wins:
 * defaults < config file (daemon) < IMDSWATCH_* environment < flags. Messages name the
 * setting the way the user wrote it: the flag, the variable, or the config file and key.
 * docs/config.sample.json shows every config file key.
 */
export interface Settings {
  interfaces: string[];
  gate: boolean;
  /** the system lane (docs/design.md#system-lane): uid 0-999 on their own queue and NFLOG group */
  lane: boolean;
  queueNum: number;
  /** per-SYN lookup budget of the gate, ms */
  gateBudgetMs: number;
  logFile: string | null;
  logMaxBytes: number;
  logMaxFiles: number;
  stateFile: string;
  /** null: metrics off */
  metricsPort: number | null;
  metricsHost: string;
  /** unix socket for metrics (0660, group metricsSocketGroup); null: none */
  metricsSocket: string | null;
  metricsSocketGroup: string;
  stdout: boolean;
  /** seconds between state saves */
  saveIntervalSec: number;
  /** (daemon) workloads under HttpTokens=required, each or as a dry run (docs/design.md#enforce); []: none */
  enforce: EnforcedWorkload[];
}

type Name = keyof Settings;
/** `what` is how a bad value is reported: "takes ..., not "x"" */
type Parse<T> = (value: unknown) => T | undefined;

interface Setting<K extends Name> {
  env: string;
  /** the flag as the user types it; null: no flag (config file and environment only) */
  flag: string | null;
  default: Settings[K];
  /** "a number from 0 to 65535": completes "<flag> takes ..." */
  takes: string;
  parse: Parse<Settings[K]>;
}

const int = (min: number, max: number): Parse<number> => (v) => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
};
const bool: Parse<boolean> = (v) => {
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  return undefined;
};
const text: Parse<string> = (v) => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
/** a list: a JSON array, repeated flag values, or names separated by commas or spaces */
const list: Parse<string[]> = (v) => {
  const parts = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(/[\s,]+/)).filter(Boolean);
  return parts.length > 0 ? parts : undefined;
};
const orOff = <T>(p: Parse<T>): Parse<T | null> => (v) => (v === null || v === false || v === 'off' || v === '' ? null : p(v));

export const SETTINGS: { [K in Name]: Setting<K> } = {
  interfaces: { env: 'IMDSWATCH_INTERFACES', flag: '--interfaces', default: ['any'], takes: 'interface names (comma- or space-separated)', parse: list },
  gate: { env: 'IMDSWATCH_GATE', flag: '--gate', default: true, takes: 'true or false', parse: bool },
  lane: { env: 'IMDSWATCH_LANE', flag: '--lane', default: true, takes: 'true or false', parse: bool },
  queueNum: { env: 'IMDSWATCH_QUEUE_NUM', flag: '--queue-num', default: DEFAULT_QUEUE_NUM, takes: `a number from 0 to ${QUEUE_NUM_MAX}`, parse: int(0, QUEUE_NUM_MAX) },
  gateBudgetMs: {
    env: 'IMDSWATCH_GATE_BUDGET_MS',
    flag: '--gate-budget',
    default: DEFAULT_GATE_BUDGET_MS,
    takes: `milliseconds from ${GATE_BUDGET_MIN_MS} to ${GATE_BUDGET_MAX_MS}`,
    parse: int(GATE_BUDGET_MIN_MS, GATE_BUDGET_MAX_MS),
  },
  logFile: { env: 'IMDSWATCH_LOG_FILE', flag: '--log-file', default: '/var/log/imdswatch/imdswatch.log', takes: 'a path or "off"', parse: orOff(text) },
  logMaxBytes: { env: 'IMDSWATCH_LOG_MAX_BYTES', flag: '--log-max-bytes', default: 10 * 1024 * 1024, takes: 'a number of bytes', parse: int(1, Number.MAX_SAFE_INTEGER) },
  logMaxFiles: { env: 'IMDSWATCH_LOG_MAX_FILES', flag: '--log-max-files', default: 5, takes: 'a number of files from 0 to 1000', parse: int(0, 1000) },
  stateFile: { env: 'IMDSWATCH_STATE_FILE', flag: '--state-file', default: DEFAULT_STATE_PATH, takes: 'a path', parse: text },
  metricsPort: { env: 'IMDSWATCH_METRICS', flag: '--metrics', default: DEFAULT_METRICS_PORT, takes: 'a port number or "off"', parse: orOff(int(0, 65535)) },
  metricsHost: { env: 'IMDSWATCH_METRICS_HOST', flag: '--metrics-host', default: '127.0.0.1', takes: 'an address to listen on', parse: text },
  metricsSocket: { env: 'IMDSWATCH_METRICS_SOCKET', flag: '--metrics-socket', default: null, takes: 'an absolute path or "off"', parse: orOff((v) => (typeof v === 'string' && v.startsWith('/') ? v : undefined)) },
  metricsSocketGroup: { env: 'IMDSWATCH_METRICS_SOCKET_GROUP', flag: '--metrics-socket-group', default: DEFAULT_METRICS_GROUP, takes: 'a group name or number', parse: (v) => (typeof v === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(v) ? v : typeof v === 'number' && Number.isInteger(v) && v >= 0 ? String(v) : undefined) },
  stdout: { env: 'IMDSWATCH_STDOUT', flag: '--stdout', default: true, takes: 'true or false', parse: bool },
  saveIntervalSec: { env: 'IMDSWATCH_SAVE_INTERVAL', flag: null, default: 10, takes: 'seconds from 1 to 3600', parse: int(1, 3600) },
  enforce: { env: 'IMDSWATCH_ENFORCE', flag: '--enforce', default: [], takes: ENFORCE_SETTING_TAKES, parse: parseEnforceSetting },
};

export const DEFAULT_SETTINGS: Settings = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.default])) as unknown as Settings;

/** the live settings every live command takes (scan and daemon) */
export const LIVE_SETTINGS = ['interfaces', 'gate', 'lane', 'queueNum', 'gateBudgetMs'] as const satisfies readonly Name[];

function apply<K extends Name>(out: Settings, name: K, value: unknown, where: string): void {
  const s = SETTINGS[name];
  const v = s.parse(value);
  if (v === undefined) {
    const shown = Array.isArray(value) ? value.join(' ') : String(value);
    // flags as typed; environment variables and config keys with the setting's name
    throw new CliError(where.startsWith('--') ? `${where} takes ${s.takes}, not "${shown}"` : `${where}: ${name} takes ${s.takes}, not "${shown}"`);
  }
  out[name] = v;
}

/**
 * Resolve settings: defaults < config file < environment < flags. `flags` are keyed by
 * setting name (undefined: not given). Only `names` are read from the environment and flags.
 */
export function resolveSettings(names: readonly Name[], flags: Partial<Record<Name, unknown>>, env: NodeJS.ProcessEnv, configPath?: string): Settings {
  const out: Settings = { ...DEFAULT_SETTINGS, interfaces: [...DEFAULT_SETTINGS.interfaces], enforce: [] };
  if (configPath) {
    const raw = readConfigFile(configPath);
    for (const [k, v] of Object.entries(raw)) {
      if (k.startsWith('//')) continue; // a comment (JSON has none): "// queueNum": "why 7"
      if (!(k in SETTINGS)) throw new CliError(`config file ${configPath}: unknown setting "${k}" (known: ${Object.keys(SETTINGS).join(', ')})`);
      apply(out, k as Name, v, `config file ${configPath}`);
    }
  }
  for (const name of names) {
    const v = env[SETTINGS[name].env];
    if (v !== undefined && v !== '') apply(out, name, v, SETTINGS[name].env);
  }
  for (const name of names) {
    const v = flags[name];
    if (v !== undefined) apply(out, name, v, SETTINGS[name].flag ?? name);
  }
  return out;
}

/** the daemon's config file, if given or present at the default path */
export function daemonConfigPath(given: string | undefined): string | undefined {
  return given ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
}

function readConfigFile(path: string): Record<string, unknown> {
  let body: string;
  try {
    body = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`config file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'}); fix it or pass --config with another file`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (err) {
    throw new CliError(`config file ${path}: ${jsonErrorPlace(body, err as Error)}not valid JSON (${(err as Error).message.split('\n')[0]}); see docs/config.sample.json`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CliError(`config file ${path}: must hold one JSON object ({"setting": value, ...}); see docs/config.sample.json`);
  return raw as Record<string, unknown>;
}

/** "line 3, column 5: " from V8's "at position N" (or "(line L column C)"), "" when it says neither */
export function jsonErrorPlace(body: string, err: Error): string {
  const lc = /line (\d+) column (\d+)/.exec(err.message);
  if (lc) return `line ${lc[1]}, column ${lc[2]}: `;
  const m = /position (\d+)/.exec(err.message);
  const pos = m ? Number(m[1]) : /Unexpected end of JSON input/.test(err.message) ? body.length : null;
  if (pos === null) return '';
  const before = body.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${column}: `;
}

/**
 * The live settings' flags, the same on scan and daemon. Both spellings of the interface
 * list are taken by both: `--interface a b` and `--interfaces a,b`. No commander defaults:
 * an unset flag must not hide the environment (the defaults are shown in the help).
 */
export function addLiveSettingFlags(cmd: Command): Command {
  return cmd
    .option('-i, --interfaces <names...>', `interfaces to capture on, comma- or space-separated (default ${SETTINGS.interfaces.default.join(',')}: all, including container bridges and veths)`)
    .option('--interface <names...>', 'the same as --interfaces')
    .option('--gate', 'install the SYN gate (default)')
    .option('--no-gate', 'do not install the SYN gate (passive attribution only: short-lived clients may stay unattributed)')
    .option('--lane', 'the system lane with the gate (default; docs/design.md#system-lane): uid 0-999 get their own queue and capture, apart from any flood')
    .option('--no-lane', 'no system lane: every SYN on the one gate queue, every packet from the shared capture')
    .option('--queue-num <n>', `NFQUEUE number for the SYN gate, 0-${QUEUE_NUM_MAX} (default ${DEFAULT_QUEUE_NUM}); the system lane uses queue N+1 and NFLOG group N`)
    .option('--gate-budget <ms>', `longest a held SYN waits for its /proc lookup, ${GATE_BUDGET_MIN_MS}-${GATE_BUDGET_MAX_MS} ms (default ${DEFAULT_GATE_BUDGET_MS})`);
}

/** the live flags commander parsed → setting names (undefined: not given) */
export function liveFlags(o: Record<string, unknown>): Partial<Record<Name, unknown>> {
  const ifs = [...((o.interfaces as string[] | undefined) ?? []), ...((o.interface as string[] | undefined) ?? [])];
  return {
    interfaces: ifs.length ? ifs : undefined,
    // --gate is defined before --no-gate: commander leaves gate undefined when neither is given
    gate: o.gate,
    lane: o.lane,
    queueNum: o.queueNum,
    gateBudgetMs: o.gateBudget,
  };
}

/** the environment variable and flag of every setting, for --help */
export function settingsHelp(names: readonly Name[]): string {
  return names.map((n) => `  ${n.padEnd(16)} ${SETTINGS[n].env.padEnd(26)} ${SETTINGS[n].flag ?? '(config file / environment only)'}`).join('\n');
}
