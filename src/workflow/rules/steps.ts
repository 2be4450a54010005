// Step checks: unique ids, preset xor inline request, known preset and credentials, parameters
// against the preset's inputs and constraints, templates, and response mapping targets.
import type { Step } from '../../generated/workflow.js';
import type { Request } from '../../generated/preset.js';
import { checkParams, UNKNOWN, type ParamProblem, type ParamValue } from '../../presets/params.js';
import { analyzeTemplate, isTemplate } from '../../template/analyze.js';
import { coerceValue } from '../../store/values.js';
import { isSecretName } from '../../secret-names.js';
import { allowedList, didYouMean } from '../did-you-mean.js';
import type { WorkflowContext, WorkflowRule } from '../context.js';
import { checkTemplate, type TemplateScope } from './templates.js';

export type StepOutputs = Map<string, { sensitive: boolean }>;

/** Outputs a step makes available: its preset's, or its inline request's; undefined for an unknown preset. */
export function stepOutputs(ctx: WorkflowContext, step: Step): StepOutputs | undefined {
  const req: Request | undefined = step.preset !== undefined ? ctx.project.presets.get(step.preset)?.request : step.request;
  if (!req) return undefined;
  const out: StepOutputs = new Map();
  for (const [name, o] of Object.entries(req.outputs ?? {})) out.set(name, { sensitive: o.sensitive === true });
  return out;
}

export const checkSteps: WorkflowRule = (ctx) => {
  const steps = ctx.wf.steps ?? [];
  const seen = new Map<string, number>();
  const earlier = new Map<string, Set<string> | undefined>();
  steps.forEach((step, i) => {
    const path = ['steps', i];
    const first = seen.get(step.id);
    if (first !== undefined) {
      const line = ctx.doc.locate(['steps', first, 'id']).line;
      ctx.error('duplicate-step-id', `step id "${step.id}" is already used by step ${first + 1} (line ${line}); step ids must be unique in a workflow`, [...path, 'id']);
    } else seen.set(step.id, i);
    checkKind(ctx, step, path);
    if (step.preset !== undefined || step.credentials !== undefined) checkCredentials(ctx, step.credentials, step.preset !== undefined, path, step.preset);
    const outputs = stepOutputs(ctx, step);
    const later = new Set(steps.slice(i + 1).map((s) => s.id).filter((id) => !earlier.has(id) && id !== step.id));
    const scope: TemplateScope = { record: true, response: false, steps: earlier, self: step.id, later, place: 'params' };
    if (step.preset !== undefined) checkPresetParams(ctx, step.preset, step.params, path, scope);
    else if (step.params) ctx.error('unknown-param', '`params` only apply to presets; an inline request puts values in its url, query, form, headers or body', [...path, 'params'], 'key');
    if (step.request) checkInlineRequest(ctx, step.request, [...path, 'request'], { ...scope, place: 'the request' });
    checkSecretsInRequest(ctx, step, path, earlierSensitive(ctx, steps, i));
    const respScope: TemplateScope = { record: true, response: true, outputs: outputs && new Set(outputs.keys()), steps: earlier, self: step.id, later, place: 'response' };
    for (const key of ['response', 'error_response'] as const) {
      const where = key === 'error_response' ? { ...respScope, error: true, place: 'error_response' } : respScope;
      for (const [field, tpl] of Object.entries(step[key] ?? {})) {
        const refs = checkTemplate(ctx, [...path, key, field], tpl, where);
        checkTarget(ctx, field, [...path, key, field], refs, outputs ?? new Map(), earlierSensitive(ctx, steps, i), false, tpl);
      }
    }
    if (!earlier.has(step.id)) earlier.set(step.id, outputs && new Set(outputs.keys()));
  });
};

function checkKind(ctx: WorkflowContext, step: Step, path: (string | number)[]): void {
  if (step.preset !== undefined && step.request !== undefined) {
    ctx.error('step-kind', `step "${step.id}" has both preset and request; keep one (a preset call, or an inline request)`, [...path, 'request'], 'key');
  } else if (step.preset === undefined && step.request === undefined) {
    ctx.error('step-kind', `step "${step.id}" has neither preset nor request; add one (e.g. preset: qualys.activate_user, or an inline request:)`, [...path, 'id']);
  } else if (step.preset !== undefined && !ctx.project.presets.has(step.preset)) {
    const ids = [...ctx.project.presets.keys()];
    ctx.error('unknown-preset', `unknown preset "${step.preset}"${didYouMean(step.preset, ids)}; presets: ${allowedList(ids, 30)}`, [...path, 'preset']);
  }
}

