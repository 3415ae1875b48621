#!/usr/bin/env node
/**
 * npm run record-pcaps [-- --only NAME,NAME]
 * npm run record-pcaps -- --describe    only refresh each entry's `installed` note
 *
 * Re-records every real-client capture of pcaps/real/ (scenarios.ts): for each, a fresh
 * lab, tcpdump in the client's namespace, the real client, teardown. Then tshark reads
 * the file back and writes NAME.labels.json (tshark-labels.ts), and manifest.json keeps
 * which client and version made each file, with the User-Agents seen. Needs root,
 * iproute2, iptables, tcpdump, tshark/editcap and the clients of .ci/run; the #15
 * scenarios (sdk-scenarios.ts) also need golang-go, golang-github-aws-aws-sdk-go-dev,
 * golang-github-aws-aws-sdk-go-v2-dev, ruby-aws-sdk-core, ruby-aws-sdk and npm (releases
 * are installed into $IMDSWATCH_RECORD_CACHE, real-clients.ts); the software scenarios
 * (software-scenarios.ts) need s3fs, rclone, restic and ansible (prometheus is unpacked).
 */
import { REPO_ROOT } from '../repo-root.js';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanupStale, createLab } from './netns.js';
import { must, run } from './proc.js';
import { describeInstalled, prepare, type InstalledClient } from './real-clients.js';
import { SCENARIOS, type Scenario } from './scenarios.js';
import { tsharkLabels, type Label } from './tshark-labels.js';

const REPO = REPO_ROOT;
const OUT = join(REPO, 'pcaps', 'real');
const PREFIX = 'iwrec';

interface ManifestEntry {
  name: string;
  file: string;
  labels: string;
  client: string;
  clientVersion: string | null;
  linkType: 'LINUX_SLL2' | 'EN10MB';
  format: 'pcap' | 'pcapng';
  namespace: Scenario['ns'];
  lab: { tokens: string; connection: string; hopLimitOnTokenPut: boolean; proxy: boolean; forwardedFor?: boolean; tokenPut404?: boolean };
  /** package, version and whether its installed code contains the token header (real-clients.ts) */
  installed?: InstalledClient | null;
  /** extra environment the client ran with (AWS settings only) */
  env?: Record<string, string>;
  command: string;
  exit: string;
  requests: number;
  userAgents: string[];
  note: string;
}

async function debVersion(pkg: string): Promise<string | null> {
  const r = await run(['dpkg-query', '-W', '-f', '${Version}', pkg]);
  return r.code === 0 ? r.stdout.trim() : null;
}

