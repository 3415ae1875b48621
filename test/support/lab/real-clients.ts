import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { must, run } from './proc.js';

/**
 * The real clients record-pcaps needs beyond the Debian packages of .ci/install-deps:
 * npm releases of the JavaScript SDKs (installed into a cache, never into this repo's
 * package.json), small Go programs built offline against Debian's Go SDK packages, and
 * what each installed client is (package, version, does its code contain the token
 * header). Recording is a developer step: the committed captures replay without any of
 * this.
 *
 * Cache: $IMDSWATCH_RECORD_CACHE, default /var/cache/imdswatch-record
 *   npm/<spec with @ and / as _>/node_modules/...   one prefix per npm release
 *   go/go-sdk-v1, go/go-sdk-v2                        the programs of clients/*.go
 */
export const RECORD_CACHE = process.env.IMDSWATCH_RECORD_CACHE ?? '/var/cache/imdswatch-record';

/** something a scenario needs installed or built before it runs */
export type Prerequisite = { npm: string } | { go: 'v1' | 'v2' } | { debExtract: string };

/**
 * Where a Debian package unpacked with `dpkg-deb -x` lives: for agents whose package
 * would install and start a service on this host (waagent), the code is run from here.
 */
export function debRoot(pkg: string): string {
  return join(RECORD_CACHE, 'deb', pkg);
}

/** where the npm release `spec` (e.g. aws-sdk@2.575.0) is installed */
export function npmPrefix(spec: string): string {
  return join(RECORD_CACHE, 'npm', spec.replace(/[@/]/g, '_'));
}

/** path of a package inside an npm prefix */
export function npmModule(spec: string): string {
  const name = spec.slice(0, spec.lastIndexOf('@'));
  return join(npmPrefix(spec), 'node_modules', name);
}

export function goBinary(sdk: 'v1' | 'v2'): string {
  return join(RECORD_CACHE, 'go', `go-sdk-${sdk}`);
}

