// Runs a workflow now over records (named, all, or those of outbox events): rules per record,
// steps in order, response mappings applied in one transaction with the step's journal row, and
// a run history a person can audit. One record's failure never stops the others.
import type { WorkflowFile } from '../generated/workflow.js';
import { SkeinError } from '../errors.js';
import { compileRule } from '../conditions/evaluate.js';
import type { HttpClient } from '../http/index.js';
import { getPreset } from '../presets/registry.js';
import type { RecordEvent, StepStatus, Store, StoredRecord, WriteOp } from '../store/types.js';
import type { LoadedProject } from '../workflow/project.js';
import type { ObjectDef } from '../workflow/objects.js';
import { resolveCredential, type ResolvedCredential } from './credentials.js';
import { evalInput, processRecord, type Candidate } from './record-run.js';

/** Rule input of a record (and maybe its event); also used by plan, gitops and skein test. */
export { evalInput };
import { stepRequestDef } from './step.js';

export interface EngineDeps {
  project: LoadedProject;
  store: Store;
  http: HttpClient;
  env: NodeJS.ProcessEnv;
  /** Records processed in parallel (default 16). */
  concurrency?: number;
  now?: () => Date;
  /** Aborts in-flight calls at once (a second shutdown signal). */
  signal?: AbortSignal;
  /** Stops taking new records; steps in flight finish (graceful shutdown). */
  stopSignal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Told about every settled step (the daemon feeds metrics and per-step logs from it). */
  onStep?: (e: StepEvent) => void;
  /** Told right before a step's request is built and sent (skein test picks its canned answer by it). */
  onStepStart?: (e: { workflow: string; run: string; record: string; step: string }) => void;
  /**
   * The registered runner doing the work: its runs are its own while its heartbeat lasts, and
   * event runs lease their events through it. Without one, runPending registers a runner for its
   * duration and runs are left unowned (another runner may adopt them).
   */
  runner?: { readonly id: string; readonly ttlMs: number };
}

export interface StepEvent {
  workflow: string;
  run: string;
  record: string;
  step: string;
  status: StepStatus;
  durationMs: number;
  attempts: number;
  error?: string;
}

export interface RunTarget {
  /** Record keys; undefined = every record of the object. */
  keys?: string[];
  /** Outbox events to handle (event-triggered runs); each is marked handled for the workflow. */
  events?: RecordEvent[];
  trigger: 'manual' | 'schedule' | 'event' | 'retry';
  triggerData?: unknown;
}

export interface StepTally {
  succeeded: number;
  failed: number;
  skipped: number;
  unknown: number;
}

export interface RunSummary {
  runId: string;
  workflow: string;
  /** cancelled: stopped (a signal, a daemon shutdown) before every record was started. */
  status: 'succeeded' | 'failed' | 'partial' | 'cancelled';
  considered: number;
  matched: number;
  succeeded: number;
  failed: number;
  steps: Record<string, StepTally>;
  failures: Array<{ key: string; step: string; error: string }>;
  /** Import runs only. */
  import?: { listed: number; created: number; updated: number; unchanged: number; vanished: number; rejected: number };
}


/** Credentials of every step, resolved before any request so a missing secret fails fast. */
export function resolveStepCredentials(deps: EngineDeps, names: Array<string | undefined>): Map<string, ResolvedCredential> {
  const out = new Map<string, ResolvedCredential>();
  const baseDir = deps.project.configPath ? deps.project.configPath.replace(/[^/\\]+$/, '') : deps.project.dir;
  for (const n of names) if (n && !out.has(n)) out.set(n, resolveCredential(deps.project.config, n, deps.env, baseDir));
  return out;
}

export function objectOf(deps: Pick<EngineDeps, 'project'>, wf: WorkflowFile): ObjectDef {
  const obj = deps.project.scope.objects.get(wf.object);
  if (!obj) throw new SkeinError('unknown-object', `workflow ${wf.name}: unknown object "${wf.object}"`);
  return obj;
}

export function varsOf(deps: Pick<EngineDeps, 'project'>): Record<string, unknown> {
  return { ...(deps.project.config.variables ?? {}) };
}


