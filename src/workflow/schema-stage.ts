// Stage one of validation: ajv against the JSON Schemas in schemas/, with every error mapped back
// to a YAML position and rewritten as one actionable message.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { DiagnosticSink, DiagnosticCode } from '../diagnostics.js';
import type { LocatedDoc, JsonPath } from './source.js';
import { allowedList, closest, didYouMean } from './did-you-mean.js';

export type SchemaKind = 'workflow' | 'config' | 'preset' | 'test';

const SCHEMA_IDS: Record<SchemaKind, string> = {
  workflow: 'https://skein.dev/schemas/workflow.schema.json',
  config: 'https://skein.dev/schemas/config.schema.json',
  preset: 'https://skein.dev/schemas/preset.schema.json',
  test: 'https://skein.dev/schemas/test.schema.json',
};

let ajv: Ajv2020 | undefined;

/**
 * Validators precompiled at build time (scripts/build-validators.mjs); absent when running from
 * src/ (tests), where the schemas are compiled on first use instead.
 */
const precompiled: Partial<Record<SchemaKind, ValidateFunction>> = await import(
  new URL('../generated/validators.js', import.meta.url).href
).catch(() => ({}));
const compiled = new Map<SchemaKind, ValidateFunction>();
const branchValidators = new WeakMap<object, ValidateFunction>();

function schemaDir(): URL {
  return new URL('../../schemas/', import.meta.url);
}

/** Loads a schema file from schemas/ (shipped with the package). */
export function readSchema(kind: SchemaKind): Record<string, unknown> {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`${kind}.schema.json`, schemaDir())), 'utf8')) as Record<string, unknown>;
}

/**
 * The schema compiler, loaded on first use only: with the precompiled validators a clean run
 * never needs it (loading ajv costs more than the whole validation of a small directory).
 */
function getAjv(): Ajv2020 {
  if (!ajv) {
    const require = createRequire(import.meta.url);
    const { Ajv2020: Ajv } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    const addFormats = require('ajv-formats') as (a: Ajv2020) => void;
    ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true });
    addFormats(ajv);
    for (const kind of Object.keys(SCHEMA_IDS) as SchemaKind[]) ajv.addSchema(readSchema(kind));
  }
  return ajv;
}

export function validatorFor(kind: SchemaKind): ValidateFunction {
  let v = compiled.get(kind) ?? precompiled[kind];
  if (!v) {
    v = getAjv().getSchema(SCHEMA_IDS[kind]) as ValidateFunction;
    compiled.set(kind, v);
  }
  return v;
}

/** Validates the document; reports each problem at its YAML position. Returns true when valid. */
export function checkSchema(kind: SchemaKind, doc: LocatedDoc, sink: DiagnosticSink): boolean {
  const validate = validatorFor(kind);
  if (validate(doc.value)) return true;
  const errors = simplifyErrors(validate.errors ?? [], doc.value);
  // Another version's file: its other keys mean nothing to this version, so say only that.
  const versionError = errors.find((e) => e.instancePath === '/version');
  for (const e of versionError ? [versionError] : errors) report(e, doc, sink, kind);
  return false;
}

function pathOf(instancePath: string): (string | number)[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function valueAt(root: unknown, path: JsonPath): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(v, seg)) return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** The parts of a credential that are secrets (a literal one is `literal-secret`, never echoed). */
const SECRET_PARTS: ReadonlySet<string> = new Set(['password', 'token', 'value']);

/**
 * Drops wrapper errors (if/then, propertyNames' inner errors) and replaces a failed oneOf/anyOf
 * by the errors of its most plausible branch, so users see one cause, not every alternative.
 */
