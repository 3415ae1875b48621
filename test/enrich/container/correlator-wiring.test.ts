import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerResolver } from '../../../src/enrich/container/container-resolver.js';
import { ProcCorrelator } from '../../../src/enrich/process/proc-correlator.js';
import { IDS, UIDS, fixtureTree, populate, type FixtureTree } from './fixtures.js';

/** The /proc correlator hands the cgroup's container id / pod uid to the resolver. */
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const HEADER6 = '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
// 10.0.2.15:46018 → 169.254.169.254:80 SYN_SENT, inode 777001; 10.0.2.15:46020, inode 777002
const row = (port: string, inode: number) =>
  LE
    ? `   1: 0F02000A:${port} FEA9FEA9:0050 02 00000001:00000000 01:00000064 00000000     0        0 ${inode} 2 0\n`
    : `   1: 0A00020F:${port} A9FEA9FE:0050 02 00000001:00000000 01:00000064 00000000     0        0 ${inode} 2 0\n`;

let proc: string;
let t: FixtureTree;

function addPid(pid: number, cgroup: string, inode: number): void {
  const d = join(proc, String(pid));
  mkdirSync(join(d, 'fd'), { recursive: true });
  mkdirSync(join(d, 'ns'), { recursive: true });
  writeFileSync(join(d, 'status'), `Name:\tpython3\nTgid:\t${pid}\nPPid:\t1\nUid:\t0\t0\t0\t0\nVmSize:\t100 kB\n`);
  writeFileSync(join(d, 'stat'), `${pid} (python3) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1000 0 0\n`);
  writeFileSync(join(d, 'cmdline'), 'python3\0app.py\0');
  writeFileSync(join(d, 'cgroup'), cgroup);
  symlinkSync('/usr/bin/python3.11', join(d, 'exe'));
  symlinkSync('net:[4026531840]', join(d, 'ns', 'net'));
  symlinkSync(`socket:[${inode}]`, join(d, 'fd', '3'));
}

beforeAll(() => {
  t = fixtureTree('wiring');
  populate(t);
  proc = join(t.root, 'proc');
  mkdirSync(join(proc, 'self', 'ns'), { recursive: true });
  symlinkSync('net:[4026531840]', join(proc, 'self', 'ns', 'net'));
  mkdirSync(join(proc, 'net'), { recursive: true });
  writeFileSync(join(proc, 'net', 'tcp'), HEADER + row('B3C2', 777001) + row('B3C4', 777002));
  writeFileSync(join(proc, 'net', 'tcp6'), HEADER6);
  writeFileSync(join(t.root, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  const uidU = UIDS.cri.replace(/-/g, '_');
  addPid(4242, `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uidU}.slice/cri-containerd-${IDS.cri}.scope\n`, 777001);
  addPid(4343, `0::/system.slice/docker-${IDS.docker}.scope\n`, 777002);
});
afterAll(() => rmSync(t.root, { recursive: true, force: true }));

describe('ProcCorrelator + ContainerResolver', () => {
  const tuple = (port: number) => ({ srcIp: '10.0.2.15', srcPort: port, dstIp: '169.254.169.254', dstPort: 80, ipVersion: 4 as const });

  it('a pod container gets namespace, pod and container names', () => {
    const c = new ProcCorrelator({ procRoot: proc, passwdPath: join(t.root, 'passwd'), containerResolver: new ContainerResolver({ root: t.root }) });
    const r = c.findSocketOwner(tuple(0xb3c2), 5_000);
    expect(r.outcome).toBe('found');
    expect(r.process?.container).toEqual({
      runtime: 'containerd',
      id: IDS.cri,
      name: 'aws-node',
      image: '602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.1',
      pod: { uid: UIDS.cri, namespace: 'kube-system', name: 'aws-node-x7k2p' },
    });
    expect(c.stats().containers).toMatchObject({ lookups: 1, resolved: 1, bySource: { containerd: 1 } });
  });

  it('a Docker container gets its name', () => {
    const c = new ProcCorrelator({ procRoot: proc, passwdPath: join(t.root, 'passwd'), containerResolver: new ContainerResolver({ root: t.root }) });
    const r = c.findSocketOwner(tuple(0xb3c4), 5_000);
    expect(r.process?.container).toMatchObject({ runtime: 'docker', id: IDS.docker, name: 'billing-worker' });
  });

  it('containerResolver: null keeps ids only', () => {
    const c = new ProcCorrelator({ procRoot: proc, passwdPath: join(t.root, 'passwd'), containerResolver: null });
    const r = c.findSocketOwner(tuple(0xb3c4), 5_000);
    expect(r.process?.container).toEqual({ runtime: 'docker', id: IDS.docker });
    expect(c.stats().containers).toBeUndefined();
  });
});
