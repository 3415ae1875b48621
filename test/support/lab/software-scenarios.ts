import type { LabOptions } from './netns.js';
import { debRoot } from './real-clients.js';
import type { Scenario } from './scenarios.js';

/**
 * Third-party software from Debian's packages that calls IMDS itself (FUSE filesystems,
 * backup and sync tools), each recorded in four labs so that what the report says about
 * it rests on the wire (docs/imds-facts.md#software-that-calls-imds-itself):
 *
 *   NAME            client namespace, tokens optional (what a host sees)
 *   NAME-hop-limit  container namespace one routed hop away, the PUT's answer has TTL 1
 *   NAME-put-403    every token PUT answered 403 (as behind an X-Forwarded-For proxy)
 *   NAME-put-404    every token PUT answered 404 (something that is not IMDS answers)
 *
 * Each runs as root in the lab with no credentials but the instance role, so its chain
 * reaches IMDS; the storage endpoint it then calls fails at once (the lab has no DNS and
 * no route but to IMDS). Installed with apt: s3fs, rclone, restic, ansible; prometheus unpacked.
 */

const CLOSE: LabOptions = { connection: 'close' };
const sh = (script: string): string[] => ['/bin/sh', '-c', script];

type Base = Omit<Scenario, 'ns' | 'iface' | 'lab'>;

function fourLabs(b: Base): Scenario[] {
  return [
    { ...b, ns: 'client', iface: 'veth', lab: CLOSE },
    { ...b, name: `${b.name}-hop-limit`, ns: 'container', iface: 'veth', lab: { ...CLOSE, hopLimitOnTokenPut: true }, note: `${b.note}; one routed hop away, the token PUT answer has TTL 1` },
    { ...b, name: `${b.name}-put-403`, ns: 'client', iface: 'veth', lab: { ...CLOSE, forwardedFor: true }, note: `${b.note}; every token PUT answered 403 (as behind an X-Forwarded-For proxy)` },
    { ...b, name: `${b.name}-put-404`, ns: 'client', iface: 'veth', lab: { ...CLOSE, tokenPut404: true }, note: `${b.note}; every token PUT answered 404 (not IMDS)` },
  ];
}

// s3fs in the foreground: it loads the role and its credentials at start, then fails on the bucket check (no DNS) and exits.
const MNT = '/tmp/imdswatch-s3fs-mnt';
const s3fs = (role: string): string[] => sh(`mkdir -p ${MNT} && exec s3fs iwbucket ${MNT} -f -o iam_role=${role} -o retries=1 -o connect_timeout=2`);
const RCLONE = ['rclone', 'lsd', ':s3:iwbucket', '--s3-provider', 'AWS', '--s3-env-auth', '--s3-region', 'us-east-1', '--low-level-retries', '1', '--retries', '1', '--contimeout', '3s'];
const RESTIC = ['restic', '-r', 's3:s3.amazonaws.com/iwbucket', '--no-lock', 'snapshots'];
// Prometheus's EC2 service discovery without a region asks IMDS for it when the config is
// loaded: promtool check config runs that same code (Debian's package, unpacked: installing
// it would start a Prometheus server on this host)
const PROM_CFG = '/tmp/imdswatch-prometheus-ec2-sd.yml';
const PROMTOOL = sh(
  `printf 'scrape_configs:\\n  - job_name: ec2\\n    ec2_sd_configs:\\n      - port: 9100\\n' > ${PROM_CFG} && exec ${debRoot('prometheus')}/usr/bin/promtool check config ${PROM_CFG}`,
);
// Ansible's amazon.aws.ec2_metadata_facts, run on the local host (Debian's ansible 7.7 ships amazon.aws 5.5.1)
const ANSIBLE = ['ansible', 'localhost', '-c', 'local', '-m', 'amazon.aws.ec2_metadata_facts', '-o'];

export const SOFTWARE_SCENARIOS: Scenario[] = [
  // Not the plain lab of iam_role=auto: there s3fs 1.90's token PUT (chunked, empty, after
  // "100 Continue") is one tshark 3.x/4.0 does not dissect, so its labels could not be made
  // from the capture; the three other labs show the same token-less role-name GET first.
  ...fourLabs({ name: 's3fs-iam-role-auto', client: 's3fs', argv: s3fs('auto'), timeoutMs: 40_000, note: 's3fs -o iam_role=auto (the role name looked up in IMDS)' }).slice(1),
  ...fourLabs({ name: 's3fs-iam-role-named', client: 's3fs', argv: s3fs('imdswatch-lab-role'), timeoutMs: 40_000, note: 's3fs -o iam_role=imdswatch-lab-role (the role named)' }),
  ...fourLabs({ name: 'rclone-s3-env-auth', client: 'rclone', argv: RCLONE, timeoutMs: 40_000, note: 'rclone lsd :s3: --s3-env-auth (the AWS SDK for Go credential chain)' }),
  ...fourLabs({ name: 'ansible-ec2-metadata-facts', client: 'ansible', argv: ANSIBLE, env: { ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false' }, timeoutMs: 90_000, note: 'ansible localhost -m amazon.aws.ec2_metadata_facts' }),
  ...fourLabs({ name: 'prometheus-ec2-sd', client: 'prometheus', argv: PROMTOOL, needs: { debExtract: 'prometheus' }, timeoutMs: 60_000, note: 'promtool check config with ec2_sd_configs and no region (the region comes from IMDS)' }),
  ...fourLabs({ name: 'restic-s3', client: 'restic', argv: RESTIC, env: { RESTIC_PASSWORD: 'lab' }, timeoutMs: 40_000, note: 'restic -r s3:... snapshots (minio-go credential chain: env, files, IAM)' }),
];
