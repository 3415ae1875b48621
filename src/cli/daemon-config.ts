import { DEFAULT_SETTINGS, SETTINGS, daemonConfigPath, resolveSettings, type Settings } from './settings.js';

/**
 * The daemon's settings: the shared schema (src/cli/settings.ts) with every setting, read
 * from defaults < config file (--config, or /etc/imdswatch/config.json when present) <
 * IMDSWATCH_* environment < flags.
 */
export type DaemonConfig = Settings;
export const DAEMON_DEFAULTS: DaemonConfig = DEFAULT_SETTINGS;
export { DEFAULT_CONFIG_FILE } from '../domain/endpoint.js';

/** `flags` keyed by setting name (undefined: not given) */
export function resolveDaemonConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, configPath?: string): DaemonConfig {
  return resolveSettings(Object.keys(SETTINGS) as Array<keyof Settings>, flags, env, daemonConfigPath(configPath));
}
