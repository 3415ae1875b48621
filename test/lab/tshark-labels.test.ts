import { describe, expect, it } from 'vitest';
import { labelsFromTsharkJson } from '../support/lab/tshark-labels.js';

// The pure half of the label maker: tshark's per-frame fields → labels.

describe('labelsFromTsharkJson', () => {
  it('classifies token, v2 (case-insensitive header, non-empty value) and v1, pairs statuses, keeps order', () => {
    const frames = [
      { 'frame.number': ['4'], 'http.request.method': ['PUT'], 'http.request.uri': ['/latest/api/token'], 'http.user_agent': ['curl/8'], 'http.request.line': ['X-aws-ec2-metadata-token-ttl-seconds: 60\r\n'] },
      { 'frame.number': ['6'], 'http.response.code': ['200'], 'http.request_in': ['4'] },
      { 'frame.number': ['8'], 'http.request.method': ['GET'], 'http.request.uri': ['/latest/meta-data/?x=1'], 'http.request.line': ['x-AWS-ec2-metadata-token: abc\r\n'] },
      { 'frame.number': ['9'], 'http.response.code': ['401'], 'http.request_in': ['8'] },
      { 'frame.number': ['12'], 'http.request.method': ['GET'], 'http.request.uri': ['/latest/user-data'], 'http.request.line': ['X-aws-ec2-metadata-token: \r\n'] },
    ];
    expect(labelsFromTsharkJson(frames)).toEqual([
      { version: 'token', method: 'PUT', path: '/latest/api/token', status: 200, userAgent: 'curl/8' },
      { version: 'v2', method: 'GET', path: '/latest/meta-data/', status: 401, userAgent: null },
      { version: 'v1', method: 'GET', path: '/latest/user-data', status: null, userAgent: null },
    ]);
  });

  it('never puts a header value into a label', () => {
    const frames = [
      { 'frame.number': ['1'], 'http.request.method': ['GET'], 'http.request.uri': ['/latest/meta-data/'], 'http.request.line': ['X-aws-ec2-metadata-token: AQAEAsecretsecret\r\n'] },
    ];
    expect(JSON.stringify(labelsFromTsharkJson(frames))).not.toContain('AQAEA');
  });
});