function simplifyErrors(errors: ErrorObject[], root: unknown): ErrorObject[] {
  const alternatives = errors.filter((e) => (e.keyword === 'oneOf' || e.keyword === 'anyOf') && e.params.passingSchemas == null);
  let out = errors.filter((e) => e.keyword !== 'if' && !e.schemaPath.includes('/propertyNames/'));
  // A misspelt required key shows as "missing X" plus "unknown Y"; keep only the one with the hint.
  out = out.filter((e) => !(e.keyword === 'required' && misspeltAs(e, out)));
  for (const alt of alternatives) {
    const prefix = alt.instancePath;
    out = out.filter((e) => e === alt || !(e.instancePath === prefix || e.instancePath.startsWith(prefix + '/')));
    const branches = alt.schema as object[];
    const value = valueAt(root, pathOf(prefix));
    const best = pickBranch(alt.schemaPath, branches, value);
    const replacement = best ? best.map((e) => ({ ...e, instancePath: prefix + e.instancePath })) : [alt];
    out.splice(out.indexOf(alt), 1, ...replacement);
  }
  return out;
}

const RULE_COMBINATORS = ['all', 'any', 'not'];

/** Keys a rule leaf may hold, plus the combinators a misspelt rule node may have meant. */
function leafCandidates(allowed: string[]): string[] {
  return [...RULE_COMBINATORS, ...allowed];
}

/** True when `req` (a missing-key error) has an unknown key beside it that is that key misspelt. */
function misspeltAs(req: ErrorObject, all: ErrorObject[]): boolean {
  const missing = String(req.params.missingProperty);
  return all.some((e) => {
    if (e.keyword !== 'additionalProperties' || e.instancePath !== req.instancePath) return false;
    const extra = String(e.params.additionalProperty);
    if (closest(extra, [missing]) !== undefined) return true;
    // { al: [...] } is a misspelt `all`, not a leaf without `field`.
    return isRuleLeaf(e) && missing === 'field' && RULE_COMBINATORS.includes(closest(extra, RULE_COMBINATORS) ?? '');
  });
}

function isRuleLeaf(e: ErrorObject): boolean {
  return e.schemaPath.includes('ruleLeaf');
}

/** The compiled validator of one oneOf/anyOf branch, found by pointer so its $refs resolve. */
function branchValidator(schemaPath: string, index: number, branch: object): ValidateFunction | undefined {
  let v = branchValidators.get(branch);
  if (v) return v;
  for (const id of Object.values(SCHEMA_IDS)) {
    const candidate = getAjv().getSchema(`${id}${schemaPath}/${index}`);
    if (candidate && candidate.schema === branch) {
      v = candidate as ValidateFunction;
      break;
    }
  }
  if (v) branchValidators.set(branch, v);
  return v;
}

function pickBranch(schemaPath: string, branches: object[], value: unknown): ErrorObject[] | undefined {
  let best: ErrorObject[] | undefined;
  for (const [i, b] of branches.entries()) {
    const v = branchValidator(schemaPath, i, b);
    if (!v) return undefined;
    v(value);
    const errs = (v.errors ?? []).filter((e) => e.keyword !== 'if');
    const typeMismatch = errs.some((e) => e.keyword === 'type' && e.instancePath === '');
    const score = errs.length + (typeMismatch ? 1000 : 0);
    if (!best || score < scoreOf(best)) best = Object.assign(errs, { score });
  }
  return best;
}

function scoreOf(e: ErrorObject[]): number {
  return (e as ErrorObject[] & { score?: number }).score ?? e.length;
}

function describePath(path: JsonPath): string {
  if (path.length === 0) return 'the top level';
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s === '' ? seg : `.${seg}`;
  return s;
}

/** The usual fix for a value of the wrong shape: one item where a list goes, a list of rules. */
function typeHint(expected: unknown, data: unknown, path: JsonPath): string {
  const wants = Array.isArray(expected) ? expected : [expected];
  if (wants.includes('array') && (typeof data === 'string' || typeof data === 'number')) return `; write it as a list: [${String(data)}]`;
  const last = path[path.length - 1];
  if (Array.isArray(data) && (last === 'rules' || last === 'when' || last === 'not')) return '; put a list of rules under all: (every rule must hold) or any: (one is enough)';
  return '';
}

