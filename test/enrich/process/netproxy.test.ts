import { describe, expect, it } from 'vitest';
import { conmonContainer, isUserModeNetProxy, slirpTapName, uidMapOwnedBy } from '../../../src/enrich/process/netproxy.js';
import { uidInside } from '../../../src/enrich/process/process-cache.js';

/** pure parts of the look behind rootless Podman's slirp4netns (#10 items 3 and 6); the live case is test/containers/rootless.test.ts */
const ID = '27b1f3126e34a1a7cb7b8e6001a78aa7f77f0f42fc08e171571417ab126979d2';

describe('user-mode network proxies', () => {
  it('knows slirp4netns by its executable', () => {
    expect(isUserModeNetProxy('/usr/bin/slirp4netns')).toBe(true);
    expect(isUserModeNetProxy('/usr/bin/curl')).toBe(false);
    expect(isUserModeNetProxy(null)).toBe(false);
  });

  it('reads the tap device from the command line Podman 4 gives slirp4netns', () => {
    const argv = '/usr/bin/slirp4netns --disable-host-loopback --mtu=65520 --enable-sandbox --enable-seccomp --enable-ipv6 -c -e 3 -r 4 --netns-type=path /run/user/1000/netns/netns-80924766 tap0'.split(' ');
    expect(slirpTapName(argv)).toBe('tap0');
    expect(slirpTapName(['slirp4netns', '--configure', '--mtu', '65520', '4242', 'tap9'])).toBe('tap9');
    expect(slirpTapName(['slirp4netns', '4242'])).toBe('tap0');
    expect(slirpTapName(['slirp4netns', '4242', 'bad name;'])).toBe('tap0');
  });

  it('takes the container id and name from conmon', () => {
    expect(conmonContainer(['/usr/bin/conmon', '--api-version', '1', '-c', ID, '-u', ID, '-r', '/usr/bin/runc', '-n', 'billing-api', '--exit-dir', '/x'])).toEqual({ id: ID, name: 'billing-api' });
    expect(conmonContainer(['/usr/bin/conmon', '-c', 'not-hex', '-n', 'x'])).toBeNull();
  });

  it('tells a user namespace owned by the proxy\'s uid; the initial namespace is nobody\'s', () => {
    expect(uidMapOwnedBy('         0        995          1\n         1     400000      65536\n', 995)).toBe(true);
    expect(uidMapOwnedBy('         0          0 4294967295\n', 995)).toBe(false);
    expect(uidMapOwnedBy('         0       1000          1\n', 995)).toBe(false);
  });
});

describe('uidInside (in-container user of a host uid)', () => {
  it('maps through the uid_map, and leaves an unmapped uid alone', () => {
    const map = '         0        995          1\n         1     400000      65536\n';
    expect(uidInside(map, 400999)).toBe(1000);
    expect(uidInside(map, 995)).toBe(0);
    expect(uidInside('         0          0 4294967295\n', 1000)).toBe(1000);
    expect(uidInside('', 1000)).toBe(1000);
    expect(uidInside(map, null)).toBeNull();
  });
});
