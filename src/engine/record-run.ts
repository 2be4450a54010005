// One record's run: rules, then its steps in order, each journaled as running before its call,
// its outcome and response mapping committed together, non-idempotent calls in doubt reconciled
// rather than re-sent. Split from run.ts, which orchestrates the records of a run.
import type { Step, WorkflowFile } from '../generated/workflow.js';
import type { EvalInput, Predicate } from '../conditions/evaluate.js';
import type { Preset } from '../presets/registry.js';
import type { Fields, RecordEvent, StepInDoubt, StepRow, StepStatus, StoredRecord, WriteOp } from '../store/types.js';
import { render } from '../template/render.js';
import type { ObjectDef } from '../workflow/objects.js';
import { addSensitiveValues, recordContext, responseContext, type StepResult } from './context.js';
import type { ResolvedCredential } from './credentials.js';
import { reconcileStep } from './reconcile.js';
import { renderParams } from './request.js';
import { DEFAULT_LEASE_TTL_MS, deadLocalRunners } from './presence.js';
import { executeStep, shownOutputs, type StepExecution } from './step.js';
import type { EngineDeps, RunSummary, StepTally } from './run.js';
import { isoNow } from '../clock.js';
import { SkeinError } from '../errors.js';

export interface Candidate {
  key: string;
  record: StoredRecord | null;
  event?: RecordEvent;
}

/** Turns a record (and maybe its event) into rule input. */
export function evalInput(c: { record: StoredRecord | null; event?: RecordEvent }): EvalInput {
  const fields = c.record?.fields ?? c.event?.after ?? c.event?.before ?? {};
  return { record: fields, event: c.event ? { kind: c.event.kind, before: c.event.before, after: c.event.after } : undefined };
}

export interface RunScope {
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
  /** Records' last commits still in flight (see the end of processRecord). */
  ending: Set<Promise<void>>;
}

