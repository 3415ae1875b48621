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
