import type { LabNs, LabOptions } from './netns.js';
import type { Prerequisite } from './real-clients.js';
import { SDK_SCENARIOS } from './sdk-scenarios.js';
import { SOFTWARE_SCENARIOS } from './software-scenarios.js';

/**
 * The real-client captures of pcaps/real/: one scenario per file. Every command runs a
 * real, installed client (Debian packages, npm packages of this repo) inside a lab
 * namespace whose only routes lead to the simulator. The token of the curl scripts
 * lives in a shell variable only. Credentials served are fake (imds-tree.ts).
 */
export interface Scenario {
  name: string;
  /** what ran, for the README */
  client: string;
  ns: Exclude<LabNs, 'imds'>;
  iface: 'any' | 'veth';
  format?: 'pcap' | 'pcapng';
  lab: LabOptions;
  argv: string[];
  /** kill the client after this long (default 30 s) */
  timeoutMs?: number;
  /** extra environment, on top of the clean one of record-pcaps */
  env?: Record<string, string>;
  /** npm release or Go program the recorder installs/builds first (real-clients.ts) */
  needs?: Prerequisite;
  note: string;
}

const V4 = 'http://169.254.169.254';
const V6 = 'http://[fd00:ec2::254]';
const TTL_HDR = 'X-aws-ec2-metadata-token-ttl-seconds: 21600';
const PY = '/usr/bin/python3';

const sh = (script: string): string[] => ['/bin/sh', '-c', script];
const curlV2 = (paths: string[]): string =>
  `T=$(curl -s -X PUT -H "${TTL_HDR}" ${V4}/latest/api/token) && ` +
  `curl -s -o /dev/null -o /dev/null -H "X-aws-ec2-metadata-token: $T" ${paths.map((p) => V4 + p).join(' ')}`;
const jsImds = (pkg: string): string[] => [
  process.execPath,
  '-e',
  `import('${pkg}').then((m) => m.fromInstanceMetadata()()).then((c) => console.log('credentials', !!c.accessKeyId), (e) => { console.log('error', e.name); process.exitCode = 1; })`,
];
const BOTOCORE = `import botocore.session; c = botocore.session.get_session().get_credentials(); print('credentials', c is not None and c.method)`;
const BOTO3 = `import boto3; c = boto3.Session().get_credentials(); print('credentials', c is not None and c.method)`;
const AWSCLI = ['/usr/bin/aws', 'configure', 'export-credentials', '--format', 'process'];
const CLOUD_INIT = (asAws: boolean): string[] => [
  PY,
  '-c',
  [
    'import tempfile',
    'from cloudinit import helpers, distros',
    'from cloudinit.sources import DataSourceEc2 as E',
    'd = tempfile.mkdtemp()',
    "paths = helpers.Paths({'cloud_dir': d, 'run_dir': d + '/run'})",
    "distro = distros.fetch('debian')('debian', {}, paths)",
    "cfg = {'datasource': {'Ec2': {'timeout': 2, 'max_wait': 6, 'retries': 0, 'metadata_urls': ['http://169.254.169.254']}}}",
    'ds = E.DataSourceEc2(cfg, distro, paths)',
    // The platform check reads DMI (Amazon EC2 vendor / ec2 uuid) which a lab lacks.
    asAws ? "ds._cloud_name = 'aws'" : 'pass',
    'md = ds.crawl_metadata()',
    "print('crawled', sorted(md.keys()) if md else md)",
  ].join('\n'),
];

const CLOSE: LabOptions = { connection: 'close' };

