// Template checks: Handlebars syntax, known helpers, and that every reference resolves to a
// declared field, variable or output available at that point of the workflow.
import { analyzeTemplate, isTemplate } from '../../template/analyze.js';
import { ALL_HELPER_NAMES } from '../../template/helpers.js';
import { allowedList, didYouMean } from '../did-you-mean.js';
import type { JsonPath } from '../source.js';
import type { WorkflowContext } from '../context.js';

/** What a template may refer to at one place in a workflow. */
export interface TemplateScope {
  /** Record fields at the top level ({{first_name}}). */
  record: boolean;
  /** {{response}}, {{response_status}}, {{response_headers.X}} and {{outputs.X}} (response mappings). */
  response: boolean;
  /** {{error.message}} and {{error.code}}: why the step failed (error_response mappings). */
  error?: boolean;
  /** Outputs of the current step, for {{outputs.NAME}}; undefined when unknown (unknown preset). */
  outputs?: Set<string>;
  /** Earlier steps and their outputs, for {{steps.ID.outputs.NAME}} (undefined: outputs unknown). */
  steps: Map<string, Set<string> | undefined>;
  /** The current step's id and the ids of later steps, to explain why they are not available. */
  self?: string;
  later?: ReadonlySet<string>;
  /** Fields of a listed item, for {{item.NAME}} (import mappings); 'unknown' when the preset is. */
  item?: Set<string> | 'unknown';
  /** Where the template sits, for messages. */
  place: string;
}

const RESPONSE_ROOTS = new Set(['response', 'response_status', 'response_headers']);

/** Checks one string value; literals (no "{{", no Jinja "{%") are skipped. Returns the references found. */
export function checkTemplate(ctx: WorkflowContext, path: JsonPath, text: unknown, scope: TemplateScope): string[][] {
  if (typeof text !== 'string' || (!isTemplate(text) && !text.includes('{%'))) return [];
  const a = analyzeTemplate(text);
  if (a.error) {
    ctx.errorInString('template-syntax', a.error.message, path, a.error.index, a.error.length);
    return [];
  }
  for (const h of a.helpers) {
    if (!ALL_HELPER_NAMES.has(h.name)) {
      ctx.errorInString('unknown-helper', `unknown helper "${h.name}"${didYouMean(h.name, ALL_HELPER_NAMES)}; helpers: ${allowedList(ALL_HELPER_NAMES, 30)}`, path, h.index, h.length);
    }
  }
  for (const ref of a.references) {
    const problem = resolve(ctx, ref.parts, scope);
    if (problem) ctx.errorInString(problem.code, problem.message, path, ref.index, ref.length);
  }
  return a.references.map((r) => r.parts);
}

