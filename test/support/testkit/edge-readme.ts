/** The "Synthetic edge cases" section of pcaps/README.md, generated from the case lists. */
import { edgeCases, labelsOf } from './edge-cases.js';
import { malformedCases } from './malformed-cases.js';
import type { LabelEvent } from './edge-scenario.js';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function summary(events: Array<Partial<LabelEvent>>): string {
  if (events.length === 0) return 'none';
  return events.map((e) => `${e.version} ${e.status === undefined ? '' : (e.status ?? 'null')}`.trim()).join(', ');
}

function expectText(e: { exitCode: number; error?: string; packetsRead?: number; skip?: { counter: string } }): string {
  const parts = [`exit ${e.exitCode}`];
  if (e.error) parts.push(`${e.error}${e.packetsRead !== undefined ? ` after ${e.packetsRead}` : ''}`);
  if (e.skip) parts.push(`skip: ${e.skip.counter}`);
  return parts.join(', ');
}

export function readmeSection(): string {
  const lines: string[] = [];
  lines.push('## Synthetic edge cases', '');
  lines.push(
    'Written by `npm run make-pcaps` (`test/support/testkit/make-edge-pcaps.ts`, from the packet writer in',
    '`test/support/testkit/pcap-writer.ts`); deterministic, so `npm run make-pcaps -- --check` and the test',
    '`test/replay/edge-determinism.test.ts` fail when a committed file no longer matches its script.',
    'Every capture has `NAME.labels.json` beside it:',
    '`{ description, expect: { exitCode, error?, packetsRead?, skip? }, events: [{ ts, version, method, path, status, client, userAgent, reason? }], tsharkExcluded? }`',
    'with events in capture order (each request\'s first byte). Tokens and credentials in the captures are',
    'fake (`test/support/testkit/fake-values.ts`) and never appear in labels. `test/replay/edge-pcaps.test.ts`',
    'replays each file and compares with its labels; it also checks with tshark that each file is read',
    'and that tshark counts the same number of IMDS requests (files where tshark cannot agree say why',
    'in `tsharkExcluded`).',
    '',
    '### pcaps/edge/',
    '',
    '| file | expect | events | what it checks |',
    '| --- | --- | --- | --- |',
  );
  for (const c of edgeCases) {
    const b = c.build();
    const l = labelsOf(c, b);
    lines.push(`| \`${c.name}.${c.ext}\` | ${expectText(l.expect)} | ${summary(l.events)} | ${cell(c.description)}${l.tsharkExcluded ? ` *(tshark check skipped: ${cell(l.tsharkExcluded)})*` : ''} |`);
  }
  lines.push(
    '',
    '### pcaps/malformed/',
    '',
    'Hostile files. Each must end in a clean error code (exit 2, one line, no stack trace) or a counted',
    'skip (exit 0, the named counter > 0), in bounded time and memory (`test/replay/malformed.test.ts`',
    'runs the CLI under `/usr/bin/time` and asserts max RSS < 256 MiB). Where a good v1 conversation',
    'follows the hostile part, that call must still be reported. A request whose headers cannot be read',
    'to the end (over a limit, NUL bytes, no version) is never classified: no event rather than a guessed one.',
    '',
    '| file | expect | events | what it checks |',
    '| --- | --- | --- | --- |',
  );
  for (const c of malformedCases) {
    const also = c.expect.alsoAccepted ? ` (or ${c.expect.alsoAccepted.join(', ')})` : '';
    lines.push(`| \`${c.name}.${c.ext}\` | ${expectText(c.expect)}${also} | ${summary(c.events)} | ${cell(c.description)} |`);
  }
  lines.push('');
  return lines.join('\n') + '\n';
}