function npmVersion(pkg: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(REPO, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

async function clientVersions(): Promise<Record<string, string | null>> {
  const python = (await run(['/usr/bin/python3', '-c', 'import platform; print(platform.python_version())'])).stdout.trim();
  const smithyNested = (() => {
    try {
      const p = join(REPO, 'node_modules', '@aws-sdk', 'credential-provider-imds', 'node_modules', '@smithy', 'credential-provider-imds', 'package.json');
      return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
    } catch {
      return null;
    }
  })();
  const aws = npmVersion('@aws-sdk/credential-provider-imds');
  return {
    curl: `curl ${await debVersion('curl')}`,
    wget: `wget ${await debVersion('wget')}`,
    'python3 urllib': `python3 ${python} (Debian ${await debVersion('python3')})`,
    'aws-cli (Debian awscli)': `awscli ${await debVersion('awscli')}`,
    botocore: `python3-botocore ${await debVersion('python3-botocore')}`,
    boto3: `python3-boto3 ${await debVersion('python3-boto3')}, python3-botocore ${await debVersion('python3-botocore')}`,
    'ec2-metadata (amazon-ec2-utils)': `amazon-ec2-utils ${await debVersion('amazon-ec2-utils')} (curl ${await debVersion('curl')})`,
    '@aws-sdk/credential-provider-imds': `@aws-sdk/credential-provider-imds ${aws} (→ @smithy/credential-provider-imds ${smithyNested ?? '?'}), node ${process.version}`,
    '@smithy/credential-provider-imds': `@smithy/credential-provider-imds ${npmVersion('@smithy/credential-provider-imds')}, node ${process.version}`,
    'cloud-init DataSourceEc2': `cloud-init ${await debVersion('cloud-init')}`,
    'curl via an X-Forwarded-For proxy': `curl ${await debVersion('curl')} + test/support/lab/xff-proxy.ts`,
    'botocore via an X-Forwarded-For proxy': `python3-botocore ${await debVersion('python3-botocore')} + test/support/lab/xff-proxy.ts`,
  };
}

function assertNoSecrets(labels: Label[]): void {
  const text = JSON.stringify(labels);
  if (/AQAEA|ASIA|SecretAccessKey|"Token"/.test(text)) throw new Error('labels would contain a token or credential');
}

async function recordOne(s: Scenario, work: string, home: string, versions: Record<string, string | null>): Promise<ManifestEntry> {
  if (s.needs) await prepare(s.needs, REPO);
  const installed = await describeInstalled(s.client, REPO, s.needs);
  const format = s.format ?? 'pcap';
  const file = `${s.name}.${format}`;
  const raw = join(work, `${s.name}.pcap`);
  const lab = await createLab({ ...s.lab, prefix: PREFIX });
  let exit: string;
  try {
    const cap = await lab.capture(s.ns, { file: raw, iface: s.iface });
    const env: NodeJS.ProcessEnv = {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: home,
      LANG: 'C.UTF-8',
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
      ...s.env,
    };
    const r = await lab.run(s.ns, s.argv, { env, cwd: REPO, timeoutMs: s.timeoutMs ?? 30_000 });
    exit = r.timedOut ? `killed after ${(s.timeoutMs ?? 30_000) / 1000} s` : `exit ${r.code}`;
    await cap.stop();
  } finally {
    await lab.teardown();
  }
  const dest = join(OUT, file);
  if (format === 'pcapng') await must(['editcap', '-F', 'pcapng', raw, dest]);
  else copyFileSync(raw, dest);
  const labels = await tsharkLabels(dest);
  assertNoSecrets(labels);
  writeFileSync(join(OUT, `${s.name}.labels.json`), `${JSON.stringify(labels, null, 2)}\n`);
  return {
    name: s.name,
    file,
    labels: `${s.name}.labels.json`,
    client: s.client,
    clientVersion: versions[s.client] ?? (installed?.version ? `${installed.package} ${installed.version}` : null),
    linkType: s.iface === 'any' ? 'LINUX_SLL2' : 'EN10MB',
    format,
    namespace: s.ns,
    lab: {
      tokens: s.lab.tokens ?? 'optional',
      connection: s.lab.connection ?? 'keep-alive',
      hopLimitOnTokenPut: !!s.lab.hopLimitOnTokenPut,
      proxy: !!s.lab.proxy,
      ...(s.lab.forwardedFor ? { forwardedFor: true } : {}),
      ...(s.lab.tokenPut404 ? { tokenPut404: true } : {}),
    },
    installed,
    ...(s.env ? { env: s.env } : {}),
    command: s.argv[0] === process.execPath ? ['node', ...s.argv.slice(1)].join(' ') : s.argv.join(' '),
    exit,
    requests: labels.length,
    userAgents: [...new Set(labels.map((l) => l.userAgent ?? '(none)'))],
    note: s.note,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, describe: { type: 'boolean', default: false } } });
  const only = values.only ? new Set(values.only.split(',')) : null;
  const chosen = SCENARIOS.filter((s) => !only || only.has(s.name));
  if (process.getuid?.() !== 0) throw new Error('record-pcaps needs root (network namespaces, tcpdump)');
  await cleanupStale(PREFIX);
  mkdirSync(OUT, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'imdswatch-record-'));
  const home = join(work, 'home');
  mkdirSync(home);
  const manifestPath = join(OUT, 'manifest.json');
  let manifest: ManifestEntry[] = [];
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ManifestEntry[];
  } catch {
    manifest = [];
  }
  if (values.describe) {
    // Only the `installed` notes of existing entries: no lab, no capture.
    for (const m of manifest) {
      const s = SCENARIOS.find((x) => x.name === m.name);
      if (s) m.installed = await describeInstalled(s.client, REPO, s.needs);
    }
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    rmSync(work, { recursive: true, force: true });
    return;
  }
  try {
    const versions = await clientVersions();
    for (const s of chosen) {
      const entry = await recordOne(s, work, home, versions);
      manifest = [...manifest.filter((m) => m.name !== s.name), entry];
      process.stdout.write(
        `${s.name}: ${entry.requests} requests, ${entry.exit}, ` +
          `${(await tsharkLabels(join(OUT, entry.file))).map((l) => `${l.version}:${l.method}:${l.status ?? '-'}`).join(' ')}\n`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    const order = new Map(SCENARIOS.map((s, i) => [s.name, i]));
    manifest.sort((a, b) => (order.get(a.name) ?? 999) - (order.get(b.name) ?? 999));
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`record-pcaps: ${err.message}\n`);
    process.exit(2);
  },
);
