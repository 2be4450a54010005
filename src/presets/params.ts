// Checks preset parameters against the preset's inputs and constraints. Used twice: on literal
// values at validate time (templated values count as "present, value unknown") and on rendered
// values before a request is built, so a bad value never reaches the vendor.
import type { Constraint, Input } from '../generated/preset.js';
import type { Preset } from './registry.js';
import { allowedList, didYouMean } from '../workflow/did-you-mean.js';

/** Marks a parameter whose value is a template: present, but unknown until run time. */
export const UNKNOWN = Symbol('templated');
export type ParamValue = string | number | boolean | typeof UNKNOWN;

export interface ParamProblem {
  param: string;
  code: 'missing-param' | 'unknown-param' | 'param-value' | 'param-conflict';
  message: string;
  /** The parameter whose value makes this one required, forbidden or restricted (constraints). */
  cause?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Normalizes a boolean input value: true/false, 1/0 and their strings. Undefined when invalid. */
export function toBoolean(v: string | number | boolean): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const s = String(v).trim().toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  return undefined;
}

/** Problem with one known value, or undefined when it fits the input. */
export function checkInputValue(name: string, input: Input, value: string | number | boolean): string | undefined {
  if (input.type === 'boolean') {
    return toBoolean(value) === undefined ? `${name} takes true or false (or 1 / 0), found ${JSON.stringify(value)}` : undefined;
  }
  if (typeof value === 'boolean') return `${name} takes ${input.type === 'integer' ? 'an integer' : 'text'}, found ${value}`;
  const text = String(value);
  if (input.type === 'integer' && !/^-?\d+$/.test(text)) return `${name} takes an integer, found ${JSON.stringify(text)}`;
  if (text === '') {
    return input.required && !input.allow_empty ? `${name} may not be empty` : undefined;
  }
  const items = input.list ? text.split(',').map((s) => s.trim()) : [text];
  for (const item of items) {
    if (input.maxLength !== undefined && item.length > input.maxLength) {
      return `${name} is ${item.length} characters long; at most ${input.maxLength} allowed`;
    }
    if (input.minLength !== undefined && item.length < input.minLength) {
      return `${name} is ${item.length} characters long; at least ${input.minLength} required`;
    }
    if (input.enum && !input.enum.includes(item)) {
      return `${JSON.stringify(item)} is not a valid ${name}${didYouMean(item, input.enum)}; allowed: ${allowedList(input.enum)}`;
    }
    if (input.pattern && !new RegExp(`^(?:${input.pattern})$`).test(item)) {
      return `${JSON.stringify(item)} is not a valid ${name}: ${input.pattern_hint ?? `must match ${input.pattern}`}`;
    }
    if (input.format === 'email' && !EMAIL.test(item)) return `${JSON.stringify(item)} is not a valid email address for ${name} (expected the form name@example.com)`;
  }
  return undefined;
}

function whenParam(c: Constraint): string | undefined {
  return Object.keys(c.when ?? {})[0];
}

function conditionHolds(c: Constraint, params: Record<string, ParamValue>): boolean | undefined {
  const [[name, test] = []] = Object.entries(c.when ?? {});
  if (name === undefined || test === undefined) return true;
  const v = params[name];
  if (test.present !== undefined) return test.present === (v !== undefined && v !== '');
  if (v === undefined) return false;
  if (v === UNKNOWN) return undefined;
  if (test.equals !== undefined) return String(v) === String(test.equals);
  if (test.in) return test.in.includes(String(v));
  return true;
}

/** The condition of a constraint in words, with the value found: ` when country is "Canada"`. */
function describeWhen(c: Constraint, params: Record<string, ParamValue>): string {
  const [[name, test] = []] = Object.entries(c.when ?? {});
  if (!name || !test) return '';
  const actual = params[name];
  const known = actual !== undefined && actual !== UNKNOWN;
  if (test.equals !== undefined) return ` when ${name} is ${JSON.stringify(test.equals)}`;
  if (test.in) {
    const list = test.in.length <= 4 ? `one of ${test.in.map((x) => JSON.stringify(x)).join(', ')}` : `one of ${test.in.length} values`;
    return ` when ${name} is ${list}${known ? ` (here ${JSON.stringify(actual)})` : ''}`;
  }
  return ` when ${name} is ${test.present ? 'given' : 'not given'}`;
}

/** Checks a step's params against a preset. Templated values are `UNKNOWN`. */
export function checkParams(preset: Preset, params: Record<string, ParamValue>): ParamProblem[] {
  const problems: ParamProblem[] = [];
  const inputs = preset.inputs as Record<string, Input>;
  const inputOf = (n: string): Input | undefined => (Object.hasOwn(inputs, n) ? inputs[n] : undefined);
  const present = (n: string) => params[n] !== undefined && !(params[n] === '' && !inputOf(n)?.allow_empty);
  for (const [name, value] of Object.entries(params)) {
    const input = inputOf(name);
    if (!input) {
      problems.push({ param: name, code: 'unknown-param', message: `${preset.id} has no parameter "${name}"${didYouMean(name, Object.keys(inputs))}; parameters: ${allowedList(Object.keys(inputs), 30)}` });
      continue;
    }
    if (value === UNKNOWN) continue;
    const msg = checkInputValue(name, input, value);
    if (msg) problems.push({ param: name, code: 'param-value', message: msg });
  }
  for (const [name, input] of Object.entries(inputs)) {
    if (input.required && !Object.hasOwn(params, name)) {
      problems.push({ param: name, code: 'missing-param', message: `${preset.id} needs parameter "${name}" (${input.description.split('.')[0]})` });
    }
  }
  for (const c of preset.constraints ?? []) {
    const why = c.message ? ` (${c.message})` : '';
    if (c.exclusive) {
      const given = c.exclusive.filter(present);
      if (given.length > 1) problems.push({ param: given[1]!, code: 'param-conflict', message: `${given.join(' and ')} cannot be used together${why}` });
    }
    if (!c.when) continue;
    if (conditionHolds(c, params) !== true) continue;
    const cause = whenParam(c);
    for (const r of c.require ?? []) {
      // A required value is never satisfied by "", even where "" clears the input: a state
      // cleared while the country becomes one that needs a state is a contradiction.
      if (!present(r) || params[r] === '') problems.push({ param: r, cause, code: 'missing-param', message: `${preset.id} needs parameter "${r}"${describeWhen(c, params)}${why}` });
    }
    for (const f of c.forbid ?? []) {
      if (present(f)) problems.push({ param: f, cause, code: 'param-conflict', message: `${f} is not allowed${describeWhen(c, params)}${why}` });
    }
    for (const [target, allowed] of Object.entries(c.allow ?? {})) {
      const v = params[target];
      if (v === undefined || v === UNKNOWN || v === '') continue;
      if (!allowed.includes(String(v))) {
        problems.push({ param: target, cause, code: 'param-value', message: `${JSON.stringify(v)} is not a valid ${target}${describeWhen(c, params)}${didYouMean(String(v), allowed)}; allowed: ${allowedList(allowed, 60)}` });
      }
    }
  }
  return problems;
}