/** A named credential must be declared; preset calls (and imports) must name one. */
export function checkCredentials(ctx: WorkflowContext, name: string | undefined, required: boolean, path: (string | number)[], presetId?: string): void {
  const known = ctx.project.credentials;
  if (name === undefined) {
    if (!required) return;
    const who = presetId ? `preset ${presetId}` : 'this call';
    const at = presetId ? [...path, 'preset'] : path;
    ctx.error('credential-required', `${who} needs credentials; add credentials: NAME (skein.yaml declares: ${known.size ? allowedList(known) : 'none'})`, at, presetId ? 'value' : 'key');
    return;
  }
  if (!known.has(name)) {
    ctx.error('unknown-credential', `unknown credential "${name}"${didYouMean(name, known)}; skein.yaml declares: ${known.size ? allowedList(known) : 'none (add a credentials: section)'}`, [...path, 'credentials']);
  }
}

export function checkPresetParams(
  ctx: WorkflowContext,
  presetId: string,
  params: Record<string, string | number | boolean> | undefined,
  path: (string | number)[],
  scope: TemplateScope,
): void {
  const preset = ctx.project.presets.get(presetId);
  const values: Record<string, ParamValue> = {};
  for (const [name, v] of Object.entries(params ?? {})) {
    checkTemplate(ctx, [...path, 'params', name], v, scope);
    values[name] = typeof v === 'string' && isTemplate(v) ? UNKNOWN : v;
  }
  if (!preset) return;
  const given = (name: string | undefined): name is string => name !== undefined && params !== undefined && Object.hasOwn(params, name);
  const problems = checkParams(preset, values);
  // Required parameters that are simply absent: one diagnostic for all of them, on `params:`.
  const absent = problems.filter((p) => p.code === 'missing-param' && p.cause === undefined);
  const where = params ? [...path, 'params'] : [...path, 'preset'];
  if (absent.length === 1) ctx.error('missing-param', absent[0]!.message, where, params ? 'key' : 'value');
  else if (absent.length > 1) {
    const names = absent.map((p) => `"${p.param}"`);
    ctx.error('missing-param', `${preset.id} needs parameters ${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}; they are missing`, where, params ? 'key' : 'value');
  }
  for (const p of problems) {
    if (absent.includes(p)) continue;
    ctx.error(p.code, p.message, problemPath(p, given, path, where), p.code === 'unknown-param' ? 'key' : 'value');
  }
}

/** Where a parameter problem shows: the parameter, else the one whose value caused it, else `params:`. */
function problemPath(p: ParamProblem, given: (n: string | undefined) => boolean, path: (string | number)[], where: (string | number)[]): (string | number)[] {
  if (given(p.param)) return [...path, 'params', p.param];
  if (given(p.cause)) return [...path, 'params', p.cause!];
  return where;
}

