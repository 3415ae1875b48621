import { afterEach, describe, expect, it, vi } from 'vitest';
import CiSkipGuard, { skippedTests } from '../support/ci-skip-guard.js';

const file = (name: string, tasks: unknown[]) => ({ name, tasks });
const files = [
  file('test/a.test.ts', [{ name: 'runs', mode: 'run', result: { state: 'pass' } }, { name: 'needs docker', mode: 'skip' }]),
  file('test/systemd/boot.test.ts', [{ name: 'boot test', tasks: [{ name: 'hardened unit at early boot: probe', mode: 'skip' }] }]),
];

describe('CI skip guard', () => {
  const saved = { ci: process.env.CI, code: process.exitCode };
  afterEach(() => {
    if (saved.ci === undefined) delete process.env.CI;
    else process.env.CI = saved.ci;
    process.exitCode = saved.code;
    vi.restoreAllMocks();
  });

  it('lists skipped tests with their path', () => {
    expect(skippedTests(files as never)).toEqual(['test/a.test.ts > needs docker', 'test/systemd/boot.test.ts > boot test > hardened unit at early boot: probe']);
  });

  it('fails the run under CI on a skip that is not a named selection, and names it', () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    process.env.CI = 'true';
    process.exitCode = 0;
    new CiSkipGuard().onFinished(files as never);
    expect(process.exitCode).toBe(1);
    expect(err.mock.calls[0][0]).toContain('test/a.test.ts > needs docker');
    expect(err.mock.calls[0][0]).not.toContain('boot.test.ts');
  });

  it('lets the deliberate selection pass under CI, and only lists skips outside CI', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    process.env.CI = 'true';
    process.exitCode = 0;
    new CiSkipGuard().onFinished([files[1]] as never);
    expect(process.exitCode).toBe(0);
    delete process.env.CI;
    new CiSkipGuard().onFinished(files as never);
    expect(process.exitCode).toBe(0);
  });
});
