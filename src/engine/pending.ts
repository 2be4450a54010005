// `run --pending`: consume the outbox. Each event-triggered workflow handles each record event of
// its object once (the store remembers handled (event, workflow) pairs), in event order. Events
// a workflow wrote itself are not fed back to it, so a response mapping cannot loop.
import type { RecordEvent, WriteOp } from '../store/types.js';
import { runWorkflow, type EngineDeps, type RunSummary } from './run.js';

export async function runPending(deps: EngineDeps, opts: { batch?: number } = {}): Promise<RunSummary[]> {
  const out: RunSummary[] = [];
  for (const lw of deps.project.workflows) {
    const wf = lw.def;
    if (!wf || !lw.valid || wf.enabled === false || wf.import) continue;
    const kinds = new Set(wf.trigger.on.filter((k) => k === 'created' || k === 'updated' || k === 'deleted'));
    if (!kinds.size) continue;
    let afterId = 0;
    const events: RecordEvent[] = [];
    for (;;) {
      const batch = await deps.store.pendingEventsFor(wf.name, { afterId, limit: opts.batch ?? 5000, object: wf.object });
      if (!batch.length) break;
      afterId = batch[batch.length - 1]!.id;
      const ignored: WriteOp[] = [];
      for (const e of batch) {
        if (kinds.has(e.kind) && e.source !== `workflow:${wf.name}`) events.push(e);
        else ignored.push({ op: 'markEventHandled', eventId: e.id, workflow: wf.name });
      }
      if (ignored.length) await deps.store.commit(ignored);
    }
    if (!events.length) continue;
    // One record's events run in order: split into rounds holding at most one event per record.
    const rounds: RecordEvent[][] = [];
    const depth = new Map<string, number>();
    for (const e of events) {
      const d = depth.get(e.key) ?? 0;
      depth.set(e.key, d + 1);
      (rounds[d] ??= []).push(e);
    }
    for (const round of rounds) {
      const summary = await runWorkflow(deps, wf, { events: round, trigger: 'event' });
      if (summary.runId) out.push(summary);
    }
  }
  return out;
}
