import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../src/source/capture-file.js';
import { Decoder } from '../../src/decode/decoder.js';

/**
 * Every token and credential value present in the bundled captures must appear in no
 * output of any format. The secrets are dug out of the raw IMDS payloads here, so a
 * capture added later is scanned too.
 */
const CLI = join(process.cwd(), 'dist/cli/main.js');
const DIRS = ['pcaps/real', 'pcaps/edge'];

function captures(): string[] {
  return DIRS.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => join(d, f)) : []));
}

/** token header values, token PUT answers and credential JSON values found in the IMDS bytes of a capture */
function secretsIn(file: string): Set<string> {
  const decoder = new Decoder();
  const chunks: Buffer[] = [];
  try {
    readCaptureFile(file, (frame) => {
      const seg = decoder.decode(frame);
      if (seg && seg.payload.length) chunks.push(Buffer.from(seg.payload));
    });
  } catch {
    /* malformed tails: what was read is enough */
  }
  const text = Buffer.concat(chunks).toString('latin1');
  const found = new Set<string>();
  const add = (v: string | undefined) => {
    if (v && v.trim().length >= 8) found.add(v.trim());
  };
  for (const m of text.matchAll(/x-aws-ec2-metadata-token:[ \t]*([^\r\n]+)/gi)) add(m[1]);
  for (const m of text.matchAll(/"(?:SecretAccessKey|Token|AccessKeyId)"\s*:\s*"([^"]+)"/g)) add(m[1]);
  // the body of a 200 answer to a token PUT is the token itself
  for (const m of text.matchAll(/HTTP\/1\.[01] 200[^\r\n]*\r\n(?:[^\r\n]+\r\n)*?x-aws-ec2-metadata-token-ttl-seconds:[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([A-Za-z0-9_=+/.-]{20,})/gi)) if (!/^[a-z-]+$/.test(m[1])) add(m[1]);
  return found;
}

describe.skipIf(!existsSync(CLI))('no secret from the captures reaches any output', () => {
  const files = captures();
  const secrets = new Set<string>();
  for (const f of files) for (const s of secretsIn(f)) secrets.add(s);

  it('finds secrets to look for (the scan itself works)', () => {
    expect(files.length).toBeGreaterThan(10);
    // the real-client captures hold IMDSv2 sessions and role credentials
    expect(secrets.size).toBeGreaterThan(5);
    console.log(`secret scan: ${secrets.size} distinct token/credential values in ${files.length} captures`);
  });

  for (const format of ['text', 'json', 'ndjson']) {
    it(`replay --format ${format} over every capture prints none of them`, () => {
      const r = spawnSync(process.execPath, [CLI, 'replay', '--format', format, ...files], { encoding: 'latin1', maxBuffer: 256 * 1024 * 1024 });
      expect([0, 2]).toContain(r.status);
      const out = r.stdout + r.stderr;
      expect(out.length).toBeGreaterThan(100);
      const leaked = [...secrets].filter((s) => out.includes(s));
      expect(leaked).toEqual([]);
    });
  }
});