function resolve(ctx: WorkflowContext, parts: string[], scope: TemplateScope): { code: 'unknown-reference' | 'reference-unavailable'; message: string } | undefined {
  const [head, second, third, fourth] = parts;
  if (head === undefined) return undefined;
  if (head === 'vars') {
    const vars = ctx.project.variables;
    if (second === undefined) return { code: 'unknown-reference', message: `{{vars}} needs a variable name, e.g. {{vars.qualys_api_url}}` };
    if (!vars.has(second)) {
      return { code: 'unknown-reference', message: `unknown variable "vars.${second}"${didYouMean(second, vars)}; skein.yaml declares: ${vars.size ? allowedList(vars) : 'no variables'}` };
    }
    if (third !== undefined) return { code: 'unknown-reference', message: `{{${parts.join('.')}}}: variable "${second}" is one value and has no "${third}"` };
    return undefined;
  }
  if (head === 'error') {
    if (!scope.error) return { code: 'reference-unavailable', message: `{{${parts.join('.')}}} is not available in ${scope.place}: {{error.*}} exists only in error_response mappings` };
    if (second !== 'message' && second !== 'code') return { code: 'unknown-reference', message: `{{${parts.join('.')}}}: error has message and code, e.g. {{error.message}}` };
    if (third !== undefined) return { code: 'unknown-reference', message: `{{${parts.join('.')}}}: error.${second} is one value and has no "${third}"` };
    return undefined;
  }
  if (RESPONSE_ROOTS.has(head)) {
    if (!scope.response) return { code: 'reference-unavailable', message: `{{${parts.join('.')}}} is not available in ${scope.place}: {{${head}}} exists only in response and error_response mappings` };
    return undefined;
  }
  if (head === 'outputs') {
    if (!scope.response) {
      const name = second ?? 'NAME';
      return { code: 'reference-unavailable', message: `{{${parts.join('.')}}} is not available in ${scope.place}: {{outputs.*}} exists only in response and error_response mappings; to use an earlier step's output write {{steps.ID.outputs.${name}}}` };
    }
    if (second === undefined) return { code: 'unknown-reference', message: '{{outputs}} needs an output name' };
    if (scope.outputs && !scope.outputs.has(second)) {
      return { code: 'unknown-reference', message: `unknown output "${second}"${didYouMean(second, scope.outputs)}; this step's outputs: ${scope.outputs.size ? allowedList(scope.outputs) : 'none'}` };
    }
    return undefined;
  }
  if (head === 'steps') {
    const ids = [...scope.steps.keys()];
    const ref = `{{steps.${parts.slice(1).join('.')}}}`;
    if (second !== undefined && second === scope.self) {
      return { code: 'reference-unavailable', message: `${ref} refers to this step, whose outputs exist only after it runs; read them as {{outputs.NAME}} in its response mapping` };
    }
    if (second !== undefined && scope.later?.has(second)) {
      return { code: 'reference-unavailable', message: `${ref} refers to step "${second}", which runs later; only earlier steps' outputs are available (earlier steps: ${ids.length ? allowedList(ids) : 'none'})` };
    }
    if (second === undefined || !scope.steps.has(second)) {
      return { code: 'unknown-reference', message: `unknown step "${second ?? ''}" in ${ref}${didYouMean(second ?? '', ids)}; earlier steps: ${ids.length ? allowedList(ids) : 'none'}` };
    }
    if (third !== 'outputs' || fourth === undefined) return { code: 'unknown-reference', message: `use {{steps.${second}.outputs.NAME}} to read an earlier step's output` };
    const outs = scope.steps.get(second);
    if (outs && !outs.has(fourth)) return { code: 'unknown-reference', message: `step "${second}" has no output "${fourth}"${didYouMean(fourth, outs)}; its outputs: ${outs.size ? allowedList(outs) : 'none'}` };
    return undefined;
  }
  if (head === 'item') {
    if (!scope.item) return { code: 'reference-unavailable', message: `{{item.*}} is only available in import field mappings` };
    if (scope.item === 'unknown') return undefined;
    if (second === undefined || !scope.item.has(second)) {
      return { code: 'unknown-reference', message: `unknown item field "${second ?? ''}"${didYouMean(second ?? '', scope.item)}; item fields: ${allowedList(scope.item, 30)}` };
    }
    return undefined;
  }
  if (!scope.record) {
    return { code: 'reference-unavailable', message: `{{${parts.join('.')}}} is not available in ${scope.place}; use {{item.NAME}} or {{vars.NAME}}` };
  }
  if (!ctx.object) return undefined;
  if (!Object.hasOwn(ctx.object.fields, head)) {
    const names = Object.keys(ctx.object.fields);
    return { code: 'unknown-reference', message: `unknown field "${head}" on ${ctx.object.name}${didYouMean(head, [...names, 'vars', 'steps'])}; fields: ${allowedList(names, 30)}` };
  }
  if (second !== undefined) {
    // Fields hold one value each (renders as ""); the GUI habit of reading a related record.
    return { code: 'unknown-reference', message: `{{${parts.join('.')}}}: field "${head}" is a ${ctx.object.fields[head]!.type} and has no "${second}"; templates read this record's own fields (another record's fields, such as a manager's, are not available)` };
  }
  return undefined;
}
