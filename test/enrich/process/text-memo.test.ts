import { describe, expect, it } from 'vitest';
import { TextMemo } from '../../../src/enrich/process/text-memo.js';
import { parseCgroup } from '../../../src/enrich/process/cgroup.js';
import { ProcessCache } from '../../../src/enrich/process/process-cache.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fakeProc } from './fake-proc.js';

describe('TextMemo', () => {
  it('answers a repeated text from the memo, keeps at most maxEntries (oldest out) and no text over maxText', () => {
    const calls: string[] = [];
    const m = new TextMemo((t: string) => (calls.push(t), t.length), 2, 5);
    expect([m.get('a'), m.get('bb'), m.get('a')]).toEqual([1, 2, 1]);
    expect(calls).toEqual(['a', 'bb']);
    m.get('ccc'); // 'a' goes
    m.get('a');
    m.get('toolong');
    m.get('toolong');
    expect(calls).toEqual(['a', 'bb', 'ccc', 'a', 'toolong', 'toolong']);
    expect(m.hits).toBe(1);
  });

  it('gives parseCgroup\'s answer for a cgroup text', () => {
    const text = '0::/system.slice/docker-' + 'a'.repeat(64) + '.scope\n';
    const m = new TextMemo(parseCgroup);
    expect(m.get(text)).toEqual(parseCgroup(text));
    expect(m.get(text)).toEqual(parseCgroup(text));
  });

  it('two processes in one container: the same container, each its own object (the memo\'s is not shared)', () => {
    const fp = fakeProc();
    try {
      const cgroup = '0::/system.slice/docker-' + 'b'.repeat(64) + '.scope\n';
      fp.addPid(1, { comm: 'init', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/sbin/init' });
      fp.addPid(70, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', cgroup });
      fp.addPid(71, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', cgroup });
      const cache = new ProcessCache({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd'), graceMs: 30_000, maxEntries: 64, maxAncestors: 8, now: () => Date.now() });
      const a = cache.get(70, 0)!;
      const b = cache.get(71, 0)!;
      expect(a.container).toEqual({ runtime: 'docker', id: 'b'.repeat(64) });
      expect(b.container).toEqual(a.container);
      expect(b.container).not.toBe(a.container);
    } finally {
      rmSync(fp.root, { recursive: true, force: true });
    }
  });
});
