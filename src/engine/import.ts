// Import workflows (the "extended integration"): list users with a list preset, then create or
// update one record per listed item, matched by ordered sync keys; records whose vendor user
// vanished are flagged, never deleted. All writes land in one transaction.
import type { WorkflowFile } from '../generated/workflow.js';
import { SkeinError } from '../errors.js';
import { getPreset } from '../presets/registry.js';
import type { FieldPatch, StoredRecord } from '../store/types.js';
import { render } from '../template/render.js';
import { readItems } from './response.js';
import { executeStep } from './step.js';
import { objectOf, resolveStepCredentials, varsOf, type EngineDeps, type RunSummary, type RunTarget } from './run.js';
import { isoNow } from '../clock.js';

export async function runImport(deps: EngineDeps, wf: WorkflowFile, target: RunTarget): Promise<RunSummary> {
  const imp = wf.import!;
  const preset = getPreset(imp.preset);
  if (!preset?.request.items) throw new SkeinError('import-shape', `workflow ${wf.name}: preset ${imp.preset} does not list items`);
  const creds = resolveStepCredentials(deps, [imp.credentials]);
  const obj = objectOf(deps, wf);
  const vars = varsOf(deps);
  const runId = await deps.store.createRun({ workflow: wf.name, trigger: target.trigger, trigger_data: target.triggerData ?? {}, runner: deps.runner?.id });
  const stepId = 'list';
  const summary: RunSummary = {
    runId, workflow: wf.name, status: 'succeeded', considered: 0, matched: 0, succeeded: 0, failed: 0,
    steps: { [stepId]: { succeeded: 0, failed: 0, skipped: 0, unknown: 0 } }, failures: [],
    import: { listed: 0, created: 0, updated: 0, unchanged: 0, vanished: 0, rejected: 0 },
  };
  const startedAt = isoNow();
  await deps.store.startRunRecord(runId, wf.object, '*');
  await deps.store.recordStep(runId, '*', { step_id: stepId, status: 'running', started_at: startedAt });
  deps.onStepStart?.({ workflow: wf.name, run: runId, record: '*', step: stepId });
  const exec = await executeStep(
    { id: stepId, preset: imp.preset, credentials: imp.credentials, params: imp.params },
    preset,
    { vars },
    { http: deps.http, vars, credential: imp.credentials ? creds.get(imp.credentials) : undefined, signal: deps.signal },
  );
  const stepRow = { step_id: stepId, request: exec.request, http_status: exec.status ?? null, qualys_code: exec.response?.code ?? null, qualys_message: exec.response?.message ?? null, attempts: exec.attempts, duration_ms: exec.durationMs, started_at: startedAt, finished_at: isoNow() };
  if (exec.outcome !== 'succeeded') {
    await deps.store.recordStep(runId, '*', { ...stepRow, status: 'failed', response: exec.response?.text ?? null, error: exec.error ?? 'failed' });
    await deps.store.finishRunRecord(runId, '*', 'failed', exec.error ?? null);
    summary.steps[stepId]!.failed++;
    summary.failed++;
    summary.status = 'failed';
    summary.failures.push({ key: '*', step: stepId, error: exec.error ?? 'failed' });
    await deps.store.finishRun(runId, 'failed', summary);
    return summary;
  }
  summary.steps[stepId]!.succeeded++;
  const items = readItems(preset.request.items, exec.response!.tree);
  summary.import!.listed = items.length;
  summary.considered = items.length;

  const existing = await deps.store.listRecords(wf.object);
  // index[syncKey][value] -> record, for each ordered sync key
  const index = new Map<string, Map<string, StoredRecord>>(imp.match.map((k) => [k, new Map()]));
  for (const r of existing) for (const k of imp.match) {
    const v = r.fields[k];
    if (v !== undefined && v !== '') index.get(k)!.set(String(v).toLowerCase(), r);
  }
  const seen = new Set<string>();
  const source = `workflow:${wf.name}`;
  await deps.store.transaction(async (tx) => {
    for (const [n, item] of items.entries()) {
      let patch: FieldPatch;
      try {
        const ctx = { item, vars };
        patch = Object.fromEntries(Object.entries(imp.fields).map(([f, tpl]) => [f, render(tpl, ctx)]));
      } catch (err) {
        summary.import!.rejected++;
        summary.failures.push({ key: `item ${n + 1}`, step: 'map', error: (err as Error).message });
        continue;
      }
      let match: StoredRecord | undefined;
      for (const k of imp.match) {
        const v = patch[k];
        if (typeof v === 'string' && v !== '') match = index.get(k)!.get(v.toLowerCase());
        if (match) break;
      }
      try {
        if (match) {
          seen.add(match.key);
          const { [obj.key]: _ignored, ...rest } = patch;
          const ev = await tx.setFields(wf.object, match.key, rest, { source });
          if (ev) summary.import!.updated++;
          else summary.import!.unchanged++;
        } else if (imp.create !== false) {
          const key = String(patch[obj.key] ?? '');
          if (!key) throw new SkeinError('import-key', `item has no value for the key field ${obj.key}`);
          const ev = await tx.setFields(wf.object, key, patch, { source, createIfMissing: true });
          seen.add(key);
          if (ev?.kind === 'created') summary.import!.created++;
          else if (ev) summary.import!.updated++;
          else summary.import!.unchanged++;
        }
      } catch (err) {
        summary.import!.rejected++;
        // Named by the record it would have changed, else its rendered key, else its place.
        summary.failures.push({ key: match?.key ?? (String(patch[obj.key] ?? '') || `item ${n + 1}`), step: 'map', error: (err as Error).message });
      }
    }
    if (imp.vanished) {
      const first = imp.match[0]!;
      for (const r of existing) {
        const linked = r.fields[first];
        if (linked === undefined || linked === '' || seen.has(r.key)) continue;
        if (String(r.fields[imp.vanished.field] ?? '') === imp.vanished.value) continue;
        await tx.setFields(wf.object, r.key, { [imp.vanished.field]: imp.vanished.value }, { source });
        summary.import!.vanished++;
      }
    }
    await tx.recordStep(runId, '*', { ...stepRow, status: 'succeeded', response: exec.response!.text, outputs: summary.import });
  });
  summary.matched = summary.import!.created + summary.import!.updated + summary.import!.unchanged;
  summary.succeeded = summary.matched;
  summary.failed = summary.import!.rejected;
  summary.status = summary.failed ? 'partial' : 'succeeded';
  await deps.store.finishRunRecord(runId, '*', summary.failed ? 'failed' : 'succeeded', null);
  await deps.store.finishRun(runId, summary.status, summary);
  return summary;
}
