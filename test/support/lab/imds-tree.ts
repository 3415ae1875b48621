/**
 * The metadata tree the lab IMDS simulator serves. Every value is FAKE: the ids look
 * like EC2's, the credentials are obviously invented (AKIA…EXAMPLE style) and are
 * never logged by the server.
 *
 * `lookupMetadata(path)` answers a GET/HEAD path with the body IMDS would return, or
 * null for 404. Directory listings end each child that is itself a directory with '/'.
 */

export interface InstanceIdentity {
  instanceId: string;
  amiId: string;
  instanceType: string;
  localIpv4: string;
  mac: string;
  region: string;
  availabilityZone: string;
  accountId: string;
  roleName: string;
  userData: string | null;
}

export const DEFAULT_IDENTITY: InstanceIdentity = {
  instanceId: 'i-0fa1c0ffee5ba11ad',
  amiId: 'ami-0123456789abcdef0',
  instanceType: 't3.micro',
  localIpv4: '172.31.16.42',
  mac: '0a:1b:2c:3d:4e:5f',
  region: 'us-east-1',
  availabilityZone: 'us-east-1a',
  accountId: '123456789012',
  roleName: 'imdswatch-lab-role',
  userData: '#!/bin/sh\necho imdswatch lab user-data\n',
};

/** API versions listed at `/`, as real IMDS does (abridged). */
const VERSIONS = ['1.0', '2009-04-04', '2016-09-02', '2021-03-23', 'latest'];

type Node = string | { [name: string]: Node } | (() => string);

function buildTree(id: InstanceIdentity, now: () => number): { [name: string]: Node } {
  const credentials = (): string => {
    const issued = new Date(now());
    const expires = new Date(now() + 6 * 3600 * 1000);
    // Fake values only. Shapes match the real document so SDKs parse it.
    return JSON.stringify(
      {
        Code: 'Success',
        LastUpdated: issued.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        Type: 'AWS-HMAC',
        AccessKeyId: 'ASIAIMDSWATCHFAKEKEY',
        SecretAccessKey: 'fakeSecretKeyForTheImdswatchLabOnly0000000',
        Token: 'FakeSessionTokenForTheImdswatchLab/NotARealCredential==',
        Expiration: expires.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
      null,
      2,
    );
  };
  const identityDocument = (): string =>
    JSON.stringify(
      {
        accountId: id.accountId,
        architecture: 'x86_64',
        availabilityZone: id.availabilityZone,
        billingProducts: null,
        devpayProductCodes: null,
        marketplaceProductCodes: null,
        imageId: id.amiId,
        instanceId: id.instanceId,
        instanceType: id.instanceType,
        kernelId: null,
        pendingTime: '2024-01-01T00:00:00Z',
        privateIp: id.localIpv4,
        ramdiskId: null,
        region: id.region,
        version: '2017-09-30',
      },
      null,
      2,
    );
  const metaData: { [name: string]: Node } = {
    'ami-id': id.amiId,
    'ami-launch-index': '0',
    'block-device-mapping': { ami: '/dev/xvda', root: '/dev/xvda' },
    hostname: `ip-${id.localIpv4.replace(/\./g, '-')}.ec2.internal`,
    iam: {
      info: () =>
        JSON.stringify(
          {
            Code: 'Success',
            LastUpdated: new Date(now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            InstanceProfileArn: `arn:aws:iam::${id.accountId}:instance-profile/${id.roleName}`,
            InstanceProfileId: 'AIPAIMDSWATCHFAKEPROFILE',
          },
          null,
          2,
        ),
      'security-credentials': { [id.roleName]: credentials },
    },
    'instance-id': id.instanceId,
    'instance-type': id.instanceType,
    'local-hostname': `ip-${id.localIpv4.replace(/\./g, '-')}.ec2.internal`,
    'local-ipv4': id.localIpv4,
    mac: id.mac,
    network: {
      interfaces: {
        macs: {
          [id.mac]: {
            'device-number': '0',
            'local-ipv4s': id.localIpv4,
            mac: id.mac,
            'subnet-id': 'subnet-0123456789abcdef0',
            'vpc-id': 'vpc-0123456789abcdef0',
          },
        },
      },
    },
    placement: {
      'availability-zone': id.availabilityZone,
      region: id.region,
    },
    'reservation-id': 'r-0123456789abcdef0',
    'security-groups': 'default',
    services: { domain: 'amazonaws.com', partition: 'aws' },
  };
  const version: { [name: string]: Node } = {
    'meta-data': metaData,
    dynamic: { 'instance-identity': { document: identityDocument } },
  };
  if (id.userData !== null) version['user-data'] = id.userData;
  const root: { [name: string]: Node } = {};
  for (const v of VERSIONS) root[v] = version;
  return root;
}

function isDir(node: Node): node is { [name: string]: Node } {
  return typeof node === 'object';
}

/** A lookup function over the tree of `identity`; `now` gives credential timestamps. */
export function createMetadataLookup(
  identity: InstanceIdentity = DEFAULT_IDENTITY,
  now: () => number = Date.now,
): (path: string) => string | null {
  const tree = buildTree(identity, now);
  return (path: string): string | null => {
    if (path === '/') return VERSIONS.join('\n');
    if (!path.startsWith('/')) return null;
    const trailingSlash = path.endsWith('/');
    const parts = path.split('/').filter((p) => p.length > 0);
    let node: Node = tree;
    for (const part of parts) {
      if (!isDir(node) || !Object.prototype.hasOwnProperty.call(node, part)) return null;
      node = node[part];
    }
    if (isDir(node)) {
      // IMDS lists a directory with or without the trailing slash.
      return Object.entries(node)
        .map(([name, child]) => (isDir(child) ? `${name}/` : name))
        .join('\n');
    }
    if (trailingSlash) return null;
    return typeof node === 'function' ? node() : node;
  };
}