async function candidates(deps: EngineDeps, wf: WorkflowFile, target: RunTarget): Promise<Candidate[]> {
  if (target.events) {
    // One query for the records of all the events (a scan of the object per batch of events
    // cost a full read of every record each time).
    const records = await deps.store.getRecords(wf.object, target.events.filter((e) => e.kind !== 'deleted').map((e) => e.key));
    return target.events.map((e) => ({ key: e.key, event: e, record: e.kind === 'deleted' ? null : (records.get(e.key) ?? null) }));
  }
  if (target.keys) {
    const out: Candidate[] = [];
    // A key named twice is one record, acted on once (a create must never go out twice).
    for (const key of new Set(target.keys)) out.push({ key, record: await deps.store.getRecord(wf.object, key) });
    return out;
  }
  return (await deps.store.listRecords(wf.object)).map((r) => ({ key: r.key, record: r }));
}

/** Runs a step-based workflow. Import workflows go through runImport. */
export async function runWorkflow(deps: EngineDeps, wf: WorkflowFile, target: RunTarget): Promise<RunSummary> {
  if (wf.import) {
    const { runImport } = await import('./import.js');
    return runImport(deps, wf, target);
  }
  const steps = wf.steps ?? [];
  const presetsOf = steps.map((s) => (s.preset ? getPreset(s.preset) : undefined));
  const idempotent = steps.map((s, i) => {
    const def = stepRequestDef(s, presetsOf[i]);
    return def.idempotent ?? def.method === 'GET';
  });
  const creds = resolveStepCredentials(deps, steps.map((s) => s.credentials));
  const obj = objectOf(deps, wf);
  const predicate = compileRule(wf.rules, { fields: obj.fields, now: deps.now?.() });
  const whens = steps.map((s) => (s.when === undefined ? undefined : compileRule(s.when, { fields: obj.fields, now: deps.now?.() })));
  const all = await candidates(deps, wf, target);
  // Event runs that match nothing leave no run behind: the events are simply marked handled.
  let list = all;
  if (target.events) {
    list = [];
    const skipped: WriteOp[] = [];
    for (const c of all) {
      if ((c.record || c.event?.kind === 'deleted') && predicate(evalInput(c))) list.push(c);
      else skipped.push({ op: 'markEventHandled', eventId: c.event!.id, workflow: wf.name });
    }
    if (skipped.length) await deps.store.commit(skipped);
    if (!list.length) {
      return { runId: '', workflow: wf.name, status: 'succeeded', considered: all.length, matched: 0, succeeded: 0, failed: 0, steps: {}, failures: [] };
    }
  }
  const runId = await deps.store.createRun({
    workflow: wf.name,
    trigger: target.trigger,
    trigger_data: target.triggerData ?? { keys: target.keys, events: target.events?.map((e) => e.id) },
    runner: deps.runner?.id,
  });
  const summary: RunSummary = {
    runId,
    workflow: wf.name,
    status: 'succeeded',
    considered: all.length,
    matched: 0,
    succeeded: 0,
    failed: 0,
    steps: Object.fromEntries(steps.map((s) => [s.id, { succeeded: 0, failed: 0, skipped: 0, unknown: 0 }])),
    failures: [],
  };
  const vars = varsOf(deps);
  const ending = new Set<Promise<void>>();
  let done = 0;
  const one = async (c: Candidate) => {
    try {
      await processRecord(deps, { wf, steps, presetsOf, creds, obj, predicate, whens, vars, runId, summary, idempotent, ending }, c);
    } finally {
      done++;
      deps.onProgress?.(done, list.length);
    }
  };
  await pool(list, deps.concurrency ?? 16, one, deps.stopSignal ?? deps.signal);
  // Records' last commits (lazy, see processRecord) land before the run counts as finished; no
  // need to wait for company any more. A flush shares their batch, so it fails when they do:
  // their own promises carry that (each record settles its failure), not the flush.
  if (ending.size) await deps.store.flush().catch(() => undefined);
  while (ending.size) await Promise.all(ending);
  summary.status = summary.failed === 0 ? 'succeeded' : summary.succeeded === 0 ? 'failed' : 'partial';
  // Stopped with records not started: the run did not do what it was asked, whatever the rest did.
  const notStarted = list.length - done;
  if (notStarted > 0 && (deps.stopSignal?.aborted || deps.signal?.aborted)) summary.status = 'cancelled';
  await deps.store.finishRun(runId, summary.status, {
    considered: summary.considered,
    matched: summary.matched,
    succeeded: summary.succeeded,
    failed: summary.failed,
    steps: summary.steps,
    ...(summary.status === 'cancelled' ? { interrupted: true, note: `stopped before ${notStarted} of ${list.length} record(s) to consider were started; run it again for them` } : {}),
  });
  return summary;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
