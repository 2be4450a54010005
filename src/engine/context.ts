// The template context of a record: its fields at the top level (as GUI workflow users write
// them), vars, earlier steps' outputs, and after a call the response.
import type { Fields } from '../store/types.js';
import type { FieldDef } from '../workflow/objects.js';
import { renderableTree } from '../template/render.js';
import type { ParsedResponse } from './response.js';
import { MASK } from '../records/format.js';

export interface StepResult {
  outputs: Record<string, string>;
}

/**
 * The values of the record's sensitive fields, kept on its context under this symbol (invisible
 * to templates): the request shown in plans and run history masks them wherever they were rendered.
 */
export const SENSITIVE_VALUES = Symbol('sensitive values');

/** Per object's declared fields: every field as '' (copied under each record), and the sensitive ones. */
interface ContextPlan {
  blanks: Record<string, unknown>;
  sensitive: string[];
}
const plans = new WeakMap<Record<string, FieldDef>, ContextPlan>();

function planFor(declared: Record<string, FieldDef>): ContextPlan {
  let plan = plans.get(declared);
  if (!plan) {
    const blanks: Record<string, unknown> = {};
    for (const name of Object.keys(declared)) blanks[name] = '';
    plan = { blanks, sensitive: Object.keys(declared).filter((n) => declared[n]!.sensitive) };
    plans.set(declared, plan);
  }
  return plan;
}

/** Record fields plus every declared field (empty when unset) so `{{phone}}` renders as ''. */
export function recordContext(fields: Fields, declared: Record<string, FieldDef>, vars: Record<string, unknown>, steps: Record<string, StepResult>): Record<string, unknown> {
  const plan = planFor(declared);
  // One copy of a fixed-shape object, then the record's own values (null ones included, as stored).
  const ctx: Record<string, unknown> = Object.assign({ ...plan.blanks }, fields);
  let secrets: string[] | undefined;
  for (const name of plan.sensitive) {
    const v = fields[name];
    if (v !== undefined && v !== null && String(v) !== '') (secrets ??= []).push(String(v));
  }
  ctx.vars = vars;
  ctx.steps = steps;
  if (secrets) Object.defineProperty(ctx, SENSITIVE_VALUES, { value: secrets, enumerable: false });
  return ctx;
}

/** The sensitive values a context carries (see SENSITIVE_VALUES). */
export function sensitiveValues(ctx: object): readonly string[] {
  return (ctx as { [SENSITIVE_VALUES]?: string[] })[SENSITIVE_VALUES] ?? [];
}

/** Replaces every sensitive value in `text`, also in its URL- and form-encoded spellings. */
export function maskText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    for (const form of new Set([s, encodeURIComponent(s), encodeURI(s), new URLSearchParams({ x: s }).toString().slice(2)])) {
      if (form) out = out.split(form).join(MASK);
    }
  }
  return out;
}

/** Adds what response mappings may use. */
export function responseContext(base: Record<string, unknown>, status: number | undefined, headers: Record<string, string>, res: ParsedResponse | undefined): Record<string, unknown> {
  // Built on first use only: most mappings never reach into the parsed body. (A literal getter
  // keeps the object's fast shape, where defineProperty would turn it into a dictionary.)
  let tree: unknown;
  return {
    ...base,
    response_status: status ?? '',
    response_headers: headers,
    outputs: res?.outputs ?? {},
    get response() {
      return (tree ??= res ? renderableTree(res.tree ?? res.text, res.text) : '');
    },
  };
}
