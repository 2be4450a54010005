// Runs a workflow now over records (named, all, or those of outbox events): rules per record,
// steps in order, response mappings applied in one transaction with the step's journal row, and
// a run history a person can audit. One record's failure never stops the others.
import type { Step } from '../generated/workflow.js';
import type { WorkflowFile } from '../generated/workflow.js';
import { SkeinError } from '../errors.js';
import { compileRule, type EvalInput, type Predicate } from '../conditions/evaluate.js';
import type { HttpClient } from '../http/index.js';
import { getPreset, type Preset } from '../presets/registry.js';
import type { Fields, RecordEvent, StepRow, StepStatus, Store, StoredRecord, WriteOp } from '../store/types.js';
import { render } from '../template/render.js';
import type { LoadedProject } from '../workflow/project.js';
import type { ObjectDef } from '../workflow/objects.js';
import { recordContext, responseContext, type StepResult } from './context.js';
import { resolveCredential, type ResolvedCredential } from './credentials.js';
import { executeStep, shownOutputs, stepRequestDef, type StepExecution } from './step.js';
import { reconcileStep } from './reconcile.js';

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
  status: 'succeeded' | 'failed' | 'partial';
  considered: number;
  matched: number;
  succeeded: number;
  failed: number;
  steps: Record<string, StepTally>;
  failures: Array<{ key: string; step: string; error: string }>;
  /** Import runs only. */
  import?: { listed: number; created: number; updated: number; unchanged: number; vanished: number; rejected: number };
}