export const SCENARIOS: Scenario[] = [
  {
    name: 'curl-v1', client: 'curl', ns: 'client', iface: 'any', lab: CLOSE,
    argv: ['curl', '-s', '-o', '/dev/null', `${V4}/latest/meta-data/instance-id`],
    note: 'one token-less GET',
  },
  {
    name: 'curl-v2-token-reuse', client: 'curl', ns: 'client', iface: 'veth', lab: { connection: 'keep-alive' },
    argv: sh(curlV2(['/latest/meta-data/instance-id', '/latest/meta-data/placement/region'])),
    note: 'token PUT, then one curl fetching two paths with the token over one kept-alive connection',
  },
  {
    name: 'curl-v1-ipv6', client: 'curl', ns: 'client', iface: 'any', format: 'pcapng', lab: CLOSE,
    argv: ['curl', '-s', '-o', '/dev/null', `${V6}/latest/meta-data/local-ipv4`],
    note: 'token-less GET to the IPv6 endpoint',
  },
  {
    name: 'wget-v1', client: 'wget', ns: 'client', iface: 'veth', lab: CLOSE,
    argv: ['wget', '-q', '-O', '/dev/null', `${V4}/latest/meta-data/ami-id`],
    note: 'token-less GET',
  },
  {
    name: 'python-urllib-v1', client: 'python3 urllib', ns: 'client', iface: 'any', lab: CLOSE,
    argv: [PY, '-c', `import urllib.request as u; u.urlopen('${V4}/latest/meta-data/instance-type').read()`],
    note: 'token-less GET',
  },
  {
    name: 'awscli-export-credentials', client: 'aws-cli (Debian awscli)', ns: 'client', iface: 'veth', lab: CLOSE,
    argv: AWSCLI, note: 'credential chain reaches IMDS: token, role listing, role credentials',
  },
  {
    name: 'botocore-credentials', client: 'botocore', ns: 'client', iface: 'any', lab: CLOSE,
    argv: [PY, '-c', BOTOCORE], note: 'get_credentials() through the default chain',
  },
  {
    name: 'boto3-credentials', client: 'boto3', ns: 'client', iface: 'veth', format: 'pcapng', lab: CLOSE,
    argv: [PY, '-c', BOTO3], note: 'Session().get_credentials()',
  },
  {
    name: 'ec2-metadata', client: 'ec2-metadata (amazon-ec2-utils)', ns: 'client', iface: 'any', lab: CLOSE,
    argv: ['ec2-metadata', '--instance-id', '--availability-zone'], note: 'shell script around curl: one token, two GETs',
  },
  {
    name: 'js-v3-aws-sdk-imds', client: '@aws-sdk/credential-provider-imds', ns: 'client', iface: 'veth', lab: CLOSE,
    argv: jsImds('@aws-sdk/credential-provider-imds'), note: 'fromInstanceMetadata() with defaults',
  },
  {
    name: 'js-v3-smithy-imds', client: '@smithy/credential-provider-imds', ns: 'client', iface: 'any', lab: { connection: 'keep-alive' },
    argv: jsImds('@smithy/credential-provider-imds'), note: 'fromInstanceMetadata() with defaults (the provider SDK v3 uses today), keep-alive server',
  },
  {
    name: 'cloud-init-ec2-aws', client: 'cloud-init DataSourceEc2', ns: 'client', iface: 'veth', lab: CLOSE,
    argv: CLOUD_INIT(true), note: 'crawl_metadata() with the platform forced to AWS (lab has no EC2 DMI)',
  },
  {
    name: 'cloud-init-ec2-unidentified', client: 'cloud-init DataSourceEc2', ns: 'client', iface: 'any', lab: CLOSE,
    argv: CLOUD_INIT(false), note: 'crawl_metadata() on a platform cloud-init does not identify as AWS',
  },
  {
    name: 'curl-v1-required-401', client: 'curl', ns: 'client', iface: 'any', lab: { ...CLOSE, tokens: 'required' },
    argv: ['curl', '-s', '-o', '/dev/null', `${V4}/latest/meta-data/instance-id`],
    note: 'token-less GET against --tokens required',
  },
  {
    name: 'botocore-container-hop-limit', client: 'botocore', ns: 'container', iface: 'veth', lab: { ...CLOSE, hopLimitOnTokenPut: true },
    argv: [PY, '-c', BOTOCORE], note: 'one routed hop away, the token PUT answer has TTL 1',
  },
  {
    name: 'awscli-container-hop-limit', client: 'aws-cli (Debian awscli)', ns: 'container', iface: 'any', lab: { ...CLOSE, hopLimitOnTokenPut: true },
    argv: AWSCLI, note: 'one routed hop away, the token PUT answer has TTL 1',
  },
  {
    name: 'js-v3-smithy-container-hop-limit', client: '@smithy/credential-provider-imds', ns: 'container', iface: 'veth', lab: { ...CLOSE, hopLimitOnTokenPut: true },
    argv: jsImds('@smithy/credential-provider-imds'), note: 'one routed hop away, the token PUT answer has TTL 1',
  },
  {
    name: 'ec2-metadata-container-hop-limit', client: 'ec2-metadata (amazon-ec2-utils)', ns: 'container', iface: 'any', lab: { ...CLOSE, hopLimitOnTokenPut: true },
    argv: ['ec2-metadata', '--instance-id'], timeoutMs: 5000,
    note: 'one routed hop away: curl has no timeout, so the script hangs on the PUT (killed after 5 s)',
  },
  {
    name: 'botocore-container-hop-limit-required', client: 'botocore', ns: 'container', iface: 'veth',
    lab: { ...CLOSE, hopLimitOnTokenPut: true, tokens: 'required' },
    argv: [PY, '-c', BOTOCORE], note: 'hop limit 1 and --tokens required: the fallback meets 401 (what breaks when a host is switched to required)',
  },
  {
    name: 'botocore-ipv6', client: 'botocore', ns: 'client', iface: 'veth', format: 'pcapng', lab: CLOSE,
    argv: [PY, '-c', BOTOCORE], env: { AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' },
    note: 'AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6: the same chain against [fd00:ec2::254]',
  },
  {
    name: 'curl-xff-proxy-403', client: 'curl via an X-Forwarded-For proxy', ns: 'client', iface: 'veth', lab: { ...CLOSE, proxy: true },
    argv: ['curl', '-s', '-o', '/dev/null', '-x', 'http://127.0.0.1:3128', '-X', 'PUT', '-H', TTL_HDR, `${V4}/latest/api/token`],
    note: 'token PUT through the lab proxy, which adds X-Forwarded-For',
  },
  {
    name: 'botocore-xff-proxy', client: 'botocore via an X-Forwarded-For proxy', ns: 'client', iface: 'veth', lab: { ...CLOSE, proxy: true },
    argv: [PY, '-c', BOTOCORE], env: { HTTP_PROXY: 'http://127.0.0.1:3128', http_proxy: 'http://127.0.0.1:3128' },
    note: 'botocore honours HTTP_PROXY for IMDS; the proxy adds X-Forwarded-For',
  },
  ...SDK_SCENARIOS,
  ...SOFTWARE_SCENARIOS,
];
