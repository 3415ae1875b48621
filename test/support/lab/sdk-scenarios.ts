import type { LabOptions } from './netns.js';
import { debRoot, goBinary, npmModule, type Prerequisite } from './real-clients.js';
import type { Scenario } from './scenarios.js';

/**
 * Issue #15: the Go, Ruby and JavaScript SDKs and the other agents that call
 * 169.254.169.254, each through its IMDS entry points. A client that sends a token PUT
 * is recorded in three labs:
 *
 *   NAME            client namespace, tokens optional (what a host sees)
 *   NAME-hop-limit  container namespace one routed hop away, the PUT's answer has TTL 1
 *                   (HttpPutResponseHopLimit=1): the PUT goes unanswered
 *   NAME-put-403    client namespace, the simulator answers every token PUT 403 as IMDS
 *                   does when a proxy in the path added X-Forwarded-For (kube2iam, kiam)
 *
 * A client that sends no PUT in the first lab (no token support in that release, or an
 * entry point that never fetches one, or another cloud's probe) is recorded there only:
 * the other two labs change nothing but the answer to a PUT.
 *
 * npm releases are installed into the record cache (real-clients.ts), never into this
 * repository; the Go programs (clients/*.go) are built offline against Debian's packages.
 */

const CLOSE: LabOptions = { connection: 'close' };
const PY = '/usr/bin/python3';
const RUBY = '/usr/bin/ruby';

type Base = Omit<Scenario, 'ns' | 'iface' | 'lab'> & { needs?: Prerequisite };

/** the three labs of a token-using client */
function threeLabs(b: Base): Scenario[] {
  return [
    { ...b, ns: 'client', iface: 'veth', lab: CLOSE },
    { ...b, name: `${b.name}-hop-limit`, ns: 'container', iface: 'veth', lab: { ...CLOSE, hopLimitOnTokenPut: true }, note: `${b.note}; one routed hop away, the token PUT answer has TTL 1` },
    { ...b, name: `${b.name}-put-403`, ns: 'client', iface: 'veth', lab: { ...CLOSE, forwardedFor: true }, note: `${b.note}; every token PUT answered 403 (as behind an X-Forwarded-For proxy)` },
  ];
}

function oneLab(b: Base): Scenario[] {
  return [{ ...b, ns: 'client', iface: 'veth', lab: CLOSE }];
}

// --- Go ------------------------------------------------------------------------------
const go = (sdk: 'v1' | 'v2', mode: 'metadata' | 'credentials'): string[] => [goBinary(sdk), mode];
const GO_ENV = { AWS_REGION: 'us-east-1' };
const GO1 = 'aws-sdk-go (Go SDK v1)';
const GO2 = 'aws-sdk-go-v2 (Go SDK v2)';

// --- Ruby ----------------------------------------------------------------------------
const ruby = (script: string): string[] => [RUBY, '-e', script];
const RB3_CREDS = 'require "aws-sdk-core"; c = Aws::InstanceProfileCredentials.new; puts(c.set? ? "credentials" : "none")';
const RB3_MD =
  'require "aws-sdk-core"; begin; Aws::EC2Metadata.new.get("/latest/meta-data/instance-id"); puts "ok"; rescue => e; puts "error #{e.class}"; exit 1; end';
const RB1_CREDS = 'require "aws-sdk-v1"; c = AWS::Core::CredentialProviders::EC2Provider.new; puts(c.set? ? "credentials" : "none")';
const RB3 = 'aws-sdk-core (Ruby SDK v3)';
const RB1 = 'aws-sdk v1 (Ruby SDK v1)';

