// `run --pending` and the daemon's outbox poll: consume the outbox. Each event-triggered workflow
// handles each record event of its object once (the store remembers handled (event, workflow)
// pairs), in event order. Events are leased before they run, so several runners sharing a store
// split them and never both handle one; a dead runner's leases lapse and another takes them up.
// Events a workflow wrote itself are not fed back to it, so a response mapping cannot loop.
import type { WorkflowFile } from '../generated/workflow.js';
import type { RecordEvent, WriteOp } from '../store/types.js';
import { Presence } from './presence.js';
import { runWorkflow, type EngineDeps, type RunSummary } from './run.js';

export interface PendingOptions {
  /** Events leased per claim (default 5000). Smaller batches spread work across runners. */
  batch?: number;
}

export async function runPending(deps: EngineDeps, opts: PendingOptions = {}): Promise<RunSummary[]> {
  const own = deps.runner ? undefined : await Presence.start(deps.store, { role: 'cli' });
  const d: EngineDeps = own ? { ...deps, runner: own } : deps;
  try {
    const out: RunSummary[] = [];
    const consumers: Array<{ wf: WorkflowFile; kinds: Set<string> }> = [];
    for (const lw of d.project.workflows) {
      const wf = lw.def;
      if (!wf || !lw.valid || wf.enabled === false || wf.import) continue;
      const kinds = new Set(wf.trigger.on.filter((k) => k === 'created' || k === 'updated' || k === 'deleted'));
      if (kinds.size) consumers.push({ wf, kinds });
    }
    await startNewConsumersAtHead(d, consumers.map((c) => c.wf));
    for (const { wf, kinds } of consumers) out.push(...(await drainWorkflow(d, wf, kinds, opts.batch ?? 5000)));
    return out;
  } finally {
    await own?.stop();
  }
}

/**
 * Set once the outbox has had consumers: workflows that appear after that start at its head.
 * Store migrations (SQLite 5, PostgreSQL 4) set it too when events were handled before it existed.
 */
const CONSUMED_KEY = 'outbox:consumed';
/** The claim cursor of a workflow: every event below it counts as handled by it (store cluster). */
const cursorKey = (wf: WorkflowFile) => `event-cursor:${wf.name}:${wf.object}`;

/**
 * A workflow added once the outbox is in use (a new file, a rename) handles events from now on:
 * replaying history would, say, create a Qualys user for every person ever imported. The
 * workflows there at the first consumption handle everything before it (import, then
 * run --pending). To apply a new workflow to existing records, run it with --all.
 */
async function startNewConsumersAtHead(deps: EngineDeps, workflows: WorkflowFile[]): Promise<void> {
  if (!workflows.length) return;
  const consumed = (await deps.store.getKv(CONSUMED_KEY)) !== null;
  let head: number | undefined;
  for (const wf of workflows) {
    if ((await deps.store.getKv(cursorKey(wf))) !== null) continue;
    // At the first consumption a workflow starts at the beginning: its cursor is written even
    // so, or a workflow that found the outbox empty would later count as new.
    head ??= consumed ? (await deps.store.lastEventId()) + 1 : 0;
    await deps.store.setKv(cursorKey(wf), String(head));
  }
  if (!consumed) await deps.store.setKv(CONSUMED_KEY, new Date().toISOString());
}

/** Claims and runs batches of the workflow's events until none are left for this runner. */
async function drainWorkflow(deps: EngineDeps, wf: WorkflowFile, kinds: Set<string>, batch: number): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  const runner = deps.runner!;
  let previous = '';
  for (;;) {
    if (deps.stopSignal?.aborted || deps.signal?.aborted) break;
    const held = await deps.store.claimEvents(wf.name, runner.id, { object: wf.object, limit: batch, ttlMs: runner.ttlMs });
    // Events still held after a batch ran were not finished (a stop, a store error): try again
    // on the next poll rather than spinning on them now.
    const ids = held.map((e) => e.id).join(',');
    if (!held.length || ids === previous) break;
    previous = ids;
    const events: RecordEvent[] = [];
    const ignored: WriteOp[] = [];
    for (const e of held) {
      if (kinds.has(e.kind) && e.source !== `workflow:${wf.name}`) events.push(e);
      else ignored.push({ op: 'markEventHandled', eventId: e.id, workflow: wf.name });
    }
    if (ignored.length) await deps.store.commit(ignored);
    // One record's events run in order: split into rounds holding at most one event per record.
    const rounds: RecordEvent[][] = [];
    const depth = new Map<string, number>();
    for (const e of events) {
      const n = depth.get(e.key) ?? 0;
      depth.set(e.key, n + 1);
      (rounds[n] ??= []).push(e);
    }
    for (const round of rounds) {
      // Stopped: no further (empty, cancelled) runs; the events left stay unhandled.
      if (deps.stopSignal?.aborted || deps.signal?.aborted) break;
      const summary = await runWorkflow(deps, wf, { events: round, trigger: 'event' });
      if (summary.runId) out.push(summary);
    }
  }
  return out;
}
