// Impact of a plan over records: for each workflow that changed, how many records its rules
// match at the base and at head, which keys start or stop matching, and sample requests rendered
// by the engine's own planner (secrets redacted). Reads the store only; sends nothing.
import { compileRule } from '../conditions/evaluate.js';
import { planWorkflow, type PlannedRecord } from '../engine/plan.js';
import { evalInput, objectOf } from '../engine/run.js';
import type { WorkflowFile } from '../generated/workflow.js';
import type { Store, StoredRecord } from '../store/types.js';
import type { LoadedProject } from '../workflow/project.js';
import type { ProjectDiff, WorkflowDiff } from './diff.js';

export interface MatchCount {
  matched: number;
  considered: number;
}

export interface WorkflowImpact {
  name: string;
  /** Null when the side does not exist (added/removed) or cannot be evaluated (import workflows). */
  before: MatchCount | null;
  after: MatchCount | null;
  /** Counts cover every record; the key lists stop at `limit`. */
  newlyMatchingCount: number;
  noLongerMatchingCount: number;
  newlyMatching: string[];
  noLongerMatching: string[];
  /** Requests head would send for up to `samples` records (newly matching first). */
  samples: PlannedRecord[];
  /** The rules could not be evaluated on one side (e.g. a base that does not load). */
  error?: string;
}

export interface ImpactOptions {
  /** Keys listed per direction; default 10. */
  limit?: number;
  /** Records with rendered sample requests; default 3. */
  samples?: number;
  now?: Date;
}

async function matchingKeys(project: LoadedProject, wf: WorkflowFile, records: (object: string) => Promise<StoredRecord[]>, now: Date): Promise<{ keys: Set<string>; considered: number }> {
  const obj = objectOf({ project }, wf);
  const predicate = compileRule(wf.rules, { fields: obj.fields, now });
  const all = await records(wf.object);
  const keys = new Set<string>();
  for (const r of all) if (predicate(evalInput({ record: r }))) keys.add(r.key);
  return { keys, considered: all.length };
}

/** Impact of every non-unchanged workflow of `diff`, in the diff's order. */
export async function computeImpact(diff: ProjectDiff, base: LoadedProject | undefined, head: LoadedProject, store: Store, opts: ImpactOptions = {}): Promise<WorkflowImpact[]> {
  const limit = opts.limit ?? 10;
  const sampleCount = opts.samples ?? 3;
  const now = opts.now ?? new Date();
  const cache = new Map<string, Promise<StoredRecord[]>>();
  const records = (object: string) => {
    let p = cache.get(object);
    if (!p) cache.set(object, (p = store.listRecords(object)));
    return p;
  };
  const defOf = (p: LoadedProject | undefined, name: string | undefined) => (name === undefined ? undefined : p?.workflows.find((w) => w.def?.name === name)?.def);
  const out: WorkflowImpact[] = [];
  for (const d of diff.workflows) {
    if (d.status === 'unchanged') continue;
    out.push(await impactOf(d));
  }
  return out;

  async function impactOf(d: WorkflowDiff): Promise<WorkflowImpact> {
    const before = d.status === 'added' ? undefined : defOf(base, d.previousName ?? d.name);
    const after = d.status === 'removed' ? undefined : defOf(head, d.name);
    const impact: WorkflowImpact = { name: d.name, before: null, after: null, newlyMatchingCount: 0, noLongerMatchingCount: 0, newlyMatching: [], noLongerMatching: [], samples: [] };
    const errors: string[] = [];
    const side = async (p: LoadedProject | undefined, wf: WorkflowFile | undefined, label: string) => {
      if (!p || !wf || wf.import) return undefined;
      try {
        return await matchingKeys(p, wf, records, now);
      } catch (err) {
        errors.push(`${label}: ${(err as Error).message}`);
        return undefined;
      }
    };
    const b = await side(base, before, 'base');
    const a = await side(head, after, 'head');
    if (b) impact.before = { matched: b.keys.size, considered: b.considered };
    if (a) impact.after = { matched: a.keys.size, considered: a.considered };
    const newly = [...(a?.keys ?? [])].filter((k) => !b?.keys.has(k)).sort();
    const gone = [...(b?.keys ?? [])].filter((k) => !a?.keys.has(k)).sort();
    impact.newlyMatchingCount = newly.length;
    impact.noLongerMatchingCount = gone.length;
    impact.newlyMatching = newly.slice(0, limit);
    impact.noLongerMatching = gone.slice(0, limit);
    if (after && sampleCount > 0) {
      try {
        if (after.import) {
          impact.samples = (await planWorkflow(head, store, after, { keys: [], now })).records;
        } else if (a) {
          // Newly matching records first, then records that keep matching (their requests may change).
          const still = [...a.keys].filter((k) => b?.keys.has(k)).sort();
          const keys = [...newly, ...still].slice(0, sampleCount);
          if (keys.length) impact.samples = (await planWorkflow(head, store, after, { keys, now })).records;
        }
      } catch (err) {
        errors.push(`samples: ${(err as Error).message}`);
      }
    }
    if (errors.length) impact.error = errors.join('; ');
    return impact;
  }
}