function checkInlineRequest(ctx: WorkflowContext, req: Request, path: (string | number)[], scope: TemplateScope): void {
  checkTemplate(ctx, [...path, 'url'], req.url, scope);
  if (req.body !== undefined) checkTemplate(ctx, [...path, 'body'], req.body, scope);
  for (const part of ['query', 'form', 'headers'] as const) {
    for (const [k, v] of Object.entries(req[part] ?? {})) checkTemplate(ctx, [...path, part, k], v, scope);
  }
  checkLiteralSecrets(ctx, req, path);
  if (req.form && req.body !== undefined) ctx.error('step-kind', 'a request has either form or body, not both', [...path, 'body'], 'key');
  if (req.form && req.method === 'GET') ctx.warning('step-kind', 'a GET sends no body, so its form values are never sent; put them under query', [...path, 'form'], 'key');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** What to do instead of writing a secret into a workflow. */
const USE_A_CREDENTIAL = 'declare a credential in skein.yaml (type: bearer or header, read from { env: NAME } or { file: PATH }) and name it with credentials:';

/**
 * A header, query or form value whose name says it is a secret (Authorization, X-Api-Key, token)
 * written into the workflow, or only from a variable (also YAML): it would sit in git. Never echoed.
 */
function checkLiteralSecrets(ctx: WorkflowContext, req: Request, path: (string | number)[]): void {
  const fromYaml = (v: unknown) => typeof v === 'string' && v !== '' && (!isTemplate(v) || analyzeTemplate(v).references.every((r) => r.parts[0] === 'vars'));
  for (const part of ['headers', 'query', 'form'] as const) {
    for (const [k, v] of Object.entries(req[part] ?? {})) {
      if (isSecretName(k) && fromYaml(v)) ctx.error('literal-secret', `${part === 'headers' ? 'header' : part} "${k}" is a secret written into YAML; ${USE_A_CREDENTIAL}`, [...path, part, k]);
    }
  }
  const query = /[?&]([^=&#]+)=([^&#]*)/g;
  for (let m = query.exec(req.url); m; m = query.exec(req.url)) {
    if (isSecretName(safeDecode(m[1]!)) && fromYaml(m[2])) {
      ctx.error('literal-secret', `the url's "${m[1]}" is a secret written into YAML; ${USE_A_CREDENTIAL}`, [...path, 'url']);
    }
  }
}

/**
 * The first reference to a secret output. A reference to a whole object holding a secret
 * ({{json outputs}}, {{#with outputs}}, {{lookup steps.create.outputs 'password'}}) counts as a
 * reference to the secret.
 */
function secretReference(refs: string[][], outputs: StepOutputs, sensitiveSteps: Set<string>): string[] | undefined {
  const anySensitiveOutput = [...outputs.values()].some((o) => o.sensitive);
  return refs.find(
    (r) =>
      (r[0] === 'outputs' && (r.length === 1 ? anySensitiveOutput : outputs.get(r[1]!)?.sensitive)) ||
      (r[0] === 'steps' && [...sensitiveSteps].some((k) => (r.length >= 4 ? r.slice(0, 4).join('.') === k : k.startsWith(r.join('.') + '.')))),
  );
}

/**
 * An earlier step's secret output (a generated password) in this step's params or request
 * would be sent to a vendor and kept in run history: the only place a secret may go is a field
 * declared sensitive.
 */
function checkSecretsInRequest(ctx: WorkflowContext, step: Step, path: (string | number)[], sensitiveSteps: Set<string>): void {
  if (!sensitiveSteps.size) return;
  const places: Array<[(string | number)[], unknown]> = Object.entries(step.params ?? {}).map(([k, v]) => [[...path, 'params', k], v]);
  const req = step.request;
  if (req) {
    places.push([[...path, 'request', 'url'], req.url], [[...path, 'request', 'body'], req.body]);
    for (const part of ['query', 'form', 'headers'] as const) for (const [k, v] of Object.entries(req[part] ?? {})) places.push([[...path, 'request', part, k], v]);
  }
  for (const [at, value] of places) {
    if (typeof value !== 'string' || !isTemplate(value)) continue;
    const secret = secretReference(analyzeTemplate(value).references.map((r) => r.parts), new Map(), sensitiveSteps);
    const what = secret && (secret.length >= 4 ? 'is a secret' : 'holds a secret output');
    if (secret) ctx.error('sensitive-target', `{{${secret.join('.')}}} ${what}; a secret may only be mapped into a field declared with sensitive: true, never sent in a request`, at);
  }
}

/** Sensitive outputs of earlier steps, by "steps.ID.outputs.NAME". */
function earlierSensitive(ctx: WorkflowContext, steps: Step[], upTo: number): Set<string> {
  const out = new Set<string>();
  for (const s of steps.slice(0, upTo)) {
    for (const [name, o] of stepOutputs(ctx, s) ?? []) if (o.sensitive) out.add(`steps.${s.id}.outputs.${name}`);
  }
  return out;
}

/** A mapping target must be a declared, non-key field; secrets only into sensitive fields. */
export function checkTarget(
  ctx: WorkflowContext,
  field: string,
  path: (string | number)[],
  refs: string[][],
  outputs: StepOutputs,
  sensitiveSteps: Set<string>,
  allowKey = false,
  value?: unknown,
): void {
  const obj = ctx.object;
  if (!obj) return;
  const def = Object.hasOwn(obj.fields, field) ? obj.fields[field] : undefined;
  if (!def) {
    const names = Object.keys(obj.fields);
    ctx.error('unknown-field', `unknown field "${field}" on ${obj.name}${didYouMean(field, names)}; declare it under objects.${obj.name}.fields in skein.yaml`, path, 'key');
    return;
  }
  if (field === obj.key && !allowKey) {
    ctx.error('unknown-field', `"${field}" is the key of ${obj.name} and cannot be written by a response mapping`, path, 'key');
    return;
  }
  const secret = secretReference(refs, outputs, sensitiveSteps);
  if (secret && !def.sensitive) {
    ctx.error('sensitive-target', `{{${secret.join('.')}}} is a secret; map it only into a field declared with sensitive: true ("${field}" is not)`, path, 'key');
  }
  // A literal is known now: one the field's type refuses would fail every run, after the call.
  if (value !== undefined && !(typeof value === 'string' && isTemplate(value))) {
    const c = coerceValue(field, def, value);
    if (!c.ok) ctx.error('mapping-type', c.reason, path);
  }
}
