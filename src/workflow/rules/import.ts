// Import workflows: a list preset, sync keys that are mapped, a mapped key when creating, and
// item references that exist.
import { allowedList, didYouMean } from '../did-you-mean.js';
import type { WorkflowRule } from '../context.js';
import { checkCredentials, checkPresetParams, checkTarget } from './steps.js';
import { checkTemplate } from './templates.js';
import { coerceValue } from '../../store/values.js';

export const checkImport: WorkflowRule = (ctx) => {
  const wf = ctx.wf;
  if (wf.steps && wf.import) {
    ctx.error('import-shape', 'a workflow has either steps or import, not both', ['import'], 'key');
    return;
  }
  if (!wf.steps && !wf.import) {
    ctx.error('schema-missing-key', 'missing required key "steps" (or "import") at the top level', [], 'value');
    return;
  }
  const imp = wf.import;
  if (!imp) return;
  const preset = ctx.project.presets.get(imp.preset);
  const listPresets = [...ctx.project.presets.values()].filter((p) => p.request.items).map((p) => p.id);
  const suggestion = `import needs a list preset (${allowedList(listPresets)})`;
  if (!preset) {
    ctx.error('unknown-preset', `unknown preset "${imp.preset}"${didYouMean(imp.preset, ctx.project.presets.keys())}; ${suggestion}`, ['import', 'preset']);
  } else if (!preset.request.items) {
    ctx.error('import-shape', `preset ${imp.preset} does not list items; ${suggestion}`, ['import', 'preset']);
  }
  // With a preset that is unknown or lists nothing, its params and item fields cannot be checked.
  const list = preset?.request.items ? preset : undefined;
  checkCredentials(ctx, imp.credentials, true, ['import'], imp.preset);
  const empty = new Map<string, Set<string> | undefined>();
  if (list) checkPresetParams(ctx, imp.preset, imp.params, ['import'], { record: false, response: false, steps: empty, place: 'import params' });
  const itemFields = list ? new Set(Object.keys(list.request.items!.fields)) : 'unknown';
  const sensitiveItems = new Set(list?.request.items?.sensitive ?? []);
  for (const [field, tpl] of Object.entries(imp.fields)) {
    const refs = checkTemplate(ctx, ['import', 'fields', field], tpl, { record: false, response: false, steps: empty, item: itemFields, place: 'import fields' });
    const asOutputs = new Map([...sensitiveItems].map((n) => [n, { sensitive: true }]));
    checkTarget(ctx, field, ['import', 'fields', field], refs.map((r) => (r[0] === 'item' ? ['outputs', ...r.slice(1)] : r)), asOutputs, new Set(), true, tpl);
  }
  imp.match.forEach((key, i) => {
    if (!Object.hasOwn(imp.fields, key)) ctx.error('import-shape', `sync key "${key}" is not mapped in import.fields; map it so listed items can be matched`, ['import', 'match', i]);
  });
  const obj = ctx.object;
  if (obj && imp.create !== false && !Object.hasOwn(imp.fields, obj.key)) {
    ctx.error('import-shape', `import creates records, so the key field "${obj.key}" must be mapped in import.fields (or set create: false)`, ['import', 'fields'], 'key');
  }
  if (imp.vanished && obj && !Object.hasOwn(obj.fields, imp.vanished.field)) {
    const names = Object.keys(obj.fields);
    ctx.error('unknown-field', `unknown field "${imp.vanished.field}" on ${obj.name} for import.vanished${didYouMean(imp.vanished.field, names)}; declare it under objects.${obj.name}.fields in skein.yaml`, ['import', 'vanished', 'field']);
  } else if (imp.vanished && obj) {
    // Checked here so that a bad flag fails validation, not the whole import at run time.
    if (imp.vanished.field === obj.key) {
      ctx.error('unknown-field', `"${obj.key}" is the key of ${obj.name} and cannot be written by import.vanished; flag another field`, ['import', 'vanished', 'field']);
    } else {
      const v = coerceValue(imp.vanished.field, obj.fields[imp.vanished.field]!, imp.vanished.value);
      if (!v.ok) ctx.error('import-shape', `import.vanished.value: ${v.reason}`, ['import', 'vanished', 'value']);
    }
  }
  if (ctx.wf.rules !== undefined) ctx.warning('import-shape', 'rules are ignored by import workflows (every listed item is imported)', ['rules'], 'key');
};
