import type { Selection, SelectionKind } from './workload.js';

/**
 * The daemon's `enforce` setting (docs/design.md#enforce): the workloads `imdswatch daemon`
 * applies HttpTokens=required to, each on its own or as a dry run. In the config file a list
 * of objects, `[{"unit": "app.service"}, {"container": "web", "dryRun": true}]`; in
 * IMDSWATCH_ENFORCE and `--enforce` the same as words, `unit:app.service dry-run:container:web`
 * (comma- or space-separated); `[]`, "" or "off": none.
 */
export interface EnforcedWorkload extends Selection {
  dryRun: boolean;
}

const KINDS: readonly SelectionKind[] = ['unit', 'container', 'cgroup'];
const DRY = 'dry-run:';

function fromWord(w: string): EnforcedWorkload | undefined {
  const dryRun = w.startsWith(DRY);
  const rest = dryRun ? w.slice(DRY.length) : w;
  const i = rest.indexOf(':');
  const kind = rest.slice(0, i) as SelectionKind;
  const name = rest.slice(i + 1);
  return i > 0 && KINDS.includes(kind) && name !== '' ? { kind, name, dryRun } : undefined;
}

function fromObject(o: Record<string, unknown>): EnforcedWorkload | undefined {
  const keys = Object.keys(o).filter((k) => !k.startsWith('//'));
  const kinds = keys.filter((k): k is SelectionKind => KINDS.includes(k as SelectionKind));
  if (kinds.length !== 1 || keys.some((k) => k !== kinds[0] && k !== 'dryRun')) return undefined;
  const name = o[kinds[0]!];
  const dryRun = o.dryRun ?? false;
  if (typeof name !== 'string' || name === '' || typeof dryRun !== 'boolean') return undefined;
  return { kind: kinds[0]!, name, dryRun };
}

/** the setting's parser (src/cli/settings.ts): the list, or undefined when any item is not a workload */
export function parseEnforceSetting(v: unknown): EnforcedWorkload[] | undefined {
  if (v === null || v === false || v === 'off' || v === '') return [];
  const items = (Array.isArray(v) ? v : [v]).flatMap((x) => (typeof x === 'string' ? x.split(/[\s,]+/).filter(Boolean) : [x]));
  const out: EnforcedWorkload[] = [];
  for (const x of items) {
    const w = typeof x === 'string' ? fromWord(x) : x && typeof x === 'object' && !Array.isArray(x) ? fromObject(x as Record<string, unknown>) : undefined;
    if (!w) return undefined;
    if (!out.some((o) => o.kind === w.kind && o.name === w.name)) out.push(w);
  }
  return out;
}

export const ENFORCE_SETTING_TAKES =
  'workloads: [{"unit": NAME}, {"container": NAME, "dryRun": true}, {"cgroup": PATH}] in the config file, or words unit:NAME, container:NAME, cgroup:PATH, each optionally prefixed dry-run:, or "off"';

/** "unit:app.service (dry run)" for the --help and start-up lines */
export const describeEnforced = (w: EnforcedWorkload): string => `${w.kind}:${w.name}${w.dryRun ? ' (dry run)' : ''}`;