/**
 * `login: {{qualys_login}}` without quotes: YAML reads the braces as a mapping whose one key is
 * `{ qualys_login }`. Says so, with the template quoted as it should be written.
 */
function unquotedTemplate(v: unknown): string {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return '';
  const keys = Object.keys(v);
  const only = keys[0];
  if (keys.length !== 1 || !/^\{[^{}]*\}$/.test(only!) || (v as Record<string, unknown>)[only!] !== null) return '';
  return ` (YAML reads an unquoted {{...}} as a mapping); quote the template: "{${only}}"`;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)}`;
  return `${typeof v} ${String(v)}`;
}

function expectedType(t: unknown): string {
  const list = Array.isArray(t) ? (t as string[]) : [String(t)];
  const words: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', integer: 'an integer', boolean: 'a boolean (true or false)', null: 'null' };
  return list.map((x) => words[x] ?? x).join(' or ');
}

/** `; did you mean "x"?` for a value that fits the pattern once case or separators are fixed. */
function patternFix(value: string, pattern: string): string {
  const re = new RegExp(pattern);
  const candidates = [
    value.replace(/[^A-Za-z0-9_]+/g, '_'),
    value.toLowerCase().replace(/[\s_]+/g, '-'),
    value.toLowerCase().replace(/[\s-]+/g, '_'),
  ];
  const fix = candidates.find((c) => c !== value && re.test(c));
  return fix === undefined ? '' : `; did you mean "${fix}"?`;
}

/** What to write instead of `OPERATOR: false` for operators that only take true. */
const CONST_FALSE_HINTS: Record<string, string> = {
  is_empty: 'to test that the field has a value write is_not_empty: true',
  is_not_empty: 'to test that the field has no value write is_empty: true',
  changed: 'to test that the field did not change wrap the rule in not: { field: ..., changed: true }',
};

function report(e: ErrorObject, doc: LocatedDoc, sink: DiagnosticSink, kind: SchemaKind): void {
  const path = pathOf(e.instancePath);
  const where = describePath(path);
  const key = path.length ? String(path[path.length - 1]) : kind;
  const err = (code: DiagnosticCode, message: string, at: JsonPath, which: 'key' | 'value' = 'value') =>
    sink.error(code, message, doc.file, doc.locate(at, which));
  const parent = (e.parentSchema ?? {}) as { properties?: Record<string, unknown>; description?: string };
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = String(e.params.additionalProperty);
      const allowed = Object.keys(parent.properties ?? {});
      if (isRuleLeaf(e)) {
        const operators = allowed.filter((k) => k !== 'field' && k !== 'ignore_case');
        err('schema-unknown-key', `unknown rule operator "${extra}" in ${where}${didYouMean(extra, leafCandidates(allowed))}; a rule is all / any / not, or field plus one operator: ${allowedList(operators, 30)}`, [...path, extra], 'key');
        return;
      }
      err('schema-unknown-key', `unknown key "${extra}" in ${where}${didYouMean(extra, allowed)}; allowed: ${allowedList(allowed, 30)}`, [...path, extra], 'key');
      return;
    }
    case 'required': {
      const missing = String(e.params.missingProperty);
      err('schema-missing-key', `missing required key "${missing}" in ${where}`, path, path.length ? 'key' : 'value');
      return;
    }
    case 'type':
      if (kind === 'config' && path.length === 3 && path[0] === 'credentials' && SECRET_PARTS.has(String(path[2])) && typeof e.data !== 'object') {
        // Never echo the value: it is a secret that must not reach logs or CI annotations.
        err('literal-secret', `${where} is a literal ${path[2] === 'password' ? 'password' : 'secret'}; read it at run time with { env: NAME } or { file: PATH } instead of writing it into skein.yaml`, path);
        return;
      }
      err('schema-type', `${where} must be ${expectedType(e.params.type)}, found ${typeName(e.data)}${unquotedTemplate(e.data)}${typeHint(e.params.type, e.data, path)}`, path);
      return;
    case 'enum': {
      const allowed = (e.params.allowedValues as unknown[]).map(String);
      err('schema-enum', `${typeName(e.data)} is not allowed for ${where}${didYouMean(String(e.data), allowed)}; allowed: ${allowedList(allowed)}`, path);
      return;
    }
    case 'const':
      if (key === 'version' && path.length === 1) {
        const hint = String(e.data) === '1' ? '; write version: 1 without quotes' : '';
        err('schema-version', `unsupported version ${JSON.stringify(e.data)}; this skein reads version 1${hint}`, path);
      } else if (e.params.allowedValue === true && e.data === false && CONST_FALSE_HINTS[key]) {
        err('schema-value', `${key}: false is not allowed (${key} only takes true); ${CONST_FALSE_HINTS[key]}`, path);
      } else {
        err('schema-value', `${where} must be ${JSON.stringify(e.params.allowedValue)}, found ${typeName(e.data)}`, path);
      }
      return;
    case 'pattern': {
      // Under credentials a wrong value is often the secret itself pasted in: never echo it.
      if (path[0] === 'credentials') {
        const hint = key === 'env' ? 'a variable name has only letters, digits and _, and does not start with a digit' : `it must match ${e.params.pattern}`;
        err('schema-pattern', `${where} is not a valid ${key} (the value is not shown: it may be a secret); ${hint}`, path);
        return;
      }
      const suggest = typeof e.data === 'string' ? patternFix(e.data, String(e.params.pattern)) : '';
      err('schema-pattern', `${typeName(e.data)} is not a valid ${key}${suggest}; it must match ${e.params.pattern}${parent.description ? ` (${parent.description.split('.')[0]})` : ''}`, path);
      return;
    }
    case 'propertyNames': {
      // The rule differs by map (variables allow capitals, credentials a dash): quote the schema's.
      const pattern = (e.parentSchema as { propertyNames?: { pattern?: string } } | undefined)?.propertyNames?.pattern;
      // Without the guard against __proto__ and friends, which only clutters the message.
      const shown = pattern?.replace(/^\^\(\?![^)]*\)/, '^');
      const rule = shown ? `it must match ${shown}` : 'use lowercase letters, digits and underscores, starting with a letter';
      err('schema-pattern', `invalid name "${String(e.params.propertyName)}" in ${where}: ${rule}`, [...path, String(e.params.propertyName)], 'key');
      return;
    }
    case 'minItems':
      err('schema-value', `${where} needs at least ${e.params.limit} item(s)`, path);
      return;
    case 'uniqueItems':
      err('schema-value', `${where} lists ${JSON.stringify((e.data as unknown[])[e.params.i as number])} twice`, [...path, e.params.i as number]);
      return;
    case 'minProperties':
    case 'maxProperties': {
      const allowed = Object.keys(parent.properties ?? {});
      err('schema-value', `${where} takes exactly one of: ${allowedList(allowed)}`, path);
      return;
    }
    case 'maxLength':
    case 'minLength': {
      const n = typeof e.data === 'string' ? e.data.length : 0;
      err('schema-value', `${where} is ${n} characters long; ${e.keyword === 'maxLength' ? 'at most' : 'at least'} ${e.params.limit} allowed`, path);
      return;
    }
    case 'maximum':
    case 'minimum':
      err('schema-value', `${where} is ${String(e.data)}; it must be ${e.keyword === 'maximum' ? 'at most' : 'at least'} ${e.params.limit}`, path);
      return;
    case 'format':
      err('schema-value', `${typeName(e.data)} is not a valid ${e.params.format} for ${where}`, path);
      return;
    case 'oneOf':
    case 'anyOf':
      err('schema-shape', `${where} matches none of its allowed forms`, path);
      return;
    default:
      err('schema-value', `${where} ${e.message ?? 'is invalid'}`, path);
  }
}
