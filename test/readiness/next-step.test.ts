import { describe, expect, it } from 'vitest';
import { emptyState, recordEvent } from '../../src/ledger/ledger.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessMarkdown, formatReadinessText } from '../../src/readiness/readiness-format.js';
import { formatReadinessHtml } from '../../src/readiness/readiness-html.js';
import { regionOf } from '../../src/readiness/next-step.js';
import { ev } from '../helpers/events.js';

/** docs/design.md#next-step */
const opts = { minHours: 24, since: null, now: '2026-11-30T00:00:00.000Z' };
const proc = (exe: string, container: { runtime: 'docker'; id: string; name: string } | null = null) => ({ pid: 7, exe, cmdline: exe, uid: 0, user: 'root', unit: 'app.service', container, ancestors: [] });

function host(name: string, instanceId: string | null, v1 = false, container = false) {
  const s = emptyState(name, null);
  s.instanceId = instanceId;
  s.windows.push({ start: '2026-11-28T00:00:00.000Z', end: opts.now, bootId: null });
  recordEvent(s, ev({ version: 'v2', reason: null, process: proc('/usr/bin/aws', container ? { runtime: 'docker', id: 'abc', name: 'web' } : null), attribution: 'gate' }));
  if (v1) recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate' }));
  return { host: name, state: s };
}

describe('the next step', () => {
  it('READY prints the exact command for this host', () => {
    const r = computeReadiness([host('ip-10-0-0-1.eu-west-1.compute.internal', 'i-0123456789abcdef0')], opts);
    expect(r.verdict).toBe('READY');
    const cmd = 'aws ec2 modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required --http-endpoint enabled --region eu-west-1';
    expect(formatReadinessText(r)).toContain(`$ ${cmd}\n`);
    expect(formatReadinessMarkdown(r)).toContain(`\`\`\`sh\n${cmd}\n`);
    expect(formatReadinessHtml(r)).toContain(cmd);
    expect(r.nextStep.blockedBy).toBeNull();
  });

  it('with containers calling IMDS: --http-put-response-hop-limit 2', () => {
    const r = computeReadiness([host('ip-10-0-0-1.ec2.internal', 'i-0123456789abcdef0', false, true)], opts);
    expect(r.nextStep.commands[0]).toMatch(/--http-put-response-hop-limit 2 --region us-east-1$/);
  });

  it('NOT READY says in one line what blocks it', () => {
    const r = computeReadiness([host('web-1', 'i-0123456789abcdef0', true)], opts);
    expect(r.nextStep.commands).toEqual([]);
    expect(formatReadinessText(r)).toMatch(/Next step:\n {2}NOT READY: 1 program\(s\) still call IMDSv1: \/usr\/bin\/curl/);
  });

  it('a fleet lists instance ids by verdict; all READY: the account defaults and HttpTokensEnforced', () => {
    const mixed = computeReadiness([host('ip-1.eu-west-1.compute.internal', 'i-00000000000000001'), host('ip-2.eu-west-1.compute.internal', 'i-00000000000000002', true)], opts);
    expect(mixed.nextStep.byVerdict).toEqual({ READY: ['i-00000000000000001'], 'NOT READY': ['i-00000000000000002'], UNKNOWN: [] });
    expect(formatReadinessText(mixed)).toMatch(/ READY \(1\):\n {4}i-00000000000000001\n/);
    expect(mixed.nextStep.commands).toEqual([`while read -r id; do aws ec2 modify-instance-metadata-options --instance-id "$id" --http-tokens required --http-endpoint enabled --region eu-west-1; done <<'IDS'\ni-00000000000000001\nIDS`]);
    const ready = computeReadiness([host('ip-1.eu-west-1.compute.internal', 'i-00000000000000001'), host('ip-2.eu-west-1.compute.internal', 'i-00000000000000002')], opts);
    expect(ready.nextStep.commands).toContain('aws ec2 modify-instance-metadata-defaults --http-tokens required --region eu-west-1');
    expect(ready.nextStep.notes.join(' ')).toMatch(/--http-tokens-enforced enabled --region eu-west-1/);
  });

  it('an instance id or host name that is not of the right shape never reaches a command', () => {
    const r = computeReadiness([host('x.$(reboot).compute.internal', 'i-1; rm -rf /')], opts);
    expect(r.nextStep.commands[0]).toBe('aws ec2 modify-instance-metadata-options --instance-id <instance-id> --http-tokens required --http-endpoint enabled --region <region>');
    expect(regionOf('ip-10-0-0-1.us-gov-west-1.compute.internal')).toBe('us-gov-west-1');
  });
});
