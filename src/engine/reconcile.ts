// Reconciliation of non-idempotent steps whose outcome is in doubt: instead of sending a create
// again, ask the vendor whether the first attempt took effect (the preset's `reconcile:` rule,
// e.g. list users and look for the email). Presets without a rule stay `unknown` for a person.
import type { Step } from '../generated/workflow.js';
import { getPreset, type Preset } from '../presets/registry.js';
import { renderParams } from './request.js';
import { readItems } from './response.js';
import { executeStep, type StepEnv } from './step.js';
import type { StepRow } from '../store/types.js';

export type Reconciled =
  | { kind: 'found'; outputs: Record<string, string>; note: string }
  | { kind: 'absent'; note: string }
  | { kind: 'unknown'; note: string };

/** The value the earlier attempt was sent with (journaled with it), if a row has it. */
function sentValue(doubts: Array<Pick<StepRow, 'request'>>, input: string): string | undefined {
  for (const d of doubts) {
    const v = (d.request as { params?: Record<string, unknown> } | null | undefined)?.params?.[input];
    if (typeof v === 'string' && v.trim() !== '') return v;
  }
  return undefined;
}

/**
 * Looks up the object an earlier attempt may have created, by the value that attempt was sent
 * with (the record may have changed since: a new email must not hide the first create).
 */
export async function reconcileStep(step: Step, preset: Preset | undefined, context: Record<string, unknown>, env: StepEnv, doubts: Array<Pick<StepRow, 'request'>> = []): Promise<Reconciled> {
  const rule = preset?.reconcile;
  if (!preset || !rule) return { kind: 'unknown', note: `${step.preset ?? 'this request'} cannot be checked automatically; resolve it with skein runs resolve` };
  const list = getPreset(rule.preset);
  if (!list?.request.items) return { kind: 'unknown', note: `reconcile preset ${rule.preset} does not list items` };
  const wanted = (sentValue(doubts, rule.match.input) ?? String(renderParams(step.params, context)[rule.match.input] ?? '')).trim().toLowerCase();
  if (!wanted) return { kind: 'unknown', note: `no ${rule.match.input} to look the object up by` };
  const exec = await executeStep({ id: `${step.id}_reconcile`, preset: rule.preset, credentials: step.credentials }, list, context, env);
  if (exec.outcome !== 'succeeded') return { kind: 'unknown', note: `looking it up with ${rule.preset} failed: ${exec.error}` };
  const matches = readItems(list.request.items, exec.response!.tree).filter((i) => (i[rule.match.item] ?? '').trim().toLowerCase() === wanted);
  if (matches.length === 1) {
    const outputs = Object.fromEntries(Object.entries(rule.outputs).map(([out, field]) => [out, matches[0]![field] ?? '']));
    return { kind: 'found', outputs, note: `reconciled: the earlier attempt took effect (${rule.match.item} ${wanted} found${outputs.login ? `, login ${outputs.login}` : ''})` };
  }
  if (matches.length === 0) return { kind: 'absent', note: `reconciled: the earlier attempt did not take effect (no ${rule.match.item} ${wanted}); sending again` };
  return { kind: 'unknown', note: `${matches.length} objects have ${rule.match.item} ${wanted}; resolve it with skein runs resolve` };
}
