// The template context of a record: its fields at the top level (as GUI workflow users write
// them), vars, earlier steps' outputs, and after a call the response.
import type { Fields } from '../store/types.js';
import type { FieldDef } from '../workflow/objects.js';
import { renderableTree } from '../template/render.js';
import type { ParsedResponse } from './response.js';

export interface StepResult {
  outputs: Record<string, string>;
}

/** Record fields plus every declared field (empty when unset) so `{{phone}}` renders as ''. */
export function recordContext(fields: Fields, declared: Record<string, FieldDef>, vars: Record<string, unknown>, steps: Record<string, StepResult>): Record<string, unknown> {
  const ctx: Record<string, unknown> = {};
  for (const name of Object.keys(declared)) ctx[name] = fields[name] ?? '';
  for (const [k, v] of Object.entries(fields)) ctx[k] = v;
  ctx.vars = vars;
  ctx.steps = steps;
  return ctx;
}

/** Adds what response mappings may use. */
export function responseContext(base: Record<string, unknown>, status: number | undefined, headers: Record<string, string>, res: ParsedResponse | undefined): Record<string, unknown> {
  const ctx: Record<string, unknown> = { ...base, response_status: status ?? '', response_headers: headers, outputs: res?.outputs ?? {} };
  // Built on first use only: most mappings never reach into the parsed body.
  let tree: unknown;
  Object.defineProperty(ctx, 'response', {
    enumerable: true,
    get: () => (tree ??= res ? renderableTree(res.tree ?? res.text, res.text) : ''),
  });
  return ctx;
}
