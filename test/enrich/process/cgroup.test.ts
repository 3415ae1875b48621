import { describe, expect, it } from 'vitest';
import { parseCgroup } from '../../../src/enrich/process/cgroup.js';

const ID = 'f45298cd2b1e0c8d0c0f7e3a7d7b58ce1b0d98a1e4f3a0b9c8d7e6f5a4b3c2d1';
const ID2 = '31cb0294d1c4a3b2e5f60718293a4b5c6d7e8f9001122334455667788990aabb';

describe('parseCgroup', () => {
  it.each([
    ['host service (v2)', '0::/system.slice/cron.service\n', { unit: 'cron.service', container: null }],
    ['login session scope', '0::/user.slice/user-1000.slice/session-3.scope\n', { unit: 'session-3.scope', container: null }],
    [
      'user manager service',
      '0::/user.slice/user-1000.slice/user@1000.service/app.slice/myjob.service\n',
      { unit: 'myjob.service', userUnit: 'user@1000.service', container: null },
    ],
    ['root cgroup', '0::/\n', { unit: null, container: null }],
    [
      'hybrid hierarchy (systemd-nspawn boot): v2 line is "/", name=systemd knows the unit',
      '9:name=systemd:/system.slice/imds-early.service\n8:pids:/\n1:cpu:/\n0::/\n',
      { unit: 'imds-early.service', container: null },
    ],
    [
      'docker, systemd driver',
      `0::/system.slice/docker-${ID}.scope\n`,
      { unit: null, container: { runtime: 'docker', id: ID } },
    ],
    [
      'docker, cgroupfs v1',
      `12:memory:/docker/${ID}\n11:cpu,cpuacct:/docker/${ID}\n1:name=systemd:/docker/${ID}\n`,
      { container: { runtime: 'docker', id: ID } },
    ],
    [
      'docker in docker: inner id',
      `1:name=systemd:/docker/${ID2}/docker/${ID}\n`,
      { container: { runtime: 'docker', id: ID } },
    ],
    [
      'kubernetes v2, systemd driver, containerd',
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-poddd1bf9d1_241d_47f5_8e25_12de83135812.slice/cri-containerd-${ID}.scope\n`,
      { unit: null, container: { runtime: 'containerd', id: ID, pod: { uid: 'dd1bf9d1-241d-47f5-8e25-12de83135812' } } },
    ],
    [
      'kubernetes v1, cgroupfs driver',
      `4:memory:/kubepods/burstable/pod74ba62da-1a3d-11e7-bb11-080027cb0e22/${ID}\n`,
      { container: { runtime: 'kubernetes', id: ID, pod: { uid: '74ba62da-1a3d-11e7-bb11-080027cb0e22' } } },
    ],
    [
      'kubernetes guaranteed pod (no qos level)',
      `0::/kubepods.slice/kubepods-pod74ba62da_1a3d_11e7_bb11_080027cb0e22.slice/cri-containerd-${ID}.scope\n`,
      { container: { runtime: 'containerd', id: ID, pod: { uid: '74ba62da-1a3d-11e7-bb11-080027cb0e22' } } },
    ],
    [
      'kubernetes v1 name=systemd under containerd.service',
      `1:name=systemd:/system.slice/containerd.service/kubepods-burstable-pod74ba62da_1a3d_11e7_bb11_080027cb0e22.slice:cri-containerd:${ID}\n`,
      { unit: 'containerd.service', container: { runtime: 'containerd', id: ID, pod: { uid: '74ba62da-1a3d-11e7-bb11-080027cb0e22' } } },
    ],
    [
      'CRI-O',
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod74ba62da_1a3d_11e7_bb11_080027cb0e22.slice/crio-${ID}.scope\n`,
      { container: { runtime: 'cri-o', id: ID, pod: { uid: '74ba62da-1a3d-11e7-bb11-080027cb0e22' } } },
    ],
    [
      'podman',
      `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope\n`,
      { unit: 'user@1000.service', container: { runtime: 'podman', id: ID } },
    ],
    ['ECS on EC2 (v1)', `3:cpu:/ecs/5a0d5ceddf6c44a5b06fa4b8fd6d2c1b/${ID}\n`, { container: { runtime: 'ecs', id: ID } }],
    [
      'hybrid: v2 line is "/", container only in a v1 line',
      `0::/\n5:pids:/docker/${ID}\n`,
      { container: { runtime: 'docker', id: ID } },
    ],
  ])('%s', (_name, text, want) => {
    expect(parseCgroup(text)).toMatchObject(want);
  });

  it('returns nulls for empty or garbage text', () => {
    expect(parseCgroup('')).toEqual({ path: null, unit: null, userUnit: null, container: null });
    expect(parseCgroup('no colons here\n')).toMatchObject({ unit: null, container: null });
  });
});
