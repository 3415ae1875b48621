import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTokenHeader, npmModule, npmPrefix } from '../support/lab/real-clients.js';

// The recorder's note "does the installed code contain the token header": which files
// count, and that the TTL header alone does not.

const root = mkdtempSync(join(tmpdir(), 'imdswatch-real-clients-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

describe('findTokenHeader', () => {
  it('finds the header in code, any case', () => {
    const d = tree('a', { 'lib/x.js': 'ok', 'lib/metadata_service.js': "headers['X-Aws-Ec2-Metadata-Token'] = t;" });
    expect(findTokenHeader(d)).toBe('lib/metadata_service.js');
  });

  it('does not count the TTL header, tests, docs or non-code files', () => {
    const d = tree('b', {
      'lib/put.js': "h['x-aws-ec2-metadata-token-ttl-seconds'] = '21600'",
      'test/t.js': 'x-aws-ec2-metadata-token: a',
      'docs/a.js': 'x-aws-ec2-metadata-token',
      'imds_test.go': 'x-aws-ec2-metadata-token',
      'README.md': 'x-aws-ec2-metadata-token',
      'x.d.ts': 'x-aws-ec2-metadata-token',
    });
    expect(findTokenHeader(d)).toBeNull();
  });

  it('accepts a single file as the root and a missing path', () => {
    const d = tree('c', { 'ec2-metadata': 'curl -H "X-aws-ec2-metadata-token: $T"' });
    expect(findTokenHeader(join(d, 'ec2-metadata'))).toBe('ec2-metadata');
    expect(findTokenHeader(join(d, 'nope'))).toBeNull();
  });
});

describe('npm cache layout', () => {
  it('one prefix per release, scoped names flattened', () => {
    expect(npmPrefix('aws-sdk@2.575.0')).toMatch(/\/npm\/aws-sdk_2\.575\.0$/);
    expect(npmModule('@aws-sdk/ec2-metadata-service@3.1164.0')).toMatch(/\/npm\/_aws-sdk_ec2-metadata-service_3\.1164\.0\/node_modules\/@aws-sdk\/ec2-metadata-service$/);
  });
});
