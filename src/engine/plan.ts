// `plan`: which records a workflow would act on and the exact request each would send (secrets
// redacted). Sends nothing and writes nothing.
import type { WorkflowFile } from '../generated/workflow.js';
import { compileRule } from '../conditions/evaluate.js';
import { getPreset } from '../presets/registry.js';
import type { Fields, RecordEvent, Store, StoredRecord } from '../store/types.js';
import { render } from '../template/render.js';
import type { LoadedProject } from '../workflow/project.js';
import { recordContext, responseContext, type StepResult } from './context.js';
import type { ShownRequest } from './request.js';
import { evalInput } from './record-run.js';
import { objectOf, varsOf } from './run.js';
import { buildStepRequest, stepRequestDef } from './step.js';

export interface PlannedStep {
  step: string;
  preset?: string;
  idempotent: boolean;
  request?: ShownRequest;
  skipped?: string;
  error?: string;
}

export interface PlannedRecord {
  key: string;
  steps: PlannedStep[];
}

export interface Plan {
  workflow: string;
  description?: string;
  enabled: boolean;
  trigger: WorkflowFile['trigger'];
  considered: number;
  matched: number;
  records: PlannedRecord[];
  /** Keys asked for that do not exist. */
  missing: string[];
}

export interface PlanOptions {
  keys?: string[];
  event?: 'created' | 'updated' | 'deleted';
  now?: Date;
  /** Records with rendered requests to include (the count covers all). Default: all. */
  limit?: number;
}

/** Most recent stored event of a kind for each key, for `plan --event`. */
async function latestEvents(store: Store, object: string, kind: string): Promise<Map<string, RecordEvent>> {
  const out = new Map<string, RecordEvent>();
  let after = 0;
  for (;;) {
    const batch = await store.readEvents({ afterId: after, limit: 5000, object });
    if (!batch.length) break;
    for (const e of batch) if (e.kind === kind) out.set(e.key, e);
    after = batch[batch.length - 1]!.id;
  }
  return out;
}

export async function planWorkflow(project: LoadedProject, store: Store, wf: WorkflowFile, opts: PlanOptions = {}): Promise<Plan> {
  const obj = objectOf({ project }, wf);
  const vars = varsOf({ project });
  const predicate = compileRule(wf.rules, { fields: obj.fields, now: opts.now });
  const missing: string[] = [];
  let records: StoredRecord[];
  if (opts.keys) {
    records = [];
    for (const k of opts.keys) {
      const r = await store.getRecord(wf.object, k);
      if (r) records.push(r);
      else missing.push(k);
    }
  } else records = await store.listRecords(wf.object);
  const events = opts.event ? await latestEvents(store, wf.object, opts.event) : undefined;
  const plan: Plan = { workflow: wf.name, description: wf.description, enabled: wf.enabled !== false, trigger: wf.trigger, considered: records.length, matched: 0, records: [], missing };
  if (wf.import) {
    const preset = getPreset(wf.import.preset);
    const step: PlannedStep = { step: 'list', preset: wf.import.preset, idempotent: true };
    try {
      step.request = buildStepRequest({ id: 'list', preset: wf.import.preset, params: wf.import.params }, preset, { vars }, vars).shown;
    } catch (err) {
      step.error = (err as Error).message;
    }
    plan.records.push({ key: '*', steps: [step] });
    plan.matched = 1;
    return plan;
  }
  for (const r of records) {
    const event = events?.get(r.key);
    if (!predicate(evalInput({ record: r, event }))) continue;
    plan.matched++;
    if (opts.limit !== undefined && plan.records.length >= opts.limit) continue;
    const results: Record<string, StepResult> = {};
    const steps: PlannedStep[] = [];
    // The record as each step would see it: earlier steps' response mappings applied, with
    // placeholders for what only the call can tell.
    let fields = r.fields;
    for (const step of wf.steps ?? []) {
      const preset = step.preset ? getPreset(step.preset) : undefined;
      const def = stepRequestDef(step, preset);
      const p: PlannedStep = { step: step.id, preset: step.preset, idempotent: def.idempotent ?? def.method === 'GET' };
      steps.push(p);
      if (step.when !== undefined && !compileRule(step.when, { fields: obj.fields, now: opts.now })(evalInput({ record: { ...r, fields }, event }))) {
        p.skipped = 'its `when` rule does not hold';
        // A skipped step's outputs render as "" in later steps, as in a run.
        results[step.id] = { outputs: {} };
        continue;
      }
      const context = recordContext(fields, obj.fields, vars, results);
      try {
        p.request = buildStepRequest(step, preset, context, vars).shown;
      } catch (err) {
        p.error = (err as Error).message;
      }
      // Later steps see placeholders: the real outputs exist only after the call.
      const outputs = Object.fromEntries(Object.keys(def.outputs ?? {}).map((o) => [o, `<${step.id}.${o}>`]));
      results[step.id] = { outputs };
      if (!p.error && step.response) fields = plannedMapping(fields, step.response, context, step.id, outputs);
    }
    plan.records.push({ key: r.key, steps });
  }
  return plan;
}

/**
 * Fields after a step's success mapping, rendered over placeholder outputs and body. A template
 * that cannot render over placeholders (e.g. a helper expecting a number) leaves its field alone.
 */
function plannedMapping(fields: Fields, mapping: Record<string, string>, context: Record<string, unknown>, stepId: string, outputs: Record<string, string>): Fields {
  const body = `<${stepId}.response>`;
  const rctx = responseContext(context, undefined, {}, { ok: true, tree: body, text: body, outputs, sensitiveOutputs: new Set() });
  const out: Fields = { ...fields };
  for (const [field, tpl] of Object.entries(mapping)) {
    let v: string;
    try {
      v = render(tpl, rctx);
    } catch {
      continue;
    }
    // As in a run: a mapping that renders "" clears the field.
    if (v === '') delete out[field];
    else out[field] = v;
  }
  return out;
}
