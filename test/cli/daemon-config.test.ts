import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAEMON_DEFAULTS, resolveDaemonConfig } from '../../src/cli/daemon-config.js';
import { CliError } from '../../src/cli/exit-codes.js';

const cfgFile = (obj: unknown) => {
  const p = join(mkdtempSync(join(tmpdir(), 'imdswatch-cfg-')), 'config.json');
  writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return p;
};

describe('daemon settings: defaults < config file < IMDSWATCH_* < flags', () => {
  it('defaults when nothing is given (and no /etc file is forced)', () => {
    const c = resolveDaemonConfig({}, {}, cfgFile({}));
    expect(c).toEqual(DAEMON_DEFAULTS);
  });

  it('each layer overrides the one below', () => {
    const file = cfgFile({ logFile: '/from/file.log', metricsPort: 1111, gate: false, interfaces: ['eth0'] });
    const env = { IMDSWATCH_METRICS: '2222', IMDSWATCH_GATE: 'true' };
    const c = resolveDaemonConfig({ metricsPort: '3333', interfaces: undefined }, env, file);
    expect(c.logFile).toBe('/from/file.log');
    expect(c.gate).toBe(true);
    expect(c.metricsPort).toBe(3333);
    expect(c.interfaces).toEqual(['eth0']);
  });

  it('metrics off and log file off', () => {
    const c = resolveDaemonConfig({ metricsPort: 'off' }, { IMDSWATCH_LOG_FILE: 'off' }, cfgFile({}));
    expect(c.metricsPort).toBeNull();
    expect(c.logFile).toBeNull();
  });

  it('says clearly what is wrong', () => {
    expect(() => resolveDaemonConfig({}, {}, cfgFile('{not json'))).toThrow(CliError);
    expect(() => resolveDaemonConfig({}, {}, cfgFile({ logfile: 'x' }))).toThrow(/unknown setting "logfile"/);
    expect(() => resolveDaemonConfig({}, { IMDSWATCH_GATE: 'maybe' }, cfgFile({}))).toThrow(/IMDSWATCH_GATE: gate takes true or false/);
    expect(() => resolveDaemonConfig({ metricsPort: '70000' }, {}, cfgFile({}))).toThrow(/port number or "off"/);
  });
});

describe('one settings schema (#13)', () => {
  it('docs/config.sample.json loads and gives the defaults: every key, every default', async () => {
    const { SETTINGS } = await import('../../src/cli/settings.js');
    const sample = join(import.meta.dirname, '..', '..', 'docs', 'config.sample.json');
    expect(resolveDaemonConfig({}, {}, sample)).toEqual(DAEMON_DEFAULTS);
    const keys = Object.keys(JSON.parse((await import('node:fs')).readFileSync(sample, 'utf8')) as object).filter((k) => !k.startsWith('//'));
    expect(keys.sort()).toEqual(Object.keys(SETTINGS).sort());
  });

  it('scan and daemon share the queue range and the interface forms; messages name the flag', async () => {
    const { resolveSettings, LIVE_SETTINGS, liveFlags } = await import('../../src/cli/settings.js');
    expect(() => resolveDaemonConfig({ queueNum: '70000' }, {}, cfgFile({}))).toThrow(/^--queue-num takes a number from 0 to 65535/);
    expect(() => resolveSettings(LIVE_SETTINGS, { queueNum: '70000' }, {})).toThrow(/^--queue-num takes a number from 0 to 65535/);
    expect(() => resolveDaemonConfig({ metricsPort: 'x' }, {}, cfgFile({}))).toThrow(/^--metrics takes/);
    expect(resolveSettings(LIVE_SETTINGS, liveFlags({ interface: ['a', 'b'] }), {}).interfaces).toEqual(['a', 'b']);
    expect(resolveSettings(LIVE_SETTINGS, liveFlags({ interfaces: ['a,b'] }), {}).interfaces).toEqual(['a', 'b']);
    expect(resolveDaemonConfig(liveFlags({ interface: ['a', 'b'] }), {}, cfgFile({})).interfaces).toEqual(['a', 'b']);
    expect(resolveSettings(LIVE_SETTINGS, {}, { IMDSWATCH_GATE_BUDGET_MS: '200' }).gateBudgetMs).toBe(200);
  });

  it('a JSON syntax error names line and column', () => {
    expect(() => resolveDaemonConfig({}, {}, cfgFile('{\n  "gate": true\n  "queueNum": 7\n}'))).toThrow(/line 3, column 3/);
  });
});