interface Candidate {
  key: string;
  record: StoredRecord | null;
  event?: RecordEvent;
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

/** Turns a record (and maybe its event) into rule input. */
export function evalInput(c: { record: StoredRecord | null; event?: RecordEvent }): EvalInput {
  const fields = c.record?.fields ?? c.event?.after ?? c.event?.before ?? {};
  return { record: fields, event: c.event ? { kind: c.event.kind, before: c.event.before, after: c.event.after } : undefined };
}

async function candidates(deps: EngineDeps, wf: WorkflowFile, target: RunTarget): Promise<Candidate[]> {
  if (target.events) {
    // Many events: one scan of the object beats a read per event.
    const all = target.events.length > 50 ? new Map((await deps.store.listRecords(wf.object)).map((r) => [r.key, r])) : undefined;
    const out: Candidate[] = [];
    for (const e of target.events) {
      const record = e.kind === 'deleted' ? null : all ? (all.get(e.key) ?? null) : await deps.store.getRecord(wf.object, e.key);
      out.push({ key: e.key, event: e, record });
    }
    return out;
  }
  if (target.keys) {
    const out: Candidate[] = [];
    for (const key of target.keys) out.push({ key, record: await deps.store.getRecord(wf.object, key) });
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
  const runId = await deps.store.createRun({ workflow: wf.name, trigger: target.trigger, trigger_data: target.triggerData ?? { keys: target.keys, events: target.events?.map((e) => e.id) } });
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
  let done = 0;
  const one = async (c: Candidate) => {
    try {
      await processRecord(deps, { wf, steps, presetsOf, creds, obj, predicate, whens, vars, runId, summary, idempotent }, c);
    } finally {
      done++;
      deps.onProgress?.(done, list.length);
    }
  };
  await pool(list, deps.concurrency ?? 16, one, deps.stopSignal ?? deps.signal);
  summary.status = summary.failed === 0 ? 'succeeded' : summary.succeeded === 0 ? 'failed' : 'partial';
  await deps.store.finishRun(runId, summary.status, { considered: summary.considered, matched: summary.matched, succeeded: summary.succeeded, failed: summary.failed, steps: summary.steps });
  return summary;
}

interface RunScope {
  wf: WorkflowFile;
  steps: Step[];
  presetsOf: Array<Preset | undefined>;
  creds: Map<string, ResolvedCredential>;
  obj: ObjectDef;
  predicate: Predicate;
  whens: Array<Predicate | undefined>;
  vars: Record<string, unknown>;
  runId: string;
  summary: RunSummary;
  /** Per step: may be sent again safely. */
  idempotent: boolean[];
}

async function processRecord(deps: EngineDeps, s: RunScope, c: Candidate): Promise<void> {
  const { store } = deps;
  const handled: WriteOp[] = c.event ? [{ op: 'markEventHandled', eventId: c.event.id, workflow: s.wf.name }] : [];
  if (!c.record && c.event?.kind !== 'deleted') {
    if (!c.event) {
      s.summary.failed++;
      s.summary.failures.push({ key: c.key, step: '-', error: `no ${s.wf.object} record with key "${c.key}"` });
    }
    if (handled.length) await store.commit(handled);
    return;
  }
  if (!s.predicate(evalInput(c))) {
    if (handled.length) await store.commit(handled);
    return;
  }
  s.summary.matched++;
  // Journal rows wait in `pending` and go out with the next commit, which always comes before the
  // next call leaves (or the record's run ends): every transition is committed before the action
  // that follows it, with two commits per single-step record.
  let pending: WriteOp[] = [{ op: 'startRunRecord', runId: s.runId, object: s.wf.object, key: c.key }];
  let done: DoneStep | undefined;
  let fields: Fields = { ...(c.record?.fields ?? c.event?.before ?? {}) };
  const results: Record<string, StepResult> = {};
  let failedError: string | undefined;
  let continuedError: string | undefined;
  /**
   * Commits the previous step's mapping + final row, plus `extra()` (evaluated after the step's
   * outcome is counted, so the record's end can ride on the same commit); if the mapping is
   * refused, commits a failed row instead.
   */
  const settle = async (extra: () => WriteOp[] = () => []) => {
    if (!done) {
      const ops = [...pending, ...extra()];
      if (ops.length) await store.commit(ops);
      pending = [];
      return;
    }
    const d = done;
    done = undefined;
    const before = { failedError, continuedError };
    d.count(d.status, d.error, +1);
    const tell = (status: StepStatus, error: string | undefined) =>
      deps.onStep?.({ workflow: s.wf.name, run: s.runId, record: c.key, step: d.row.step_id, status, durationMs: d.row.duration_ms ?? 0, attempts: d.row.attempts ?? 0, error });
    const row: WriteOp = { op: 'recordStep', runId: s.runId, recordKey: c.key, step: { ...d.row, status: d.status, error: d.error ?? null } };
    try {
      const [ev] = await store.commit([...pending, ...(d.write ? [d.write] : []), row, ...extra()]);
      if (d.write && (ev as RecordEvent | null)?.after) fields = (ev as RecordEvent).after!;
      tell(d.status, d.error);
    } catch (err) {
      // A mapped value the field type refuses: the vendor call happened, the mapping did not.
      d.count(d.status, d.error, -1);
      ({ failedError, continuedError } = before);
      const error = `response mapping not applied: ${(err as Error).message}`;
      const status: StepStatus = d.status === 'succeeded' ? 'failed' : d.status;
      d.count(status, error, +1);
      await store.commit([...pending, { op: 'recordStep', runId: s.runId, recordKey: c.key, step: { ...d.row, status, error } }, ...extra()]);
      tell(status, error);
    }
    pending = [];
  };
  /** Counts a step's outcome in the summary and remembers the record's first failure. */
  const counter = (step: Step, tally: StepTally): DoneStep['count'] => (status, error, delta) => {
    if (status === 'succeeded') tally.succeeded += delta;
    else if (status === 'unknown') tally.unknown += delta;
    else tally.failed += delta;
    if (delta < 0) return;
    if (status !== 'succeeded' && ((step.on_error ?? 'stop') === 'stop' || status === 'unknown')) failedError ??= `${step.id}: ${error}`;
    else if (status !== 'succeeded') continuedError ??= `${step.id}: ${error}`;
  };
  for (const [i, step] of s.steps.entries()) {
    await settle();
    if (failedError) break;
    const tally = s.summary.steps[step.id]!;
    const when = s.whens[i];
    if (when && !when({ record: fields, event: evalInput(c).event })) {
      tally.skipped++;
      pending.push({ op: 'recordStep', runId: s.runId, recordKey: c.key, step: { step_id: step.id, status: 'skipped', attempts: 0 } });
      continue;
    }
    const context = recordContext(fields, s.obj.fields, s.vars, results);
    const startedAt = new Date().toISOString();
    const cred = step.credentials ? s.creds.get(step.credentials) : undefined;
    const env = { http: deps.http, vars: s.vars, credential: cred, signal: deps.signal };
    if (!s.idempotent[i]) {
      // An earlier attempt of this call for this record may have taken effect (crash, dropped
      // connection): find out before sending again, never re-send blindly.
      const doubts = await store.stepsInDoubt(s.wf.name, c.key, step.id);
      if (doubts.length) {
        const r = await reconcileStep(step, s.presetsOf[i], context, env);
        const status: StepStatus = r.kind === 'found' ? 'succeeded' : r.kind === 'absent' ? 'failed' : 'unknown';
        for (const d of doubts) pending.push({ op: 'recordStep', runId: d.run_id, recordKey: c.key, step: { step_id: step.id, status, error: r.note } });
        if (r.kind !== 'absent') {
          results[step.id] = { outputs: r.kind === 'found' ? r.outputs : {} };
          let write: WriteOp | undefined;
          if (r.kind === 'found' && step.response && c.record) {
            // The mapping sees the outputs the lookup could recover (e.g. the login, never a password).
            const rctx = responseContext(context, undefined, {}, undefined);
            rctx.outputs = r.outputs;
            const patch = Object.fromEntries(Object.entries(step.response).map(([f, tpl]) => [f, render(tpl, rctx)]).filter(([, v]) => v !== ''));
            if (Object.keys(patch).length) write = { op: 'setFields', object: s.wf.object, key: c.key, patch, opts: { source: `workflow:${s.wf.name}` } };
          }
          done = {
            status,
            error: r.kind === 'found' ? undefined : r.note,
            write,
            row: { step_id: step.id, outputs: r.kind === 'found' ? r.outputs : {}, qualys_message: r.note, attempts: 0, duration_ms: 0, started_at: startedAt, finished_at: new Date().toISOString() },
            count: counter(step, tally),
          };
          continue;
        }
      }
    }
    // Journal first: the step is committed as running before the request leaves.
    await store.commit([...pending, { op: 'recordStep', runId: s.runId, recordKey: c.key, step: { step_id: step.id, status: 'running', started_at: startedAt, attempts: 0 } }]);
    pending = [];
    const exec = await executeStep(step, s.presetsOf[i], context, env);
    results[step.id] = { outputs: publicOutputs(exec) };
    const mapping = exec.outcome === 'succeeded' ? step.response : step.error_response;
    let mappingError: string | undefined;
    let patch: Record<string, string> = {};
    if (mapping) {
      try {
        const rctx = responseContext(context, exec.status, exec.headers, exec.response);
        for (const [field, tpl] of Object.entries(mapping)) patch[field] = render(tpl, rctx);
      } catch (err) {
        mappingError = `response mapping failed: ${(err as Error).message}`;
        patch = {};
      }
    }
    done = {
      status: mappingError ? 'failed' : exec.outcome,
      error: mappingError ?? exec.error,
      write: Object.keys(patch).length && c.record ? { op: 'setFields', object: s.wf.object, key: c.key, patch, opts: { source: `workflow:${s.wf.name}` } } : undefined,
      row: {
        step_id: step.id,
        request: exec.request,
        response: exec.response?.text ?? null,
        http_status: exec.status ?? null,
        qualys_code: exec.response?.code ?? null,
        qualys_message: exec.response?.message ?? null,
        outputs: shownOutputs(exec.response),
        attempts: exec.attempts,
        duration_ms: exec.durationMs,
        started_at: startedAt,
        finished_at: new Date().toISOString(),
      },
      count: counter(step, tally),
    };
  }
  // The record ends in the same commit as its last step's outcome.
  await settle(() => {
    const e = failedError ?? continuedError;
    return [{ op: 'finishRunRecord', runId: s.runId, key: c.key, status: e ? 'failed' : 'succeeded', error: e ?? null }, ...handled];
  });
  const err = failedError ?? continuedError;
  if (err) {
    s.summary.failed++;
    s.summary.failures.push({ key: c.key, step: err.split(':')[0]!, error: err.slice(err.indexOf(':') + 2) });
  } else s.summary.succeeded++;
}

interface DoneStep {
  status: StepStatus;
  error?: string;
  write?: WriteOp;
  row: Omit<StepRow, 'status' | 'error'>;
  /** Counts (delta +1) or uncounts (-1) the step's outcome in the run summary. */
  count(status: StepStatus, error: string | undefined, delta: 1 | -1): void;
}

/** Outputs later steps may use; sensitive ones included (validate limits where they can go). */
function publicOutputs(exec: StepExecution): Record<string, string> {
  return { ...(exec.response?.outputs ?? {}) };
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
