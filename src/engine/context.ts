// The template context of a record: its fields at the top level (as GUI workflow users write
// them), vars, earlier steps' outputs, and after a call the response.
import type { Fields } from '../store/types.js';
import type { FieldDef } from '../workflow/objects.js';
import { renderableTree } from '../template/render.js';
import type { ParsedResponse } from './response.js';
import { MASK } from '../records/format.js';
import { replaceForms, secretForms } from '../secret-names.js';

export interface StepResult {
  outputs: Record<string, string>;
}

/**
 * The values of the record's sensitive fields, kept on its context under this symbol (invisible
 * to templates): the request shown in plans and run history masks them wherever they were rendered.
 */
const SENSITIVE_VALUES = Symbol('sensitive values');
/** The plan a context was made by, so its response contexts can be made the same way. */
const PLAN = Symbol('context plan');

/**
 * Per object's declared fields: makers of record and response contexts, each one object literal
 * with every declared field. V8 copies a 30-property object with spread or Object.assign in
 * ~10 us (its fast clone path does not cover objects that size); a literal takes ~0.2 us, and a
 * run builds two per record and step. A literal with a getter takes ~2 us, hence two response
 * makers: the parsed body as a value, or as a getter when the mapping may never need it.
 */
interface ContextPlan {
  declared: Set<string>;
  sensitive: string[];
  make: (fields: Fields, vars: unknown, steps: unknown, secrets: string[] | undefined, plan: ContextPlan, P: symbol, S: symbol) => Record<string, unknown>;
  respond: (base: Record<string, unknown>, status: unknown, headers: unknown, outputs: unknown, error: unknown, response: unknown) => Record<string, unknown>;
  respondLazily: (base: Record<string, unknown>, status: unknown, headers: unknown, outputs: unknown, error: unknown, response: () => unknown) => Record<string, unknown>;
}
const plans = new WeakMap<Record<string, FieldDef>, ContextPlan | null>();

function planFor(declared: Record<string, FieldDef>): ContextPlan | null {
  let plan = plans.get(declared);
  if (plan !== undefined) return plan;
  const names = Object.keys(declared);
  // Field names are checked by the config schema ([a-z][a-z0-9_]*); anything else takes the
  // generic path rather than generated code.
  if (!names.every((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n) && n !== '__proto__')) {
    plans.set(declared, null);
    return null;
  }
  const q = (n: string) => JSON.stringify(n);
  const copy = names.map((n) => `${q(n)}: b[${q(n)}]`).join(', ');
  const response = 'vars: b.vars, steps: b.steps, response_status: status, response_headers: headers, outputs: outputs, error: error';
  plan = {
    declared: new Set(names),
    sensitive: names.filter((n) => declared[n]!.sensitive),
    // An unset declared field renders as ''; a stored null stays null (as the record has it).
    make: new Function(
      'f', 'vars', 'steps', 'secrets', 'plan', 'P', 'S',
      `return { ${names.map((n) => `${q(n)}: f[${q(n)}] === undefined ? '' : f[${q(n)}]`).join(', ')}, vars: vars, steps: steps, [P]: plan, [S]: secrets };`,
    ) as ContextPlan['make'],
    respond: new Function('b', 'status', 'headers', 'outputs', 'error', 'response', `return { ${copy}, ${response}, response: response };`) as ContextPlan['respond'],
    respondLazily: new Function('b', 'status', 'headers', 'outputs', 'error', 'response', `return { ${copy}, ${response}, get response() { return response(); } };`) as ContextPlan['respondLazily'],
  };
  plans.set(declared, plan);
  return plan;
}

/** Record fields plus every declared field (empty when unset) so `{{phone}}` renders as ''. */
export function recordContext(fields: Fields, declared: Record<string, FieldDef>, vars: Record<string, unknown>, steps: Record<string, StepResult>): Record<string, unknown> {
  const plan = planFor(declared);
  let secrets: string[] | undefined;
  for (const name of plan ? plan.sensitive : Object.keys(declared).filter((n) => declared[n]!.sensitive)) {
    const v = fields[name];
    if (v !== undefined && v !== null && String(v) !== '') (secrets ??= []).push(String(v));
  }
  if (plan && onlyDeclared(fields, plan.declared)) return plan.make(fields, vars, steps, secrets, plan, PLAN, SENSITIVE_VALUES);
  // A stored field no longer declared (skein.yaml changed), or unusual names: copied one by one.
  const ctx: Record<string | symbol, unknown> = {};
  for (const name of Object.keys(declared)) ctx[name] = fields[name] ?? '';
  for (const [k, v] of Object.entries(fields)) ctx[k] = v;
  ctx.vars = vars;
  ctx.steps = steps;
  ctx[SENSITIVE_VALUES] = secrets;
  return ctx as Record<string, unknown>;
}

function onlyDeclared(fields: Fields, declared: Set<string>): boolean {
  for (const k in fields) if (!declared.has(k) || k === 'vars' || k === 'steps') return false;
  return true;
}

/** Adds values to mask (secret outputs of earlier steps) to a record context. */
export function addSensitiveValues(ctx: object, values: readonly string[]): void {
  if (!values.length) return;
  const c = ctx as { [SENSITIVE_VALUES]?: string[] };
  c[SENSITIVE_VALUES] = [...(c[SENSITIVE_VALUES] ?? []), ...values];
}

/** The sensitive values a context carries (see SENSITIVE_VALUES). */
export function sensitiveValues(ctx: object): readonly string[] {
  return (ctx as { [SENSITIVE_VALUES]?: string[] })[SENSITIVE_VALUES] ?? [];
}

/** Replaces every sensitive value in `text`, also in its encoded spellings. */
export function maskText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = replaceForms(out, secretForms(s), MASK);
  return out;
}

/** Why a step failed, for {{error.message}} / {{error.code}} in error_response mappings. */
export interface StepErrorContext {
  message: string;
  code: string;
}

const NO_ERROR: StepErrorContext = Object.freeze({ message: '', code: '' });

/**
 * Adds what response mappings may use. The parsed body is wrapped for templates on first use,
 * unless `wantsBody` says the mapping names it (then at once, which is cheaper than a getter).
 */
export function responseContext(base: Record<string, unknown>, status: number | undefined, headers: Record<string, string>, res: ParsedResponse | undefined, wantsBody = false, error: StepErrorContext = NO_ERROR): Record<string, unknown> {
  const body = () => (res ? renderableTree(res.tree ?? res.text, res.text) : '');
  const outputs = res?.outputs ?? {};
  const plan = (base as { [PLAN]?: ContextPlan })[PLAN];
  if (plan) return wantsBody ? plan.respond(base, status ?? '', headers, outputs, error, body()) : plan.respondLazily(base, status ?? '', headers, outputs, error, lazy(body));
  const get = lazy(body);
  return {
    ...base,
    response_status: status ?? '',
    response_headers: headers,
    outputs,
    error,
    get response() {
      return get();
    },
  };
}

function lazy<T>(f: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = f();
      done = true;
    }
    return value;
  };
}
