import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { identifySdk, MAX_UA_CHARS, sdkLabel } from '../../../src/enrich/sdk/user-agent.js';
import { MIN_V2 } from '../../../src/enrich/sdk/min-v2-versions.js';

/**
 * Real User-Agent strings. "recorded" = sent to a loopback stand-in for IMDS by the
 * client installed on this machine (Debian 12 + pyenv, see the report of issue #6);
 * "facts" = IMDS-FACTS.md §3.1 (from SDK sources or public captures); the rest are
 * built from the SDKs' documented UA templates with an older version number.
 */
type Row = [label: string, ua: string, name: string, version: string | null, supportsV2: boolean | null, kind: string];

const rows: Row[] = [
  // recorded here
  ['recorded: pyenv botocore 1.43.11', 'Botocore/1.43.11 Python/3.11.7 Linux/6.18.44-fc-v782', 'botocore', '1.43.11', true, 'aws-sdk'],
  ['recorded: Debian botocore 1.29.27 with awscrt', 'Botocore/1.29.27 Python/3.11.2 Linux/6.18.44-fc-v782 awscrt/1.0.0.dev0', 'botocore', '1.29.27', true, 'aws-sdk'],
  ['recorded: Debian boto3 1.26.27', 'Boto3/1.26.27 Python/3.11.2 Linux/6.18.44-fc-v782 awscrt/1.0.0.dev0 Botocore/1.29.27', 'boto3', '1.26.27', true, 'aws-sdk'],
  ['recorded: pyenv boto3 1.43.11', 'Boto3/1.43.11 Python/3.11.7 Linux/6.18.44-fc-v782 Botocore/1.43.11', 'boto3', '1.43.11', true, 'aws-sdk'],
  ['recorded: AWS CLI v1 1.45.11', 'aws-cli/1.45.11 Python/3.11.7 Linux/6.18.44-fc-v782 botocore/1.43.11', 'aws-cli-v1', '1.45.11', true, 'aws-tool'],
  ['recorded: AWS CLI v2 2.9.19 (truncated UA sent to IMDS)', 'aws-cli/2.9.19', 'aws-cli-v2', '2.9.19', true, 'aws-tool'],
  ['recorded: AWS CLI v2 full UA (aws --version)', 'aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v782 source/x86_64.debian.12 prompt/off', 'aws-cli-v2', '2.9.19', true, 'aws-tool'],
  ['recorded: JS SDK v2 fallback GET', 'aws-sdk-nodejs/2.1693.0 linux/v20.20.2', 'aws-sdk-js-v2', '2.1693.0', true, 'aws-sdk'],
  ['recorded: curl 7.88.1 (also ec2-metadata)', 'curl/7.88.1', 'curl', '7.88.1', null, 'http-client'],
  ['recorded: wget 1.21.3', 'Wget/1.21.3', 'wget', '1.21.3', null, 'http-client'],
  ['recorded: Python urllib', 'Python-urllib/3.11', 'python-urllib', '3.11', null, 'http-client'],
  ['recorded: python-requests', 'python-requests/2.28.1', 'python-requests', '2.28.1', null, 'http-client'],
  ['recorded: Node 20 fetch', 'node', 'node', null, null, 'http-client'],
  ['source: cloud-init 22.4.2 url_helper.py', 'Cloud-Init/22.4.2', 'cloud-init', '22.4.2', true, 'agent'],
  // IMDS-FACTS §3.1
  ['facts: old boto3 decided by botocore 1.10.29', 'Boto3/1.7.29 Python/2.7.6 Linux/4.14.0-kali3-amd64 Botocore/1.10.29', 'boto3', '1.7.29', false, 'aws-sdk'],
  ['facts: botocore on AL2023', 'Botocore/1.34.0 Python/3.11.6 Linux/6.1.79-99.164.amzn2023.x86_64', 'botocore', '1.34.0', true, 'aws-sdk'],
  ['facts: AWS CLI v1 1.29.0', 'aws-cli/1.29.0 Python/3.9.16 Linux/5.10.184-175.731.amzn2.x86_64 botocore/1.31.0', 'aws-cli-v1', '1.29.0', true, 'aws-tool'],
  ['facts: AWS CLI v2 2.2.4 with command', 'aws-cli/2.2.4 Python/3.8.8 Linux/5.4.134-73.228.amzn2int.x86_64 exe/x86_64.amzn.2 prompt/off command/appconfig.update-deployment-strategy', 'aws-cli-v2', '2.2.4', true, 'aws-tool'],
  ['facts: Go v1', 'aws-sdk-go/1.44.300 (go1.20.5; linux; amd64)', 'aws-sdk-go-v1', '1.44.300', true, 'aws-sdk'],
  ['facts: Go v2 ua/2.1', 'aws-sdk-go-v2/1.36.1 ua/2.1 os/linux lang/go#1.24.2 md/GOOS#linux md/GOARCH#amd64 ft/ec2-imds', 'aws-sdk-go-v2', '1.36.1', true, 'aws-sdk'],
  ['facts: Go v2 old form', 'aws-sdk-go-v2/0.18.0 GOOS/linux GOARCH/amd64 GO/go1.13.4', 'aws-sdk-go-v2', '0.18.0', false, 'aws-sdk'],
  ['facts: Java v1', 'aws-sdk-java/1.12.500 Linux/5.10.184-175.731.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b07 java/1.8.0_372 vendor/Amazon.com_Inc.', 'aws-sdk-java-v1', '1.12.500', true, 'aws-sdk'],
  ['facts: Java v2', 'aws-sdk-java/2.20.100 Linux/5.10.184-175.731.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.7+7-LTS Java/17.0.7 vendor/Amazon.com_Inc.', 'aws-sdk-java-v2', '2.20.100', true, 'aws-sdk'],
  ['facts: Ruby v3', 'aws-sdk-ruby3/3.190.0', 'aws-sdk-ruby-v3', '3.190.0', true, 'aws-sdk'],
  ['facts: PHP', 'aws-sdk-php/3.283.0 GuzzleHttp/7', 'aws-sdk-php', '3.283.0', true, 'aws-sdk'],
  ['facts: .NET (core version decides)', 'aws-sdk-dotnet-coreclr/3.7.300.0 aws-sdk-dotnet-core/3.7.300.0 .NET_Core/6.0.25 OS/Linux_5.10.184', 'aws-sdk-dotnet', '3.7.300.0', true, 'aws-sdk'],
  ['facts: C++ old form', 'aws-sdk-cpp/1.9.100 Linux/5.10.184-175.731.amzn2.x86_64 x86_64 GCC/7.3.1', 'aws-sdk-cpp', '1.9.100', true, 'aws-sdk'],
  ['facts: C++ ua/2.0 form', 'aws-sdk-cpp/1.11.300 ua/2.0 md/aws-crt#0.26.4 os/Linux#5.10 md/arch#x86_64 lang/c++#C++11', 'aws-sdk-cpp', '1.11.300', true, 'aws-sdk'],
  ['facts: Rust', 'aws-sdk-rust/1.1.4 os/linux lang/rust/1.74.1', 'aws-sdk-rust', '1.1.4', true, 'aws-sdk'],
  ['facts: amazon-ec2-net-utils', 'amazon-ec2-net-utils/2.6.1', 'amazon-ec2-net-utils', '2.6.1', true, 'agent'],
  ['facts: Go net/http', 'Go-http-client/1.1', 'go-http-client', '1.1', null, 'http-client'],
  ['facts: curl 8.2.1', 'curl/8.2.1', 'curl', '8.2.1', null, 'http-client'],
  // older releases (documented templates, version below AWS's minimum)
  ['old Go v1 (ECS agent, Dec 2019)', 'aws-sdk-go/1.25.19 (go1.12.9; linux; amd64)', 'aws-sdk-go-v1', '1.25.19', false, 'aws-sdk'],
  ['old Java v1', 'aws-sdk-java/1.11.500 Linux/4.14.146 OpenJDK_64-Bit_Server_VM/25.232-b09 java/1.8.0_232', 'aws-sdk-java-v1', '1.11.500', false, 'aws-sdk'],
  ['old Java v2', 'aws-sdk-java/2.10.20 Linux/4.14.146 OpenJDK_64-Bit_Server_VM/11.0.5+10 Java/11.0.5 vendor/Amazon.com_Inc.', 'aws-sdk-java-v2', '2.10.20', false, 'aws-sdk'],
  ['old JS v2 (before 2.575.0, wire: js-v2-2.574.0-credentials.pcap)', 'aws-sdk-nodejs/2.574.0 linux/v20.20.2', 'aws-sdk-js-v2', '2.574.0', false, 'aws-sdk'],
  ['JS v2 between 2.575.0 and AWS\'s 2.722.0 uses tokens (wire: js-v2-2.575.0-credentials.pcap)', 'aws-sdk-nodejs/2.600.0 linux/v12.14.0', 'aws-sdk-js-v2', '2.600.0', true, 'aws-sdk'],
  ['recorded: Go SDK v1 (Debian 1.44.133)', 'aws-sdk-go/1.44.133 (go1.19.8; linux; amd64)', 'aws-sdk-go-v1', '1.44.133', true, 'aws-sdk'],
  ['recorded: Go SDK v2 (Debian 1.17.1)', 'aws-sdk-go-v2/1.17.1 os/linux lang/go/1.19.8 md/GOOS/linux md/GOARCH/amd64 ft/ec2-imds', 'aws-sdk-go-v2', '1.17.1', true, 'aws-sdk'],
  ['recorded: Ruby SDK v3 (Debian 3.168.1)', 'aws-sdk-ruby3/3.168.1', 'aws-sdk-ruby-v3', '3.168.1', true, 'aws-sdk'],
  ['recorded: Ruby SDK v1 sends Net::HTTP\'s "Ruby": nothing claimed', 'Ruby', 'ruby-net-http', null, null, 'http-client'],
  ['JS v3 ec2-metadata-service client', 'aws-sdk-js/3.500.0 ua/2.0 os/linux#6.1 lang/js md/nodejs#20.11.0', 'aws-sdk-js-v3', '3.500.0', true, 'aws-sdk'],
  ['old Ruby v3', 'aws-sdk-ruby3/3.78.9', 'aws-sdk-ruby-v3', '3.78.9', false, 'aws-sdk'],
  ['Ruby v2: unknown', 'aws-sdk-ruby2/2.11.632', 'aws-sdk-ruby-v2', '2.11.632', null, 'aws-sdk'],
  ['old PHP', 'aws-sdk-php/3.147.6 GuzzleHttp/6.5.5 curl/7.61.1 PHP/7.2.24', 'aws-sdk-php', '3.147.6', false, 'aws-sdk'],
  ['old .NET', 'aws-sdk-dotnet-45/3.3.600.0 aws-sdk-dotnet-core/3.3.600.0 .NET_Runtime/4.0 .NET_Framework/4.0 OS/Microsoft_Windows_NT_10.0.17763.0', 'aws-sdk-dotnet', '3.3.600.0', false, 'aws-sdk'],
  ['.NET v4', 'aws-sdk-net/4.0.0.0 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/.NET_Core#8.0.1', 'aws-sdk-dotnet', '4.0.0.0', true, 'aws-sdk'],
  ['old C++', 'aws-sdk-cpp/1.7.228 Linux/4.14.0 x86_64 GCC/7.3.1', 'aws-sdk-cpp', '1.7.228', false, 'aws-sdk'],
  ['Kotlin', 'aws-sdk-kotlin/1.0.30 ua/2.0 api/sts#1.0.30 os/linux#6.1 lang/kotlin#1.9.22', 'aws-sdk-kotlin', '1.0.30', false, 'aws-sdk'],
  ['old CLI v1 decided by botocore', 'aws-cli/1.16.200 Python/2.7.16 Linux/4.14.138-114.102.amzn2.x86_64 botocore/1.12.190', 'aws-cli-v1', '1.16.200', false, 'aws-tool'],
  ['CLI v1 without botocore token: CLI version decides', 'aws-cli/1.16.289', 'aws-cli-v1', '1.16.289', true, 'aws-tool'],
  ['CLI v2 dev build', 'aws-cli/2.0.0dev5 Python/3.7.4 Linux/4.14.0 botocore/2.0.0dev4', 'aws-cli-v2', '2.0.0dev5', true, 'aws-tool'],
  ['old cloud-init', 'Cloud-Init/19.3', 'cloud-init', '19.3', false, 'agent'],
  ['Ubuntu cloud-init packaged version', 'Cloud-Init/23.4.4-0ubuntu0~22.04.1', 'cloud-init', '23.4.4-0ubuntu0~22.04.1', true, 'agent'],
  // agents: UA tokens are [uncertain]; the embedded SDK decides when present
  ['SSM agent with its Go SDK', 'aws-sdk-go/1.44.0 (go1.19; linux; amd64) amazon-ssm-agent/3.2.582.0', 'amazon-ssm-agent', '3.2.582.0', true, 'agent'],
  ['ECS agent on an old Go SDK', 'aws-sdk-go/1.25.19 (go1.12.9; linux; amd64) amazon-ecs-agent/1.33.0', 'amazon-ecs-agent', '1.33.0', false, 'agent'],
  ['ECS agent alone: unknown', 'amazon-ecs-agent/1.33.0', 'amazon-ecs-agent', '1.33.0', null, 'agent'],
  ['old Datadog agent', 'datadog-agent/7.50.0', 'datadog-agent', '7.50.0', false, 'agent'],
  ['PowerShell tools on .NET core', 'aws-sdk-dotnet-coreclr/3.7.300.0 aws-sdk-dotnet-core/3.7.300.0 AWSPowerShell.NetCore/4.1.500.0', 'aws-tools-powershell', '4.1.500.0', true, 'aws-tool'],
  // generic HTTP clients
  ['HttpURLConnection', 'Java/1.8.0_372', 'java-httpurlconnection', '1.8.0_372', null, 'http-client'],
  ['Apache HttpClient', 'Apache-HttpClient/4.5.13 (Java/1.8.0_372)', 'apache-httpclient', '4.5.13', null, 'http-client'],
  ['OkHttp', 'okhttp/4.12.0', 'okhttp', '4.12.0', null, 'http-client'],
  ['node-fetch', 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)', 'node-fetch', '1.0', null, 'http-client'],
  ['undici', 'undici', 'undici', null, null, 'http-client'],
  ['urllib3', 'python-urllib3/1.26.12', 'python-urllib3', '1.26.12', null, 'http-client'],
  ['PowerShell Invoke-WebRequest', 'Mozilla/5.0 (Linux; Ubuntu 22.04.3 LTS; en-US) PowerShell/7.4.1', 'powershell', '7.4.1', null, 'http-client'],
  // unknown
  ['unrecognised', 'MyCompanyAgent/3.1 (+ops)', 'unknown', null, null, 'unknown'],
  ['browser-like', 'Mozilla/5.0 (X11; Linux x86_64)', 'unknown', null, null, 'unknown'],
];