export async function processRecord(deps: EngineDeps, s: RunScope, c: Candidate): Promise<void> {
  const { store } = deps;
  const handled: WriteOp[] = c.event ? [{ op: 'markEventHandled', eventId: c.event.id, workflow: s.wf.name }] : [];
  if (!c.record && c.event?.kind !== 'deleted') {
    if (!c.event) {
      // A key asked for by name that does not exist: a failed record of the run, in its history
      // too (runs show lists it, runs retry --failed-only tries it again).
      const error = `no ${s.wf.object} record with key "${c.key}"`;
      s.summary.failed++;
      s.summary.failures.push({ key: c.key, step: '-', error });
      await store.commit([
        { op: 'startRunRecord', runId: s.runId, object: s.wf.object, key: c.key, startedAt: isoNow() },
        { op: 'finishRunRecord', runId: s.runId, key: c.key, status: 'failed', error },
      ]);
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
  // that follows it: one commit for a single-step record whose call is idempotent, two when the
  // call must be journaled first.
  // The record's start is stamped now: its row may be committed only with its outcome.
  let pending: WriteOp[] = [{ op: 'startRunRecord', runId: s.runId, object: s.wf.object, key: c.key, startedAt: isoNow() }];
  let done: DoneStep | undefined;
  let fields: Fields = { ...(c.record?.fields ?? c.event?.before ?? {}) };
  const results: Record<string, StepResult> = {};
  /** Secret output values seen so far in this record's run (passwords Qualys returned). */
  const secrets: string[] = [];
  let failedError: string | undefined;
  let continuedError: string | undefined;
  let interrupted = false;
  /**
   * Commits the previous step's mapping + final row, plus `extra()` (evaluated after the step's
   * outcome is counted, so the record's end can ride on the same commit); if the mapping is
   * refused, commits a failed row instead.
   */
  const settle = async (extra?: () => WriteOp[], lazy = false) => {
    if (!done) {
      // Nothing settled since the last commit: rows still pending (the record's start, skipped
      // steps) ride on the next commit, which comes before any call leaves.
      if (!extra) return;
      const ops = [...pending, ...extra()];
      if (ops.length) await store.commit(ops, { lazy });
      pending = [];
      return;
    }
    const d = done;
    done = undefined;
    const before = { failedError, continuedError };
    d.count(d.status, d.error, +1, d.code);
    const tell = (status: StepStatus, error: string | undefined) =>
      deps.onStep?.({ workflow: s.wf.name, run: s.runId, record: c.key, step: d.row.step_id, status, durationMs: d.row.duration_ms ?? 0, attempts: d.row.attempts ?? 0, error });
    const row: WriteOp = { op: 'recordStep', runId: s.runId, recordKey: c.key, step: { status: d.status, error: d.error ?? null, error_code: d.error ? (d.code ?? null) : null, ...d.row } };
    try {
      // The mapping's event sits after the rows still pending (the record's start, skipped steps).
      const out = await store.commit([...pending, ...(d.write ? [d.write] : []), row, ...(extra?.() ?? [])], { lazy });
      const ev = d.write ? (out[pending.length] as RecordEvent | null) : null;
      if (ev?.after) fields = ev.after;
      tell(d.status, d.error);
    } catch (err) {
      d.count(d.status, d.error, -1);
      ({ failedError, continuedError } = before);
      const message = (err as Error).message;
      let error: string;
      let status: StepStatus;
      let code: string;
      if (!(err instanceof SkeinError && MAPPING_REFUSALS.has(err.code)) && !d.repeatable) {
        // Not a refused value: the store could not save the outcome (busy, full, gone) of a call
        // not safe to repeat. "failed" would let the next run send it again; unknown is
        // reconciled with the vendor first (and if even this is not saved, the journaled
        // running row is).
        status = 'unknown';
        error = `the outcome (${d.status}) could not be saved: ${message}; the next run checks the vendor before sending again`;
        code = (err as { code?: string }).code ?? 'store-error';
      } else {
        // A mapped value the field type refuses: the vendor call happened, the mapping did not.
        // A failed step keeps its own reason: the error_response mapping is only a consequence.
        error = d.status === 'succeeded' || !d.error
          ? `response mapping not applied: ${message}`
          : `${d.error}; error_response mapping not applied: ${message}`;
        status = d.status === 'succeeded' ? mappingLost(d.repeatable) : d.status;
        if (status === 'unknown') error += `; ${TOOK_EFFECT}`;
        // A failed step keeps its own code, as it keeps its own reason.
        code = d.status === 'succeeded' || !d.code ? 'response-mapping' : d.code;
      }
      d.count(status, error, +1, code);
      await store.commit([...pending, { op: 'recordStep', runId: s.runId, recordKey: c.key, step: { status, error, error_code: code, ...d.row } }, ...(extra?.() ?? [])], { lazy });
      tell(status, error);
    }
    pending = [];
  };
  /** Counts a step's outcome in the summary and remembers the record's first failure. */
  const counter = (step: Step, tally: StepTally): DoneStep['count'] => (status, error, delta, code) => {
    if (status === 'succeeded') tally.succeeded += delta;
    else if (status === 'unknown') tally.unknown += delta;
    else tally.failed += delta;
    if (delta < 0) return;
    const why = `${step.id}: ${error}${code ? ` [${code}]` : ''}`;
    if (status !== 'succeeded' && ((step.on_error ?? 'stop') === 'stop' || status === 'unknown')) failedError ??= why;
    else if (status !== 'succeeded') continuedError ??= why;
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
    // validate refuses secret outputs in a request; should one get there anyway, history and
    // errors show it masked like a sensitive field.
    addSensitiveValues(context, secrets);
    const startedAt = isoNow();
    const cred = step.credentials ? s.creds.get(step.credentials) : undefined;
    const env = { http: deps.http, vars: s.vars, credential: cred, signal: deps.signal };
    /** Ends the step unsent because another live run is making this call for this record. */
    const leaveToOther = (error: string) => {
      done = { repeatable: false, status: 'failed', error, code: 'in-flight-elsewhere', row: { step_id: step.id, attempts: 0, duration_ms: 0, started_at: startedAt, finished_at: isoNow() }, count: counter(step, tally) };
    };
    if (!s.idempotent[i]) {
      // An earlier attempt of this call for this record may have taken effect (crash, dropped
      // connection): find out before sending again, never re-send blindly. An attempt another
      // live run is making right now is neither reconciled nor repeated: it is theirs.
      const doubts = await store.stepsInDoubt(s.wf.name, c.key, step.id);
      const busy = await inFlightElsewhere(deps, s.runId, doubts);
      if (busy) {
        leaveToOther(busy);
        continue;
      }
      if (doubts.length) {
        const r = await reconcileStep(step, s.presetsOf[i], context, env, doubts);
        const status: StepStatus = r.kind === 'found' ? 'succeeded' : r.kind === 'absent' ? 'failed' : 'unknown';
        const code = r.kind === 'found' ? null : `reconcile-${r.kind}`;
        // The earlier run keeps why it was in doubt, followed by how it was last settled (each
        // run that meets a call still in doubt replaces that part, so it does not grow).
        const settled = (why: string | null | undefined) => (why ? `${why.split(THEN)[0]}${THEN}${r.note}` : r.note);
        for (const d of doubts) pending.push({ op: 'recordStep', runId: d.run_id, recordKey: c.key, step: { step_id: step.id, status, error: settled(d.error), error_code: code } });
        if (r.kind !== 'absent') {
          results[step.id] = { outputs: r.kind === 'found' ? r.outputs : {} };
          let write: WriteOp | undefined;
          if (r.kind === 'found' && step.response && c.record) {
            // The mapping sees the outputs the lookup could recover (e.g. the login, never a password).
            const rctx = responseContext(context, undefined, {}, undefined);
            rctx.outputs = r.outputs;
            // A value the lookup could not recover (a password, the answer) renders "" and must not
            // clear the field; a literal "" or a template over the record (qualys_error: "") does.
            const patch = Object.fromEntries(Object.entries(step.response).map(([f, tpl]) => [f, render(tpl, rctx), tpl] as const).filter(([, v, tpl]) => v !== '' || !READS_ANSWER.test(tpl)).map(([f, v]) => [f, v]));
            if (Object.keys(patch).length) write = { op: 'setFields', object: s.wf.object, key: c.key, patch, opts: { source: `workflow:${s.wf.name}` } };
          }
          done = {
            repeatable: false,
            status,
            error: r.kind === 'found' ? undefined : r.note,
            code: code ?? undefined,
            write,
            row: { step_id: step.id, outputs: r.kind === 'found' ? r.outputs : {}, qualys_message: r.note, attempts: 0, duration_ms: 0, started_at: startedAt, finished_at: isoNow() },
            count: counter(step, tally),
          };
          continue;
        }
      }
    }
    // Journal first: a call that is not safe to repeat is journaled as running, and that row is
    // committed before the request leaves, so a crash mid-call is reconciled, never re-sent. An
    // idempotent call needs no such row (sending it again after a crash is harmless): its step
    // is written once, with its outcome, and the record's start rides on that commit.
    if (!s.idempotent[i]) {
      const request = journaledLookup(step, s.presetsOf[i], context);
      await store.commit([...pending, { op: 'recordStep', runId: s.runId, recordKey: c.key, step: { step_id: step.id, status: 'running', started_at: startedAt, attempts: 0, ...(request ? { request } : {}) } }]);
      pending = [];
      // Two runs that both found no attempt journaled before them: the first journal wins.
      const journal = await store.stepsInDoubt(s.wf.name, c.key, step.id);
      const mine = journal.findIndex((d) => d.run_id === s.runId && d.status === 'running');
      const first = await inFlightElsewhere(deps, s.runId, mine < 0 ? [] : journal.slice(0, mine));
      if (first) {
        leaveToOther(first);
        continue;
      }
    }
    deps.onStepStart?.({ workflow: s.wf.name, run: s.runId, record: c.key, step: step.id });
    const exec = await executeStep(step, s.presetsOf[i], context, env);
    // Cut off by a stop (the daemon's shutdown deadline destroys calls in flight): the record's
    // event stays unhandled, so the next start runs it again (reconciling what is in doubt).
    if (exec.outcome !== 'succeeded' && exec.status === undefined && (deps.stopSignal?.aborted || deps.signal?.aborted)) interrupted = true;
    // A failed step's outputs (its error message, say) are not results for later steps.
    results[step.id] = { outputs: exec.outcome === 'succeeded' ? publicOutputs(exec) : {} };
    for (const name of exec.response?.sensitiveOutputs ?? []) {
      const v = exec.response!.outputs[name];
      if (v) secrets.push(v);
    }
    const mapping = exec.outcome === 'succeeded' ? step.response : step.error_response;
    let mappingError: string | undefined;
    let patch: Record<string, string> = {};
    if (mapping) {
      try {
        const why = exec.outcome === 'succeeded' ? undefined : { message: exec.error ?? '', code: exec.errorCode ?? '' };
        const rctx = responseContext(context, exec.status, exec.headers, exec.response, mentionsBody(mapping), why);
        for (const [field, tpl] of Object.entries(mapping)) patch[field] = render(tpl, rctx);
        // validate refuses templates that name a secret for a field not marked sensitive; this
        // catches what slips past it (a helper or block reaching the value another way).
        const leak = Object.entries(patch).find(([f, v]) => !s.obj.fields[f]?.sensitive && secrets.some((x) => v.includes(x)));
        if (leak) throw new Error(`field "${leak[0]}" would receive a secret output; map secrets only into a field declared sensitive: true`);
      } catch (err) {
        mappingError = `response mapping failed: ${(err as Error).message}`;
        patch = {};
      }
    }
    const lost = mappingError !== undefined && exec.outcome === 'succeeded' ? mappingLost(s.idempotent[i]!) : undefined;
    done = {
      repeatable: s.idempotent[i]!,
      status: lost ?? (mappingError ? 'failed' : exec.outcome),
      error: mappingError ? (lost === 'unknown' ? `${mappingError}; ${TOOK_EFFECT}` : mappingError) : exec.error,
      code: mappingError ? 'response-mapping' : exec.errorCode,
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
        finished_at: isoNow(),
      },
      count: counter(step, tally),
    };
  }
  // The record ends in the same commit as its last step's outcome. Nothing waits on that commit
  // to act, so it is lazy (it may share a database commit with other records' ends) and the
  // record's slot is freed at once; the run awaits every such commit before it ends.
  const end = settle(() => {
    const e = failedError ?? continuedError;
    return [{ op: 'finishRunRecord', runId: s.runId, key: c.key, status: e ? 'failed' : 'succeeded', error: e ?? null }, ...(interrupted ? [] : handled)];
  }, true).then(() => {
    const err = failedError ?? continuedError;
    if (err) {
      s.summary.failed++;
      s.summary.failures.push({ key: c.key, step: err.split(':')[0]!, error: err.slice(err.indexOf(':') + 2) });
    } else s.summary.succeeded++;
  });
  s.ending.add(end);
  // Handled here so a failure is not "unhandled" before the run awaits it (it still rejects there).
  end.then(() => s.ending.delete(end), () => undefined);
}

/**
 * The status of a step whose call succeeded but whose response mapping could not be applied. A
 * call safe to repeat fails and the next run sends it again. One that is not (create_user) took
 * effect: "failed" would create the user a second time, so it is in doubt, and the next run looks
 * it up (reconciles) instead of sending it.
 */
const mappingLost = (repeatable: boolean): StepStatus => (repeatable ? 'failed' : 'unknown');
/** A mapping template that reads the call's answer (outputs or the body). */
const READS_ANSWER = /\{\{[^}]*\b(outputs|response)\b/;

/** Joins the reason a call was in doubt and how it was settled, in the earlier run's history. */
const THEN = '; then ';
const TOOK_EFFECT = 'the call took effect, so it is not sent again: the next run looks it up where the preset can, else skein runs resolve settles it';

/** Store errors that mean "this mapping is refused", not "the store failed". */
const MAPPING_REFUSALS: ReadonlySet<string> = new Set(['invalid-field', 'record-not-found']);

interface DoneStep {
  /** The call may be sent again safely (idempotent). */
  repeatable: boolean;
  status: StepStatus;
  error?: string;
  /** The stable code of `error`. */
  code?: string;
  write?: WriteOp;
  row: Omit<StepRow, 'status' | 'error' | 'error_code'>;
  /** Counts (delta +1) or uncounts (-1) the step's outcome in the run summary. */
  count(status: StepStatus, error: string | undefined, delta: 1 | -1, code?: string): void;
}

/**
 * Why another run's attempt of this call is in flight now (its row `running`, its run `running`,
 * its runner alive), or undefined. A dead runner's row is in doubt and reconciled instead.
 */
async function inFlightElsewhere(deps: EngineDeps, runId: string, doubts: StepInDoubt[]): Promise<string | undefined> {
  const others = doubts.filter((d) => d.status === 'running' && d.run_id !== runId && d.run_status === 'running' && d.runner !== null);
  if (!others.length) return undefined;
  const runners = await deps.store.listRunners(deps.runner?.ttlMs ?? DEFAULT_LEASE_TTL_MS);
  // A runner on this host whose process is gone (Ctrl-C'd, killed) makes no call, heartbeat or not.
  const dead = new Set(deadLocalRunners(runners));
  const alive = new Set(runners.filter((r) => r.alive && !dead.has(r.id)).map((r) => r.id));
  const live = others.find((d) => alive.has(d.runner!));
  return live && `run ${live.run_id} (runner ${live.runner}) is making this call for this record now; not sent again here`;
}

/**
 * What a reconciliation will look the call up by (the create's email), journaled with the
 * running row: if the record changes before the call is reconciled, the lookup still uses the
 * value that was sent.
 */
function journaledLookup(step: Step, preset: Preset | undefined, context: Record<string, unknown>): { params: Record<string, string> } | undefined {
  const input = preset?.reconcile?.match.input;
  if (!input) return undefined;
  try {
    const v = renderParams(step.params, context)[input];
    return typeof v === 'string' && v !== '' ? { params: { [input]: v } } : undefined;
  } catch {
    return undefined; // the call itself will fail to render, and say why
  }
}

/** Outputs later steps may use; sensitive ones included (validate limits where they can go). */
function publicOutputs(exec: StepExecution): Record<string, string> {
  return { ...(exec.response?.outputs ?? {}) };
}

/** Whether a mapping's templates name the response body (a hint: a miss only makes it lazy). */
function mentionsBody(mapping: Record<string, unknown>): boolean {
  for (const k in mapping) {
    const t = mapping[k];
    if (typeof t === 'string' && t.includes('response')) return true;
  }
  return false;
}
