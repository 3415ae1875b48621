import { someOf } from '../text/lists.js';

/**
 * What to do next (docs/design.md#next-step): READY gives the exact command for this host
 * (or, for a fleet, the READY hosts and the account-level defaults); NOT READY and UNKNOWN
 * say in one line what blocks it. Only an instance id and a region of the right shape go
 * into a command (a fleet's state files are not trusted to hold shell-safe text).
 */
type Verdict = 'READY' | 'NOT READY' | 'UNKNOWN';
/** what of a readiness result the next step reads (structural: readiness.ts computes it with this module) */
interface HostReadiness {
  name: string;
  instanceId: string | null;
  verdict: Verdict;
}
interface ReadinessIn {
  verdict: Verdict;
  why: string[];
  hosts: HostReadiness[];
  findings: Array<{ software: string; container: string | null }>;
  clean: Array<{ container: string | null }>;
}

export interface NextStep {
  /** one line: what keeps the verdict from READY (null when READY) */
  blockedBy: string | null;
  /** commands to run, in order (shell-safe: placeholders in <angle brackets> where a value is not known) */
  commands: string[];
  notes: string[];
  /** instance ids (or host names where no id is known) by verdict */
  byVerdict: Record<Verdict, string[]>;
}

/** instance ids written into one command; the rest are in --format json */
const MAX_IDS = 200;
/** ids listed per verdict in the text, 8 a line */
const MAX_LISTED = 40;

const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

/** the region from an EC2 private DNS name: ip-10-0-0-1.eu-west-1.compute.internal; ip-….ec2.internal is us-east-1 */
export function regionOf(hostName: string): string | null {
  const m = /\.([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d)\.compute\.internal$/.exec(hostName);
  if (m) return m[1];
  return /\.ec2\.internal$/.test(hostName) ? 'us-east-1' : null;
}

const idOf = (h: HostReadiness) => (h.instanceId && INSTANCE_ID.test(h.instanceId) ? h.instanceId : null);

function hostCommand(h: HostReadiness, hopLimit: boolean): string {
  return [
    'aws ec2 modify-instance-metadata-options',
    `--instance-id ${idOf(h) ?? '<instance-id>'}`,
    '--http-tokens required',
    '--http-endpoint enabled',
    ...(hopLimit ? ['--http-put-response-hop-limit 2'] : []),
    `--region ${regionOf(h.name) ?? '<region>'}`,
  ].join(' ');
}

export function nextStepOf(r: ReadinessIn): NextStep {
  const byVerdict: NextStep['byVerdict'] = { READY: [], 'NOT READY': [], UNKNOWN: [] };
  for (const h of r.hosts) byVerdict[h.verdict].push(idOf(h) ?? h.name);
  // a token PUT from a container crosses one more hop (the bridge): its answer needs a hop limit of 2
  const containers = [...r.findings, ...r.clean].some((f) => f.container !== null);
  const notes: string[] = [];
  if (containers) notes.push('containers called IMDS on this host: their token requests need --http-put-response-hop-limit 2 (the default 1 drops the answer at the container bridge)');
  const commands: string[] = [];
  let blockedBy: string | null = null;
  if (r.verdict === 'NOT READY') {
    const names = r.findings.map((f) => (f.software.length > 120 ? `${f.software.slice(0, 119)}…` : f.software));
    blockedBy = `NOT READY: ${names.length} program(s) still call IMDSv1: ${someOf(names, 3)} (fix each as its finding says, then watch again)`;
  } else if (r.verdict === 'UNKNOWN') blockedBy = `UNKNOWN: ${r.why[0] ?? 'not enough observation'}`;
  const ready = r.hosts.filter((h) => h.verdict === 'READY');
  if (r.hosts.length === 1 && r.verdict === 'READY') {
    const h = r.hosts[0];
    commands.push(hostCommand(h, containers));
    if (!idOf(h)) notes.push('the instance id is not known here (not a Nitro instance, or the DMI asset tag could not be read): put it in place of <instance-id>');
    if (!regionOf(h.name)) notes.push('the region is not known from the host name: put it in place of <region>');
    commands.push(`aws ec2 describe-instances --instance-ids ${idOf(h) ?? '<instance-id>'} --region ${regionOf(h.name) ?? '<region>'} --query 'Reservations[].Instances[].MetadataOptions'`);
  } else if (r.hosts.length > 1 && ready.length) {
    // the READY hosts one by one, grouped by region; the account-level defaults only when every host is READY
    const byRegion = new Map<string, HostReadiness[]>();
    for (const h of ready) {
      const region = regionOf(h.name) ?? '<region>';
      byRegion.set(region, [...(byRegion.get(region) ?? []), h]);
    }
    for (const [region, hs] of byRegion) {
      const ids = hs.map(idOf).filter((x): x is string => !!x);
      // one id a line (a fleet's command must stay readable); past MAX_IDS, json has them all
      const shown = ids.slice(0, MAX_IDS);
      if (ids.length) commands.push([`while read -r id; do aws ec2 modify-instance-metadata-options --instance-id "$id" --http-tokens required --http-endpoint enabled${containers ? ' --http-put-response-hop-limit 2' : ''} --region ${region}; done <<'IDS'`, ...shown, 'IDS'].join('\n'));
      if (ids.length > shown.length) notes.push(`${ids.length - shown.length} more READY instance id(s) in ${region}: see --format json (nextStep.byVerdict.READY)`);
      if (ids.length < hs.length) notes.push(`${hs.length - ids.length} READY host(s) have no known instance id: ${someOf(hs.filter((h) => !idOf(h)).map((h) => h.name), 5)}`);
    }
    if (r.verdict === 'READY') {
      const regions = [...byRegion.keys()];
      for (const region of regions) commands.push(`aws ec2 modify-instance-metadata-defaults --http-tokens required${containers ? ' --http-put-response-hop-limit 2' : ''} --region ${region}`);
      notes.push('modify-instance-metadata-defaults sets the account default for instances launched later, per region');
      notes.push(`to make every launch require IMDSv2 (HttpTokensEnforced; hard to undo across an account): aws ec2 modify-instance-metadata-defaults --http-tokens-enforced enabled --region ${regions.length === 1 ? regions[0] : '<region>'}`);
    }
  }
  return { blockedBy, commands, notes, byVerdict };
}

/** the next step as text lines (the text report; Markdown wraps the commands in a code block) */
export function nextStepLines(n: NextStep, multi: boolean): string[] {
  const out: string[] = [];
  if (n.blockedBy) out.push(n.blockedBy);
  if (multi)
    for (const v of ['NOT READY', 'UNKNOWN', 'READY'] as const) {
      const ids = n.byVerdict[v];
      if (!ids.length) continue;
      out.push(`${v} (${ids.length}):`);
      for (let i = 0; i < Math.min(ids.length, MAX_LISTED); i += 8) out.push(`  ${ids.slice(i, Math.min(i + 8, MAX_LISTED)).map((x) => (x.length > 60 ? `${x.slice(0, 59)}…` : x)).join(' ')}`);
      if (ids.length > MAX_LISTED) out.push(`  and ${ids.length - MAX_LISTED} more (--format json: nextStep.byVerdict)`);
    }
  return out;
}