describe('identifySdk over real User-Agent strings', () => {
  it.each(rows)('%s', (_label, ua, name, version, supportsV2, kind) => {
    const s = identifySdk(ua);
    expect(s).not.toBeNull();
    expect({ name: s!.name, version: s!.version, supportsV2: s!.supportsV2, kind: s!.kind }).toEqual({ name, version, supportsV2, kind });
    expect(s!.minV2Version).toBe(MIN_V2[name].minV2Version);
  });

  it('null only for a missing or blank User-Agent', () => {
    expect(identifySdk(null)).toBeNull();
    expect(identifySdk('')).toBeNull();
    expect(identifySdk('   ')).toBeNull();
    expect(identifySdk('x')).toMatchObject({ name: 'unknown', version: null, minV2Version: null, supportsV2: null });
  });

  it('boto3 is decided by its botocore: new boto3 on an old botocore is too old', () => {
    const s = identifySdk('Boto3/1.12.6 Python/3.7.0 Linux/4.14.0 Botocore/1.13.22');
    expect(s).toMatchObject({ name: 'boto3', version: '1.12.6', minV2Version: '1.12.6', supportsV2: false });
    expect(s!.note).toContain('botocore 1.13.22');
  });

  it('exact minimum versions of the table (AWS\'s list, corrected where code and wire differ) are supported, one below is not', () => {
    const at: Array<[string, string, string]> = [
      ['aws-cli/1.16.289', 'aws-cli/1.16.288', 'aws-cli-v1'],
      ['Botocore/1.13.23 Python/3.7.0 Linux/4.14', 'Botocore/1.13.22 Python/3.7.0 Linux/4.14', 'botocore'],
      ['aws-sdk-go/1.25.38 (go1.13; linux; amd64)', 'aws-sdk-go/1.25.37 (go1.13; linux; amd64)', 'aws-sdk-go-v1'],
      ['aws-sdk-go-v2/0.19.0', 'aws-sdk-go-v2/0.18.9', 'aws-sdk-go-v2'],
      ['aws-sdk-java/1.11.678 Linux/4', 'aws-sdk-java/1.11.677 Linux/4', 'aws-sdk-java-v1'],
      ['aws-sdk-java/2.10.21 Linux/4', 'aws-sdk-java/2.10.20 Linux/4', 'aws-sdk-java-v2'],
      ['aws-sdk-nodejs/2.575.0 linux/v12', 'aws-sdk-nodejs/2.574.0 linux/v12', 'aws-sdk-js-v2'],
      ['aws-sdk-php/3.147.7', 'aws-sdk-php/3.147.6', 'aws-sdk-php'],
      ['aws-sdk-ruby3/3.79.0', 'aws-sdk-ruby3/3.78.0', 'aws-sdk-ruby-v3'],
      ['aws-sdk-cpp/1.7.229', 'aws-sdk-cpp/1.7.228', 'aws-sdk-cpp'],
      ['aws-sdk-kotlin/1.1.4', 'aws-sdk-kotlin/1.1.3', 'aws-sdk-kotlin'],
      ['aws-sdk-dotnet-core/3.3.634.1', 'aws-sdk-dotnet-core/3.3.634.0', 'aws-sdk-dotnet'],
      ['AWSPowerShell/4.0.1.0', 'AWSPowerShell/4.0.0.0', 'aws-tools-powershell'],
    ];
    for (const [ok, old, name] of at) {
      expect(identifySdk(ok), ok).toMatchObject({ name, supportsV2: true });
      expect(identifySdk(old), old).toMatchObject({ name, supportsV2: false });
    }
  });

  it('copies no User-Agent text other than the version into the result', () => {
    const secretish = 'AQAEAFakeTokenValueThatMustNotLeak==';
    for (const ua of [`curl/7.88.1 ${secretish}`, `${secretish} aws-sdk-go/1.44.0 (go1.20; linux; amd64)`, `MyTool/1.0 ${secretish}`, `aws-cli/1.29.0 x/${secretish} botocore/1.31.0`]) {
      expect(JSON.stringify(identifySdk(ua))).not.toContain('FakeToken');
    }
    // a version capture is bounded too
    const s = identifySdk(`curl/7.${'1'.repeat(200)}`);
    expect(s!.version!.length).toBeLessThanOrEqual(40);
  });

  it('looks at most MAX_UA_CHARS of a huge User-Agent and never throws', () => {
    expect(identifySdk('x'.repeat(MAX_UA_CHARS) + ' aws-sdk-go/1.0.0')).toMatchObject({ name: 'unknown' });
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (ua) => {
        const s = identifySdk(ua);
        if (ua.trim() === '') return s === null;
        return s !== null && typeof s.name === 'string' && (s.version === null || s.version.length <= 40);
      }),
      { numRuns: 500 },
    );
  });

  it('every product id it can return has a table row with a label', () => {
    for (const [, ua, name] of rows) {
      expect(MIN_V2[identifySdk(ua)!.name], ua).toBeDefined();
      expect(sdkLabel(name)).not.toBe('');
    }
    expect(sdkLabel('curl')).toContain('ec2-metadata');
  });
});
