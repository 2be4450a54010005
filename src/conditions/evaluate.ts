// Evaluates rule trees against records, type-aware (numbers, booleans, ISO and relative dates),
// with changed* against an event's before/after. Rules compile once into closures so a scan over
// 100,000 records stays well under a second.
import type { FieldDef } from '../workflow/objects.js';
import { parseDate, parseRelativeDate } from './dates.js';

export type Fields = Record<string, unknown>;

export interface EvalInput {
  record: Fields;
  /** The event being handled, if any. `changed*` is false without one. */
  event?: { kind: 'created' | 'updated' | 'deleted'; before: Fields | null; after: Fields | null };
}

export type Predicate = (input: EvalInput) => boolean;

export interface CompileOptions {
  fields: Record<string, FieldDef>;
  now?: Date;
}

const isEmpty = (v: unknown) => v === undefined || v === null || v === '';
const text = (v: unknown, ci: boolean) => (ci ? String(v ?? '').toLowerCase() : String(v ?? ''));

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

function toBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  return s === 'true' || s === '1' ? true : s === 'false' || s === '0' ? false : undefined;
}

/** Compiles a rule tree (undefined: matches everything). */
export function compileRule(rule: unknown, opts: CompileOptions): Predicate {
  if (rule === undefined || rule === null) return () => true;
  const n = rule as Record<string, unknown>;
  if (Array.isArray(n.all)) {
    const parts = n.all.map((r) => compileRule(r, opts));
    return (i) => parts.every((p) => p(i));
  }
  if (Array.isArray(n.any)) {
    const parts = n.any.map((r) => compileRule(r, opts));
    return (i) => parts.some((p) => p(i));
  }
  if ('not' in n) {
    const inner = compileRule(n.not, opts);
    return (i) => !inner(i);
  }
  return compileLeaf(n, opts);
}

function compileLeaf(leaf: Record<string, unknown>, opts: CompileOptions): Predicate {
  const field = String(leaf.field);
  const type = opts.fields[field]?.type ?? 'string';
  const ci = leaf.ignore_case === true;
  const now = opts.now ?? new Date();
  const equalsFn = (expected: unknown) => makeEquals(type, expected, ci, now);
  const get = (i: EvalInput) => i.record[field];
  const changed = (i: EvalInput) => {
    const e = i.event;
    if (!e) return false;
    if (e.kind === 'created') return !isEmpty(e.after?.[field]);
    if (e.kind === 'deleted') return !isEmpty(e.before?.[field]);
    return String(e.before?.[field] ?? '') !== String(e.after?.[field] ?? '');
  };
  if ('equals' in leaf) {
    const eq = equalsFn(leaf.equals);
    return (i) => eq(get(i));
  }
  if ('not_equals' in leaf) {
    const eq = equalsFn(leaf.not_equals);
    return (i) => !eq(get(i));
  }
  if ('in' in leaf || 'not_in' in leaf) {
    const list = ((leaf.in ?? leaf.not_in) as unknown[]).map(equalsFn);
    const negate = 'not_in' in leaf;
    return (i) => {
      const v = get(i);
      return list.some((eq) => eq(v)) !== negate;
    };
  }
  const strOp = (op: string, fn: (a: string, b: string) => boolean): Predicate => {
    const b = text(leaf[op], ci);
    return (i) => fn(text(get(i), ci), b);
  };
  if ('contains' in leaf) return strOp('contains', (a, b) => a.includes(b));
  if ('not_contains' in leaf) return strOp('not_contains', (a, b) => !a.includes(b));
  if ('starts_with' in leaf) return strOp('starts_with', (a, b) => a.startsWith(b));
  if ('ends_with' in leaf) return strOp('ends_with', (a, b) => a.endsWith(b));
  if ('matches' in leaf) {
    const re = new RegExp(String(leaf.matches), ci ? 'i' : '');
    return (i) => !isEmpty(get(i)) && re.test(String(get(i)));
  }
  if ('is_empty' in leaf) return (i) => isEmpty(get(i));
  if ('is_not_empty' in leaf) return (i) => !isEmpty(get(i));
  for (const op of ['gt', 'gte', 'lt', 'lte', 'before', 'after'] as const) {
    if (!(op in leaf)) continue;
    const cmp = makeCompare(type, leaf[op], now, op === 'before' || op === 'after');
    const test = { gt: (c: number) => c > 0, gte: (c: number) => c >= 0, lt: (c: number) => c < 0, lte: (c: number) => c <= 0, before: (c: number) => c < 0, after: (c: number) => c > 0 }[op];
    return (i) => {
      const c = cmp(get(i));
      return c !== undefined && test(c);
    };
  }
  if ('changed' in leaf) return changed;
  if ('changed_from' in leaf) {
    const eq = equalsFn(leaf.changed_from);
    return (i) => changed(i) && i.event?.kind === 'updated' && eq(i.event.before?.[field]);
  }
  if ('changed_to' in leaf) {
    const eq = equalsFn(leaf.changed_to);
    // A deleted record changed to nothing, whatever the value: changed_to is false there (docs).
    return (i) => changed(i) && i.event?.kind !== 'deleted' && eq(i.event?.after?.[field]);
  }
  return () => false;
}

function makeEquals(type: string, expected: unknown, ci: boolean, now: Date): (v: unknown) => boolean {
  // "" stands for "no value" whatever the field's type (the docs: an absent or empty field equals
  // only ""), so `not_equals: ""` is a has-a-value guard on numbers, booleans and dates too.
  if (expected === '') return (v) => isEmpty(v);
  if (type === 'number') {
    const e = toNumber(expected);
    return (v) => e !== undefined && toNumber(v) === e;
  }
  if (type === 'boolean') {
    const e = toBool(expected);
    return (v) => e !== undefined && toBool(v) === e;
  }
  if (type === 'date') {
    const e = typeof expected === 'string' ? parseRelativeDate(expected, now) : undefined;
    // Dates compare by day when the expected value has no time part (e.g. "today", "2026-01-31").
    const dayOnly = typeof expected === 'string' && (/^\d{4}-\d{2}-\d{2}$/.test(expected) || /^today/i.test(expected));
    return (v) => {
      const t = typeof v === 'string' ? parseDate(v) : undefined;
      if (t === undefined || e === undefined) return false;
      return dayOnly ? Math.floor(t / 86_400_000) === Math.floor(e / 86_400_000) : t === e;
    };
  }
  const e = text(expected, ci);
  return (v) => !isEmpty(v) || e === '' ? text(v, ci) === e : false;
}

/** Returns a comparator giving sign(field - expected), or undefined when not comparable. */
function makeCompare(type: string, expected: unknown, now: Date, forceDate: boolean): (v: unknown) => number | undefined {
  const expNum = toNumber(expected);
  const useDate = forceDate || type === 'date' || (typeof expected === 'string' && expNum === undefined);
  if (useDate) {
    const e = typeof expected === 'string' ? parseRelativeDate(expected, now) : undefined;
    return (v) => {
      const t = typeof v === 'string' ? parseDate(v) : undefined;
      return t === undefined || e === undefined ? undefined : Math.sign(t - e);
    };
  }
  return (v) => {
    const n = toNumber(v);
    return n === undefined || expNum === undefined ? undefined : Math.sign(n - expNum);
  };
}
