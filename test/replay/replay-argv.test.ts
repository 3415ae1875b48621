/**
 * A plain `imdswatch replay` command line is read without commander (src/cli/replay-command.ts
 * parseReplayArgs, docs/design.md#replay-argv): it must give what commander gives, and leave
 * every other form (help, --opt=value, unknown options, no file) to commander.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReplayArgs } from '../../src/cli/replay-command.js';
import { REPO_ROOT } from '../support/testkit/make-edge-pcaps.js';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const PCAP = 'pcaps/edge/baseline.pcap';
const dir = mkdtempSync(join(tmpdir(), 'imdswatch-replay-argv-'));

function run(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return `exit ${r.status}\n--stderr--\n${r.stderr}--stdout--\n${r.stdout}`;
}

describe('parseReplayArgs', () => {
  it('reads the plain forms as commander does (defaults, short and long names, the last of a repeated option)', () => {
    expect(parseReplayArgs([PCAP])).toEqual({ files: [PCAP], opts: { format: 'text', progress: true } });
    expect(parseReplayArgs(['-f', 'json', PCAP, '--no-progress', '-', '--fail-on', 'v1', '-o', '-', '--format', 'ndjson', '--output', 'x'])).toEqual({
      files: [PCAP, '-'],
      opts: { format: 'ndjson', progress: false, failOn: 'v1', output: 'x' },
    });
  });

  it('leaves every other form to commander', () => {
    for (const args of [
      [],
      ['--no-progress'],
      [PCAP, '--format=json'],
      [PCAP, '-fjson'],
      [PCAP, '--format'],
      [PCAP, '--output', '-x'],
      [PCAP, '--bogus'],
      [PCAP, '-h'],
      [PCAP, '--help'],
      [PCAP, '-V'],
      [PCAP, '--', PCAP],
      [PCAP, '--progress'],
    ]) {
      expect(parseReplayArgs(args), args.join(' ')).toBeNull();
    }
  });
});

describe('replay without commander gives what commander gives', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // each pair: a plain form (read by parseReplayArgs) and the same request in a form only commander reads
  const pairs: Array<[string[], string[]]> = [
    [['replay', PCAP], ['replay', '--', PCAP]],
    [['replay', PCAP, '--format', 'json', '--no-progress'], ['replay', PCAP, '--format=json', '--no-progress']],
    [['replay', '-f', 'ndjson', PCAP], ['replay', '-fndjson', PCAP]],
    [['replay', PCAP, '--fail-on', 'v1,rejected,unknown', '--format', 'text'], ['replay', PCAP, '--fail-on=v1,rejected,unknown', '--format=text']],
    [['replay', PCAP, '--format', 'yaml'], ['replay', PCAP, '--format=yaml']],
    [['replay', PCAP, '--fail-on', 'bogus'], ['replay', PCAP, '--fail-on=bogus']],
    [['replay', 'no-such-file.pcap'], ['replay', '--', 'no-such-file.pcap']],
    [['replay', 'pcaps/malformed/bad-magic.pcap', PCAP, '--no-progress'], ['replay', '--no-progress', '--', 'pcaps/malformed/bad-magic.pcap', PCAP]],
  ];
  for (const [plain, viaCommander] of pairs) {
    it(plain.slice(1).join(' '), () => {
      expect(run(plain)).toBe(run(viaCommander));
    });
  }

  it('-o writes the same file', () => {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    expect(run(['replay', PCAP, '-o', a, '--format', 'json'])).toBe(run(['replay', PCAP, `--output=${b}`, '--format=json']));
    expect(readFileSync(a, 'utf8')).toBe(readFileSync(b, 'utf8'));
  });
});

describe('a plain replay into a closed pipe', () => {
  // replay writes with writeSync and never makes process.stdout: its EPIPE still ends the run quietly
  for (const format of ['ndjson', 'json', 'text']) {
    it(`--format ${format}: exit 0, nothing on stderr`, async () => {
      const c = spawn(process.execPath, [CLI, 'replay', PCAP, PCAP, PCAP, '--format', format, '--no-progress'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout.destroy(); // the reader is gone before replay writes anything
      let err = '';
      c.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((resolve) => c.on('close', resolve));
      expect({ code, err }).toEqual({ code: 0, err: '' });
    });
  }
});
