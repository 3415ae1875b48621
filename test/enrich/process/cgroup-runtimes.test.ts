import { describe, expect, it } from 'vitest';
import { containerdTaskCandidate, parseCgroup } from '../../../src/enrich/process/cgroup.js';

/** cgroup paths read on real runtimes (#10 items 2 and 8) */
const ID = '7d1f0e7c2b9a4f3e8d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706';
const UID = '0d6b3e2a-9f1c-4c8e-a1b2-3c4d5e6f7a8b';

describe('parseCgroup on cgroupfs-driver runtimes', () => {
  it('rootful Podman, cgroupfs manager: /libpod_parent/libpod-<id>', () => {
    const c = parseCgroup(`9:name=systemd:/libpod_parent/libpod-${ID}\n1:cpu:/libpod_parent/libpod-${ID}\n0::/libpod_parent/libpod-${ID}\n`);
    expect(c.container).toEqual({ runtime: 'podman', id: ID });
    expect(c.unit).toBeNull();
  });

  it('CRI-O, cgroupfs manager: /kubepods/besteffort/pod<uid>/crio-<id>', () => {
    const c = parseCgroup(`0::/kubepods/besteffort/pod${UID}/crio-${ID}\n`);
    expect(c.container).toEqual({ runtime: 'cri-o', id: ID, pod: { uid: UID } });
  });

  it('the conmon of a Podman container is not the container', () => {
    expect(parseCgroup(`0::/libpod_parent/conmon\n`).container).toBeNull();
    expect(parseCgroup(`0::/machine.slice/libpod-conmon-${ID}.scope\n`).container).toBeNull();
  });
});

describe('containerdTaskCandidate (ctr: free-form namespace and id)', () => {
  it.each([
    ['/default/plain-ctr', { namespace: 'default', id: 'plain-ctr' }],
    ['/k8s.io/billing_api.v2', { namespace: 'k8s.io', id: 'billing_api.v2' }],
    ['/system.slice/cron.service', null],
    ['/user.slice/user-1000.slice', null],
    ['/a/b/c', null],
    ['/default/../etc', null],
    ['/default/-x', null],
    [`/default/${'x'.repeat(77)}`, null],
    [null, null],
  ])('%s', (path, want) => {
    expect(containerdTaskCandidate(path)).toEqual(want);
  });
});
