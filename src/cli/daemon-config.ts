import { existsSync, readFileSync } from 'node:fs';
import { CliError } from './exit-codes.js';
import { DEFAULT_METRICS_PORT } from '../sinks/metrics.js';
import { DEFAULT_CONFIG_FILE, DEFAULT_GATE_BUDGET_MS, DEFAULT_QUEUE_NUM, DEFAULT_STATE_PATH } from '../domain/endpoint.js';

/**
 * The daemon's settings: one defaults object, then an optional JSON config file, then
 * IMDSWATCH_* environment variables, then command-line flags — later wins.
 */
export interface DaemonConfig {
  interfaces: string[];
  gate: boolean;
  queueNum: number;
  logFile: string | null;
  logMaxBytes: number;
  logMaxFiles: number;
  stateFile: string;
  /** null: metrics off */
  metricsPort: number | null;
  metricsHost: string;
  stdout: boolean;
  /** seconds between state saves */
  saveIntervalSec: number;
  /** per-SYN lookup budget of the gate */
  gateBudgetMs: number;
}

export const DAEMON_DEFAULTS: DaemonConfig = {
  interfaces: ['any'],
  gate: true,
  queueNum: DEFAULT_QUEUE_NUM,
  logFile: '/var/log/imdswatch/imdswatch.log',
  logMaxBytes: 10 * 1024 * 1024,
  logMaxFiles: 5,
  stateFile: DEFAULT_STATE_PATH,
  metricsPort: DEFAULT_METRICS_PORT,
  metricsHost: '127.0.0.1',
  stdout: true,
  saveIntervalSec: 10,
  gateBudgetMs: DEFAULT_GATE_BUDGET_MS,
};

export { DEFAULT_CONFIG_FILE };

type Raw = Record<string, unknown>;

const ENV: Record<string, keyof DaemonConfig> = {
  IMDSWATCH_INTERFACES: 'interfaces',
  IMDSWATCH_GATE: 'gate',
  IMDSWATCH_QUEUE_NUM: 'queueNum',
  IMDSWATCH_LOG_FILE: 'logFile',
  IMDSWATCH_LOG_MAX_BYTES: 'logMaxBytes',
  IMDSWATCH_LOG_MAX_FILES: 'logMaxFiles',
  IMDSWATCH_STATE_FILE: 'stateFile',
  IMDSWATCH_METRICS: 'metricsPort',
  IMDSWATCH_METRICS_HOST: 'metricsHost',
  IMDSWATCH_STDOUT: 'stdout',
  IMDSWATCH_SAVE_INTERVAL: 'saveIntervalSec',
  IMDSWATCH_GATE_BUDGET_MS: 'gateBudgetMs',
};

function coerce(key: keyof DaemonConfig, value: unknown, where: string): unknown {
  const d = DAEMON_DEFAULTS[key];
  if (key === 'metricsPort') {
    if (value === null || value === 'off' || value === false) return null;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`${where}: metrics takes a port number or "off", not "${String(value)}"`);
    return n;
  }
  if (key === 'logFile') return value === null || value === 'off' || value === '' ? null : String(value);
  if (Array.isArray(d)) return Array.isArray(value) ? value.map(String) : String(value).split(',').map((s) => s.trim()).filter(Boolean);
  if (typeof d === 'boolean') {
    if (typeof value === 'boolean') return value;
    const v = String(value).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    throw new CliError(`${where}: ${key} takes true or false, not "${String(value)}"`);
  }
  if (typeof d === 'number') {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new CliError(`${where}: ${key} takes a non-negative number, not "${String(value)}"`);
    return n;
  }
  return String(value);
}

export function resolveDaemonConfig(flags: Raw, env: NodeJS.ProcessEnv, configPath?: string): DaemonConfig {
  const cfg: DaemonConfig = { ...DAEMON_DEFAULTS };
  const path = configPath ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (path) {
    let raw: Raw;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8')) as Raw;
    } catch (err) {
      throw new CliError(`config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'not valid JSON'}; fix it or pass --config with another file`);
    }
    for (const [k, v] of Object.entries(raw)) {
      if (!(k in DAEMON_DEFAULTS)) throw new CliError(`config file ${path}: unknown setting "${k}" (known: ${Object.keys(DAEMON_DEFAULTS).join(', ')})`);
      (cfg as unknown as Raw)[k] = coerce(k as keyof DaemonConfig, v, path);
    }
  }
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') (cfg as unknown as Raw)[key] = coerce(key, v, name);
  }
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || !(k in DAEMON_DEFAULTS)) continue;
    (cfg as unknown as Raw)[k] = coerce(k as keyof DaemonConfig, v, `--${k}`);
  }
  return cfg;
}