// --- JavaScript v2 (aws-sdk@2.x) -------------------------------------------------------
/** releases recorded: the last without tokens, the first with (changelog "Signed IMDS workflow"), the last without the v1 toggle, the newest */
export const JS_V2_RELEASES = ['2.574.0', '2.575.0', '2.1487.0', '2.1693.0'] as const;
const JS2 = 'aws-sdk (JavaScript SDK v2)';
const done = "(e) => { console.log(e ? 'error ' + e.code : 'ok'); process.exitCode = e ? 1 : 0; }";
const jsV2 = (v: string, body: string): string[] => [process.execPath, '-e', `const AWS = require(${JSON.stringify(`${npmModule(`aws-sdk@${v}`)}/global`)}); ${body}`];
const JS2_CREDS = `new AWS.EC2MetadataCredentials().get(${done});`;
const JS2_MD = `new AWS.MetadataService().request('/latest/meta-data/instance-id', ${done});`;
/** the code change for MetadataService.request(): fetch a token first (fetchMetadataToken is public from 2.1627.0) */
const JS2_MD_TOKEN =
  `const m = new AWS.MetadataService(); m.fetchMetadataToken((e, t) => e ? (${done})(e) : ` +
  `m.request('/latest/meta-data/instance-id', { headers: { 'x-aws-ec2-metadata-token': t } }, ${done}));`;

// --- JavaScript v3 @aws-sdk/ec2-metadata-service --------------------------------------
export const JS_V3_MD_RELEASE = '3.1164.0';
const JS3MD = `@aws-sdk/ec2-metadata-service@${JS_V3_MD_RELEASE}`;
const jsV3Md = (): string[] => [
  process.execPath,
  '-e',
  `const { MetadataService } = require(${JSON.stringify(npmModule(JS3MD))}); ` +
    `new MetadataService({}).request('/latest/meta-data/instance-id', {}).then(() => console.log('ok'), (e) => { console.log('error', e.name); process.exitCode = 1; });`,
];

// --- other clouds' probes (cloud-init datasources) --------------------------------------
const py = (lines: string[]): string[] => [PY, '-c', lines.join('\n')];
const CI_OPENSTACK = py([
  'from cloudinit.sources import DataSourceOpenStack as O',
  'try:',
  "    md = O.read_metadata_service('http://169.254.169.254', timeout=2, retries=0)",
  "    print('read', sorted(md))",
  'except Exception as e:',
  "    print('error', type(e).__name__)",
]);
const CI_GCE = py([
  'from cloudinit.sources import DataSourceGCE as G, URLParams',
  "r = G.read_md(address='http://169.254.169.254/computeMetadata/v1/', url_params=URLParams(2, 2, 0, 0), platform_check=False)",
  "print('success', r['success'])",
]);
const CI_AZURE = py([
  'from cloudinit.sources import DataSourceAzure as A',
  'try:',
  '    A.get_metadata_from_imds(retries=0)',
  "    print('read')",
  'except Exception as e:',
  "    print('error', type(e).__name__)",
]);

// WALinuxAgent's IMDS client, run from the unpacked package (installing it would start the agent here).
const WAAGENT = [
  PY,
  '-c',
  [
    'import sys',
    `sys.path.insert(0, ${JSON.stringify(`${debRoot('waagent')}/usr/lib/python3/dist-packages`)})`,
    'from azurelinuxagent.common.protocol.imds import ImdsClient',
    // The wireserver fallback only follows a connection error; point it at IMDS too so nothing else is asked.
    "r = ImdsClient('169.254.169.254').get_metadata('instance/compute', is_health=False)",
    "print('success', r.success)",
  ].join('\n'),
];

