import { describe, expect, it } from 'vitest';
import {
  hasNames,
  parseContainerLogName,
  parseContainersJson,
  parseDockerConfig,
  parseOciConfig,
  parsePodLogDirName,
} from '../../../src/enrich/container/metadata-parsers.js';
import { IDS, SECRET, UIDS, dockerConfig, ociSpec } from './fixtures.js';

describe('parseDockerConfig', () => {
  it('name without the leading slash, image from Config.Image; Env never comes out', () => {
    const n = parseDockerConfig(dockerConfig({ id: IDS.docker, name: 'web', image: 'nginx:1.25' }));
    expect(n).toEqual({ name: 'web', image: 'nginx:1.25', pod: null });
    expect(JSON.stringify(n)).not.toContain(SECRET);
  });
  it('dockershim labels: the Kubernetes container name wins over the k8s_… Docker name', () => {
    const n = parseDockerConfig(
      dockerConfig({
        id: IDS.dockershim,
        name: `k8s_app_web-0_shop_${UIDS.dockershim}_3`,
        image: 'shop:1',
        labels: { 'io.kubernetes.container.name': 'app', 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': UIDS.dockershim },
      }),
    );
    expect(n).toEqual({ name: 'app', image: 'shop:1', pod: { uid: UIDS.dockershim, namespace: 'shop', name: 'web-0' } });
  });
  it.each([['{'], ['null'], ['"str"'], ['[]'], ['']])('malformed %j → null', (text) => {
    expect(parseDockerConfig(text)).toBeNull();
  });
  it('valid JSON with wrong types → empty names, not an error', () => {
    const n = parseDockerConfig('{"Name": 1, "Config": {"Image": ["x"], "Labels": "y"}}');
    expect(n).toEqual({ name: null, image: null, pod: null });
    expect(hasNames(n)).toBe(false);
  });
  it('a name that is only slashes is no name', () => {
    expect(parseDockerConfig('{"Name": "///"}')!.name).toBeNull();
  });
});

describe('parseOciConfig', () => {
  it('containerd CRI annotations', () => {
    expect(
      parseOciConfig(
        ociSpec({
          'io.kubernetes.cri.container-type': 'container',
          'io.kubernetes.cri.container-name': 'app',
          'io.kubernetes.cri.sandbox-name': 'web-0',
          'io.kubernetes.cri.sandbox-namespace': 'shop',
          'io.kubernetes.cri.sandbox-uid': UIDS.cri,
          'io.kubernetes.cri.image-name': 'docker.io/library/shop:1',
        }),
      ),
    ).toEqual({ type: 'container', name: 'app', image: 'docker.io/library/shop:1', pod: { uid: UIDS.cri, namespace: 'shop', name: 'web-0' } });
  });
  it('a CRI sandbox (pause) container: pod known, no container name', () => {
    const n = parseOciConfig(ociSpec({ 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-name': 'web-0', 'io.kubernetes.cri.sandbox-namespace': 'shop' }));
    expect(n).toMatchObject({ type: 'sandbox', name: null, pod: { uid: null, namespace: 'shop', name: 'web-0' } });
  });
  it('CRI-O annotations', () => {
    expect(
      parseOciConfig(ociSpec({ 'io.kubernetes.container.name': 'app', 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': UIDS.crio, 'io.kubernetes.cri-o.ContainerType': 'container' })),
    ).toMatchObject({ name: 'app', pod: { uid: UIDS.crio, namespace: 'shop', name: 'web-0' }, type: 'container' });
  });
  it('nerdctl name', () => {
    expect(parseOciConfig(ociSpec({ 'nerdctl/name': 'cron' }))).toMatchObject({ name: 'cron', pod: null });
  });
  it('a spec without annotations is valid and names nothing; env never comes out', () => {
    const n = parseOciConfig(JSON.stringify({ ociVersion: '1.0.2', process: { env: [`X=${SECRET}`] } }));
    expect(n).toEqual({ name: null, image: null, pod: null, type: null });
    expect(JSON.stringify(n)).not.toContain(SECRET);
  });
  it.each([['{"annotations": []}'], ['{"annotations": "x"}'], ['[1]'], ['not json']])('malformed %j → null', (text) => {
    expect(parseOciConfig(text)).toBeNull();
  });
});

describe('parseContainersJson', () => {
  const list = JSON.stringify([
    { id: IDS.crio, names: ['k8s_x'] },
    { id: IDS.podman, names: ['', 'backup', 'alias'] },
    { id: IDS.nerdctl, names: 'not-a-list' },
  ]);
  it('first non-empty name of the matching id', () => {
    expect(parseContainersJson(list, IDS.podman)?.name).toBe('backup');
  });
  it('an id that is not listed, or has no usable names → empty names', () => {
    expect(parseContainersJson(list, IDS.docker)).toEqual({ name: null, image: null, pod: null });
    expect(parseContainersJson(list, IDS.nerdctl)).toEqual({ name: null, image: null, pod: null });
  });
  it('not a list → null', () => {
    expect(parseContainersJson('{}', IDS.podman)).toBeNull();
  });
});

describe('kubelet directory entry names', () => {
  it.each([
    [`kube-system_aws-node-x7k2p_${UIDS.cri}`, { namespace: 'kube-system', name: 'aws-node-x7k2p', uid: UIDS.cri }],
    [`kube-system_kube-apiserver-ip-10-0-1-5.ec2.internal_${UIDS.staticPod}`, { namespace: 'kube-system', name: 'kube-apiserver-ip-10-0-1-5.ec2.internal', uid: UIDS.staticPod }],
    [`default_web_${UIDS.cri}x`, null],
    ['default_web_not-a-uid-at-all-not-a-uid-at-all-0000', null],
    [`Default_web_${UIDS.cri}`, null],
    [`a_b_c_${UIDS.cri}`, null],
    ['', null],
  ])('pod log dir %j', (entry, want) => {
    expect(parsePodLogDirName(entry)).toEqual(want);
  });

  it.each([
    [`aws-node-x7k2p_kube-system_aws-node-${IDS.cri}.log`, { pod: 'aws-node-x7k2p', namespace: 'kube-system', container: 'aws-node', id: IDS.cri }],
    [`web-0.shop_shop_istio-proxy-${IDS.docker}.log`, { pod: 'web-0.shop', namespace: 'shop', container: 'istio-proxy', id: IDS.docker }],
    [`web_shop_app-${IDS.docker.slice(1)}.log`, null],
    [`web_shop_app-${IDS.docker}.log.gz`, null],
    [`web_shop_-${IDS.docker}.log`, null],
  ])('container log link %j', (entry, want) => {
    expect(parseContainerLogName(entry)).toEqual(want);
  });
});

describe('parseContainersJson: Podman image (#10 item 5)', () => {
  it('takes image-name from the metadata string', () => {
    const id = 'a'.repeat(64);
    const list = JSON.stringify([{ id, names: ['billing-api'], metadata: JSON.stringify({ 'image-name': 'localhost/imdswatch-test/debian-curl:1', 'image-id': 'b'.repeat(64), name: 'billing-api' }) }]);
    expect(parseContainersJson(list, id)).toEqual({ name: 'billing-api', image: 'localhost/imdswatch-test/debian-curl:1', pod: null });
    const bad = JSON.stringify([{ id, names: ['x'], metadata: '{not json' }]);
    expect(parseContainersJson(bad, id)).toEqual({ name: 'x', image: null, pod: null });
  });
});
