import { describe, expect, it } from 'vitest';
import { parseCmdline, redactArgv, REDACTED } from '../../../src/enrich/process/redact.js';

const TOKEN = 'AQAEAFBkYzEyMzQ1Njc4OTBhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk=';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('redactArgv', () => {
  it.each([
    [['curl', 'http://169.254.169.254/latest/meta-data/'], 'curl http://169.254.169.254/latest/meta-data/'],
    [['mysql', '--password', 'hunter2', '-h', 'db'], `mysql --password ${REDACTED} -h db`],
    [['app', '--password=hunter2'], `app --password=${REDACTED}`],
    [['app', '--token', 'abc'], `app --token ${REDACTED}`],
    [['app', '--secret=abc'], `app --secret=${REDACTED}`],
    [['aws', 'configure', 'set', '--aws-secret-access-key', SECRET], `aws configure set --aws-secret-access-key ${REDACTED}`],
    [['mysql', '-pSuperSecret', 'db'], `mysql -p${REDACTED} db`],
    [['mysql', '-p', 'hunter2'], `mysql -p ${REDACTED}`],
    [['curl', '-p', 'http://x/'], 'curl -p http://x/'],
    [['curl', '-u', 'bob:pw', 'http://x/'], `curl -u ${REDACTED} http://x/`],
    [['env', 'AWS_SECRET_ACCESS_KEY=abc', 'DB_PASSWORD=x', 'PATH=/usr/bin', 'app'], `env AWS_SECRET_ACCESS_KEY=${REDACTED} DB_PASSWORD=${REDACTED} PATH=/usr/bin app`],
    [['curl', '-H', `X-aws-ec2-metadata-token: ${TOKEN}`, 'http://169.254.169.254/'], `curl -H X-aws-ec2-metadata-token: ${REDACTED} http://169.254.169.254/`],
    [['app', 'AKIAIOSFODNN7EXAMPLE'], `app ${REDACTED}`],
    [['app', `key=ASIAIOSFODNN7EXAMPLE`], `app key=${REDACTED}`],
    [['app', TOKEN], `app ${REDACTED}`],
    [['app', 'deadbeefdeadbeefdeadbeefdeadbeef00'], `app ${REDACTED}`],
    [['app', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'], `app ${REDACTED}`],
    [['/usr/lib/jvm/java-17-openjdk-amd64/bin/java', '-jar', '/opt/app/lib/application-server-1.2.3.jar'], '/usr/lib/jvm/java-17-openjdk-amd64/bin/java -jar /opt/app/lib/application-server-1.2.3.jar'],
    [['python3', '/usr/lib/python3/dist-packages/cloudinit/cmd/main.py', 'init'], 'python3 /usr/lib/python3/dist-packages/cloudinit/cmd/main.py init'],
  ])('%j', (argv, want) => {
    expect(redactArgv(argv)).toBe(want);
  });

  it('never leaks the secret values', () => {
    const out = redactArgv(['x', '--password', 'hunter2', `--token=${TOKEN}`, SECRET, 'AKIAIOSFODNN7EXAMPLE']);
    for (const s of ['hunter2', TOKEN, SECRET, 'AKIAIOSFODNN7EXAMPLE']) expect(out).not.toContain(s);
  });

  it('bounds argument and total length', () => {
    const out = redactArgv(['x'.repeat(10_000), ...Array.from({ length: 500 }, (_, i) => `arg${i}`)]);
    expect(out.length).toBeLessThanOrEqual(1024 + 1);
    expect(out.startsWith('x'.repeat(256) + '…')).toBe(true);
    const few = redactArgv(Array.from({ length: 100 }, () => 'x'), { maxLength: 10_000, maxArgLength: 10, maxArgs: 3 });
    expect(few).toBe('x x x …');
  });
});

describe('parseCmdline', () => {
  it('splits NUL-separated argv', () => {
    expect(parseCmdline('curl\0-s\0http://x/\0')).toEqual(['curl', '-s', 'http://x/']);
    expect(parseCmdline('')).toEqual([]);
  });
});