export const SDK_SCENARIOS: Scenario[] = [
  ...threeLabs({ name: 'go-v1-ec2metadata', client: GO1, argv: go('v1', 'metadata'), env: GO_ENV, needs: { go: 'v1' }, note: 'ec2metadata.New(session).GetMetadata("instance-id")' }),
  ...threeLabs({ name: 'go-v1-credentials', client: GO1, argv: go('v1', 'credentials'), env: GO_ENV, needs: { go: 'v1' }, note: "session.NewSession().Config.Credentials.Get(): the default chain's EC2RoleProvider" }),
  ...threeLabs({ name: 'go-v2-imds', client: GO2, argv: go('v2', 'metadata'), env: GO_ENV, needs: { go: 'v2' }, note: 'imds.NewFromConfig(cfg).GetMetadata(instance-id)' }),
  ...threeLabs({ name: 'go-v2-credentials', client: GO2, argv: go('v2', 'credentials'), env: GO_ENV, needs: { go: 'v2' }, note: "config.LoadDefaultConfig() then Credentials.Retrieve(): the chain's ec2rolecreds" }),
  ...threeLabs({ name: 'ruby-v3-credentials', client: RB3, argv: ruby(RB3_CREDS), note: 'Aws::InstanceProfileCredentials.new' }),
  ...threeLabs({ name: 'ruby-v3-ec2metadata', client: RB3, argv: ruby(RB3_MD), note: 'Aws::EC2Metadata.new.get("/latest/meta-data/instance-id")' }),
  ...oneLab({ name: 'ruby-v1-credentials', client: RB1, argv: ruby(RB1_CREDS), note: 'AWS::Core::CredentialProviders::EC2Provider.new.credentials (the old v1 SDK)' }),
  ...JS_V2_RELEASES.flatMap((v) => {
    const needs = { npm: `aws-sdk@${v}` };
    const creds: Base = { name: `js-v2-${v}-credentials`, client: JS2, argv: jsV2(v, JS2_CREDS), needs, note: `aws-sdk@${v} new AWS.EC2MetadataCredentials().get()` };
    const md: Base = { name: `js-v2-${v}-metadataservice`, client: JS2, argv: jsV2(v, JS2_MD), needs, note: `aws-sdk@${v} new AWS.MetadataService().request(path)` };
    return [...(v === '2.574.0' ? oneLab(creds) : threeLabs(creds)), ...oneLab(md)];
  }),
  // The v1 toggle (AWS_EC2_METADATA_V1_DISABLED, changelog 2.1488.0 "IMDS: IMDSv1 fallback toggle"), where the PUT goes unanswered:
  ...['2.1487.0', '2.1693.0'].map((v): Scenario => ({
    name: `js-v2-${v}-credentials-hop-limit-v1-disabled`, client: JS2, argv: jsV2(v, JS2_CREDS), needs: { npm: `aws-sdk@${v}` },
    env: { AWS_EC2_METADATA_V1_DISABLED: 'true' }, ns: 'container', iface: 'veth', lab: { ...CLOSE, hopLimitOnTokenPut: true },
    note: `aws-sdk@${v} EC2MetadataCredentials with AWS_EC2_METADATA_V1_DISABLED=true; one routed hop away, the token PUT answer has TTL 1`,
  })),
  ...oneLab({
    name: 'js-v2-2.1693.0-metadataservice-token', client: JS2, argv: jsV2('2.1693.0', JS2_MD_TOKEN), needs: { npm: 'aws-sdk@2.1693.0' },
    note: 'aws-sdk@2.1693.0 MetadataService: fetchMetadataToken() then request(path, {headers: {x-aws-ec2-metadata-token}}) (the code change request() needs)',
  }),
  ...threeLabs({ name: 'js-v3-ec2-metadata-service', client: '@aws-sdk/ec2-metadata-service', argv: jsV3Md(), needs: { npm: JS3MD }, timeoutMs: 5000, note: `${JS3MD} new MetadataService().request(path)` }),
  ...oneLab({ name: 'cloud-init-openstack', client: 'cloud-init DataSourceOpenStack', argv: CI_OPENSTACK, timeoutMs: 60_000, note: "DataSourceOpenStack.read_metadata_service('http://169.254.169.254')" }),
  ...oneLab({ name: 'cloud-init-gce', client: 'cloud-init DataSourceGCE', argv: CI_GCE, timeoutMs: 60_000, note: 'DataSourceGCE.read_md() with the metadata address set to 169.254.169.254 (the lab has no DNS for metadata.google.internal)' }),
  ...oneLab({ name: 'waagent-imds', client: 'WALinuxAgent', argv: WAAGENT, needs: { debExtract: 'waagent' }, timeoutMs: 90_000, note: "WALinuxAgent ImdsClient.get_metadata('instance/compute') (Debian waagent, unpacked)" }),
  ...oneLab({ name: 'cloud-init-azure', client: 'cloud-init DataSourceAzure', argv: CI_AZURE, timeoutMs: 60_000, note: 'DataSourceAzure.get_metadata_from_imds(retries=0)' }),
];
