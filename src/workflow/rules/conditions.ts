// Rule-tree checks: one operator per leaf, known fields, compiling regexes, values that fit the
// operator and the field type, and changed* only on workflows triggered by `updated`.
import type { JsonPath } from '../source.js';
import type { WorkflowContext, WorkflowRule } from '../context.js';
import { allowedList, didYouMean } from '../did-you-mean.js';
import { parseRelativeDate } from '../../conditions/dates.js';

export const OPERATORS = [
  'equals', 'not_equals', 'contains', 'not_contains', 'starts_with', 'ends_with', 'in', 'not_in', 'matches',
  'is_empty', 'is_not_empty', 'gt', 'gte', 'lt', 'lte', 'before', 'after', 'changed', 'changed_from', 'changed_to',
] as const;
const CHANGE_OPS = new Set(['changed', 'changed_from', 'changed_to']);
const ORDER_OPS = new Set(['gt', 'gte', 'lt', 'lte']);
const DATE_OPS = new Set(['before', 'after']);

type Node = Record<string, unknown>;

export function checkRuleTree(ctx: WorkflowContext, node: unknown, path: JsonPath): void {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  const n = node as Node;
  if (Array.isArray(n.all)) return n.all.forEach((c, i) => checkRuleTree(ctx, c, [...path, 'all', i]));
  if (Array.isArray(n.any)) return n.any.forEach((c, i) => checkRuleTree(ctx, c, [...path, 'any', i]));
  if ('not' in n) return checkRuleTree(ctx, n.not, [...path, 'not']);
  checkLeaf(ctx, n, path);
}

function checkLeaf(ctx: WorkflowContext, leaf: Node, path: JsonPath): void {
  const ops = OPERATORS.filter((op) => Object.hasOwn(leaf, op));
  if (ops.length !== 1) {
    const msg = ops.length === 0
      ? `rule on field ${JSON.stringify(leaf.field)} has no operator; add one of: ${allowedList(OPERATORS, 30)}`
      : `rule on field ${JSON.stringify(leaf.field)} has ${ops.length} operators (${ops.join(', ')}); use one per rule and combine rules with all / any`;
    ctx.error('rule-operator', msg, ops.length ? [...path, ops[1]!] : path, 'key');
    return;
  }
  const op = ops[0]!;
  const value = leaf[op];
  const fieldName = String(leaf.field);
  const field = ctx.object && Object.hasOwn(ctx.object.fields, fieldName) ? ctx.object.fields[fieldName] : undefined;
  if (ctx.object && !field) {
    const names = Object.keys(ctx.object.fields);
    ctx.error('unknown-field', `unknown field "${fieldName}" on ${ctx.object.name}${didYouMean(fieldName, names)}; fields: ${allowedList(names, 30)}`, [...path, 'field']);
  }
  if (CHANGE_OPS.has(op) && !ctx.wf.trigger.on.includes('updated')) {
    ctx.error('changed-needs-updated', `operator ${op} compares an update's before and after values; add updated to trigger.on (it has: ${ctx.wf.trigger.on.join(', ')})`, [...path, op], 'key');
  }
  if (op === 'matches') {
    try {
      new RegExp(String(value), leaf.ignore_case ? 'i' : '');
    } catch (err) {
      const reason = /^Invalid regular expression: \/.*\/[a-z]*: (.*)$/s.exec((err as Error).message)?.[1] ?? (err as Error).message;
      ctx.error('regex-invalid', `invalid regular expression ${JSON.stringify(String(value))}: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}; matches takes a JavaScript regular expression`, [...path, op]);
    }
  }
  if (DATE_OPS.has(op) || (ORDER_OPS.has(op) && typeof value === 'string')) {
    if (typeof value === 'string' && parseRelativeDate(value, new Date()) === undefined) {
      ctx.error('rule-value', `${JSON.stringify(value)} is not a date: use ISO 8601 (2026-01-31, 2026-01-31T08:00:00Z), now, today, or a relative date such as now-30d, today+1d, now-2h`, [...path, op]);
    } else if (field && field.type !== 'date' && field.type !== 'string') {
      // A date value makes gt/lt compare dates too: never true on a number or a boolean.
      ctx.error('rule-value', `${op} compares dates but field "${fieldName}" is a ${field.type}`, [...path, op], DATE_OPS.has(op) ? 'key' : 'value');
    }
  }
  if (ORDER_OPS.has(op) && typeof value === 'number' && field && field.type !== 'number' && field.type !== 'string') {
    ctx.error('rule-value', `${op} with a number needs a number field; "${fieldName}" is a ${field.type}`, [...path, op]);
  }
  if (field && VALUE_OPS.has(op)) {
    // The values a field is compared with must be of its type ('' stands for "empty" in any).
    const values: Array<[unknown, (string | number)[]]> = Array.isArray(value) ? value.map((v, i) => [v, [...path, op, i]]) : [[value, [...path, op]]];
    for (const [v, at] of values) {
      const problem = valueProblem(field.type, v);
      if (problem) ctx.error('rule-value', `field "${fieldName}" is a ${field.type}; ${problem}`, at);
      else if (typeof v === 'number' && field.type !== 'number') warnNumberText(ctx, v, at);
    }
  }
}

/**
 * A number written in a rule compares as its text, but YAML reads 01234 as 1234 and 1.50 as 1.5:
 * against a text field that is a different text from the one written, so say so.
 */
function warnNumberText(ctx: Parameters<WorkflowRule>[0], v: number, at: (string | number)[]): void {
  const node = ctx.doc.doc.getIn(at, true) as { source?: unknown } | undefined;
  const written = typeof node?.source === 'string' ? node.source : undefined;
  if (written === undefined || written === String(v)) return;
  ctx.warning('rule-number-text', `${written} is read as the number ${v}, which compares as the text "${v}"; quote it ("${written}") to compare the text as written`, at);
}

/** Operators whose value is compared with the field's value as its type. */
const VALUE_OPS: ReadonlySet<string> = new Set(['equals', 'not_equals', 'in', 'not_in', 'changed_from', 'changed_to']);

function valueProblem(type: string, v: unknown): string | undefined {
  if (v === '' || v === null) return undefined;
  if (type === 'boolean' && typeof v !== 'boolean') return `compare it with true or false, found ${JSON.stringify(v)}`;
  if (type === 'number' && (typeof v === 'boolean' || (typeof v === 'string' && (v.trim() === '' || Number.isNaN(Number(v)))))) return `${JSON.stringify(v)} is not a number`;
  if (type === 'date' && (typeof v !== 'string' || parseRelativeDate(v, new Date()) === undefined)) {
    return `${JSON.stringify(v)} is not a date: use ISO 8601 (2026-01-31), now, today, or a relative date such as now-30d`;
  }
  return undefined;
}

export const checkRules: WorkflowRule = (ctx) => {
  if (ctx.wf.rules !== undefined) checkRuleTree(ctx, ctx.wf.rules, ['rules']);
  ctx.wf.steps?.forEach((s, i) => {
    if (s.when !== undefined) checkRuleTree(ctx, s.when, ['steps', i, 'when']);
  });
};