/** install/build what `p` names unless already there (idempotent) */
export async function prepare(p: Prerequisite, repo: string): Promise<void> {
  if ('npm' in p) {
    if (existsSync(join(npmModule(p.npm), 'package.json'))) return;
    const prefix = npmPrefix(p.npm);
    mkdirSync(prefix, { recursive: true });
    writeFileSync(join(prefix, 'package.json'), '{"private":true}\n');
    await must(['npm', 'install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', p.npm], {
      cwd: prefix,
      timeoutMs: 600_000,
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
    return;
  }
  if ('debExtract' in p) {
    const root = debRoot(p.debExtract);
    if (existsSync(join(root, 'usr'))) return;
    const dl = join(RECORD_CACHE, 'deb', 'download');
    mkdirSync(dl, { recursive: true, mode: 0o777 });
    chmodSync(dl, 0o777); // apt's _apt user downloads into it
    await must(['apt-get', 'download', '-q', p.debExtract], { cwd: dl, timeoutMs: 300_000 });
    const deb = readdirSync(dl).find((f) => f.startsWith(`${p.debExtract}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${p.debExtract} left no .deb`);
    await must(['dpkg-deb', '-x', join(dl, deb), root]);
    writeFileSync(join(root, 'VERSION'), `${deb.split('_')[1]}\n`);
    return;
  }
  const bin = goBinary(p.go);
  if (existsSync(bin)) return;
  // GOPATH mode against Debian's golang-github-aws-aws-sdk-go(-v2)-dev: no module proxy, no network.
  const src = join(RECORD_CACHE, 'go', `src-${p.go}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'main.go'), readFileSync(join(repo, 'test', 'support', 'lab', 'clients', `go-sdk-${p.go}.go`)));
  await must(['go', 'build', '-o', bin, '.'], {
    cwd: src,
    timeoutMs: 600_000,
    env: {
      PATH: '/usr/lib/go/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: RECORD_CACHE,
      GOPATH: '/usr/share/gocode',
      GO111MODULE: 'off',
      GOFLAGS: '',
      GOPROXY: 'off',
      GOCACHE: join(RECORD_CACHE, 'go', 'cache'),
    },
  });
}

/** what is installed for one client: package, version, where its IMDS code lives */
export interface InstalledClient {
  package: string;
  version: string | null;
  /** files or directories searched for the token header */
  searched: string[];
  /** a file of `searched` sends `X-aws-ec2-metadata-token` (any case, not the -ttl-seconds header); null when nothing was searched */
  tokenHeaderInCode: boolean | null;
  /** the first file that does, relative to its root */
  tokenHeaderFile: string | null;
}

async function debVersion(pkg: string): Promise<string | null> {
  const r = await run(['dpkg-query', '-W', '-f', '${Version}', pkg]);
  return r.code === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
}

function jsonVersion(file: string): string | null {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

const TOKEN_HEADER = /x-aws-ec2-metadata-token(?!-ttl)/i;
const CODE_FILE = /\.(?:go|rb|js|cjs|mjs|py|sh)$|^ec2-metadata$/;
const MAX_FILES = 60_000;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** the first code file under `root` (test files and docs skipped) that sends the token header */
export function findTokenHeader(root: string): string | null {
  const stack = [root];
  let seen = 0;
  while (stack.length > 0 && seen < MAX_FILES) {
    const p = stack.pop() as string;
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      const base = p.slice(p.lastIndexOf('/') + 1);
      if (p !== root && /^(?:test|tests|testdata|__tests__|doc|docs|\.bin)$/.test(base)) continue;
      for (const e of readdirSync(p).sort().reverse()) stack.push(join(p, e));
      continue;
    }
    const name = p.slice(p.lastIndexOf('/') + 1);
    if (!CODE_FILE.test(name) || /_test\.go$|\.d\.ts$|\.spec\.js$/.test(name) || st.size > MAX_FILE_BYTES) continue;
    seen++;
    if (TOKEN_HEADER.test(readFileSync(p, 'latin1'))) return relative(root, p) || name;
  }
  return null;
}

function installed(pkg: string, version: string | null, roots: string[]): InstalledClient {
  const present = roots.filter((r) => existsSync(r));
  let file: string | null = null;
  for (const r of present) {
    const hit = findTokenHeader(r);
    if (hit) {
      file = `${r}:${hit}`;
      break;
    }
  }
  return { package: pkg, version, searched: present, tokenHeaderInCode: present.length ? file !== null : null, tokenHeaderFile: file };
}

const GOCODE = '/usr/share/gocode/src/github.com/aws';
const RUBY_CORE = '/usr/share/rubygems-integration/all/gems';
const PY = '/usr/lib/python3/dist-packages';

/** installed package, version and token-header finding for a scenario's `client` */
export async function describeInstalled(client: string, repo: string, prereq?: Prerequisite): Promise<InstalledClient | null> {
  if (prereq && 'debExtract' in prereq) {
    const root = debRoot(prereq.debExtract);
    let version: string | null = null;
    try {
      version = readFileSync(join(root, 'VERSION'), 'utf8').trim();
    } catch {
      version = null;
    }
    return installed(`${prereq.debExtract} (unpacked, not installed)`, version, [join(root, 'usr', 'lib', 'python3', 'dist-packages', 'azurelinuxagent', 'common')]);
  }
  if (prereq && 'npm' in prereq) {
    const mod = npmModule(prereq.npm);
    const name = prereq.npm.slice(0, prereq.npm.lastIndexOf('@'));
    const roots = name === 'aws-sdk' ? [join(mod, 'lib')] : [join(npmPrefix(prereq.npm), 'node_modules')];
    return installed(name, jsonVersion(join(mod, 'package.json')), roots);
  }
  switch (client) {
    case 'aws-sdk-go (Go SDK v1)':
      return installed('golang-github-aws-aws-sdk-go-dev', await debVersion('golang-github-aws-aws-sdk-go-dev'), [join(GOCODE, 'aws-sdk-go', 'aws', 'ec2metadata')]);
    case 'aws-sdk-go-v2 (Go SDK v2)':
      return installed('golang-github-aws-aws-sdk-go-v2-dev', await debVersion('golang-github-aws-aws-sdk-go-v2-dev'), [join(GOCODE, 'aws-sdk-go-v2', 'feature', 'ec2', 'imds')]);
    case 'aws-sdk-core (Ruby SDK v3)': {
      const v = await debVersion('ruby-aws-sdk-core');
      const gem = v ? join(RUBY_CORE, `aws-sdk-core-${v.replace(/-[^-]*$/, '')}`, 'lib') : '';
      return installed('ruby-aws-sdk-core', v, [gem]);
    }
    case 'aws-sdk v1 (Ruby SDK v1)':
      return installed('ruby-aws-sdk', await debVersion('ruby-aws-sdk'), ['/usr/lib/ruby/vendor_ruby/aws/core']);
    case 'cloud-init DataSourceEc2':
    case 'cloud-init DataSourceOpenStack':
    case 'cloud-init DataSourceGCE':
    case 'cloud-init DataSourceAzure': {
      const ds = client.slice('cloud-init '.length);
      const src = join(PY, 'cloudinit', 'sources');
      const extra = ds === 'DataSourceOpenStack' ? [join(src, 'helpers', 'openstack.py')] : ds === 'DataSourceAzure' ? [join(src, 'azure')] : [];
      return installed('cloud-init', await debVersion('cloud-init'), [join(src, `${ds}.py`), ...extra]);
    }
    case 'curl':
    case 'curl via an X-Forwarded-For proxy':
      return installed('curl', await debVersion('curl'), []);
    case 'wget':
      return installed('wget', await debVersion('wget'), []);
    case 'python3 urllib':
      return installed('python3', await debVersion('python3'), []);
    case 'aws-cli (Debian awscli)':
      return installed('awscli', await debVersion('awscli'), [join(PY, 'awscli', 'botocore', 'utils.py')]);
    case 'botocore':
    case 'botocore via an X-Forwarded-For proxy':
      return installed('python3-botocore', await debVersion('python3-botocore'), [join(PY, 'botocore', 'utils.py')]);
    case 'boto3':
      return installed('python3-boto3', await debVersion('python3-boto3'), [join(PY, 'botocore', 'utils.py')]);
    case '@aws-sdk/credential-provider-imds': {
      const dir = join(repo, 'node_modules', '@aws-sdk', 'credential-provider-imds');
      return installed(client, jsonVersion(join(dir, 'package.json')), [join(dir, 'node_modules', '@smithy', 'credential-provider-imds', 'dist-cjs'), join(dir, 'dist-cjs')]);
    }
    case '@smithy/credential-provider-imds': {
      const dir = join(repo, 'node_modules', '@smithy', 'credential-provider-imds');
      return installed(client, jsonVersion(join(dir, 'package.json')), [join(dir, 'dist-cjs')]);
    }
    case 'ansible':
      return installed('ansible', await debVersion('ansible'), ['/usr/lib/python3/dist-packages/ansible_collections/amazon/aws/plugins/modules/ec2_metadata_facts.py']);
    case 's3fs':
    case 'rclone':
    case 'restic':
      // Go and C++ binaries: the version is the package's, the code is not searched
      return installed(client, await debVersion(client), []);
    case 'ec2-metadata (amazon-ec2-utils)':
      return installed('amazon-ec2-utils', await debVersion('amazon-ec2-utils'), ['/usr/bin/ec2-metadata']);
    default:
      return null;
  }
}
