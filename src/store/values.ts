// Field values on write: check and coerce raw input (CSV strings, JSON values, CLI FIELD=VALUE)
// to the field's type, and merge a checked patch into a record. Shared by every store back end,
// so the rules are the same whichever database holds the data.
import type { FieldDef, FieldType, ObjectDef } from '../workflow/objects.js';
import type { FieldPatch, FieldValue, Fields } from './types.js';

/** A checked patch: field -> new value, or null to clear the field. */
export type CheckedPatch = Record<string, FieldValue | null>;

export type CoerceResult = { ok: true; value: FieldValue | null } | { ok: false; reason: string };

const EXPECTED: Record<FieldType, string> = {
  string: 'a single-line string',
  long_text: 'text',
  number: 'a number',
  boolean: 'a boolean (true/false, yes/no, 1/0)',
  date: 'an ISO 8601 date or date-time (e.g. 2024-05-01 or 2024-05-01T09:30:00Z)',
};

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;
const TRUE_WORDS = new Set(['true', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'no', '0']);

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** True for `YYYY-MM-DD` and ISO date-times with a real calendar day and valid clock fields. */
export function isIsoDate(s: string): boolean {
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > DAYS_IN_MONTH[mo - 1]!) return false;
  if (mo === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0))) return false;
  if (m[4] === undefined) return true;
  // A UTC offset is at most 14 hours (+14:00, Kiribati), its minutes below 60.
  const off = m[7] && /^[+-](\d{2}):?(\d{2})$/.exec(m[7]);
  if (off && (Number(off[1]) > 14 || Number(off[2]) > 59)) return false;
  return Number(m[4]) <= 23 && Number(m[5]) <= 59 && (m[6] === undefined || Number(m[6]) <= 60);
}

function describe(value: unknown, def: FieldDef): string {
  // A sensitive value is never echoed back, not even in an error message.
  if (def.sensitive) return `a ${Array.isArray(value) ? 'list' : typeof value} (value hidden: sensitive field)`;
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** Checks one value against its field definition; null/undefined/"" mean "clear". */
export function coerceValue(field: string, def: FieldDef, value: unknown): CoerceResult {
  if (value === null || value === undefined || value === '') return { ok: true, value: null };
  const bad = (): CoerceResult => ({
    ok: false,
    reason: `field "${field}" expects ${EXPECTED[def.type]}; got ${describe(value, def)}`,
  });
  switch (def.type) {
    case 'string':
    case 'long_text': {
      let s: string;
      if (typeof value === 'string') s = value;
      else if (typeof value === 'number' && Number.isFinite(value)) s = String(value);
      else if (typeof value === 'boolean') s = String(value);
      else return bad();
      if (def.type === 'string' && /[\r\n]/.test(s)) {
        return { ok: false, reason: `field "${field}" is a single-line string; got a line break (declare it as long_text for multi-line text)` };
      }
      return { ok: true, value: s };
    }
    case 'number': {
      if (typeof value === 'number') return Number.isFinite(value) ? { ok: true, value } : bad();
      if (typeof value === 'string' && NUMBER_RE.test(value.trim())) {
        // 1e999 has a number's shape but no finite value (JSON would store it as null).
        const n = Number(value.trim());
        return Number.isFinite(n) ? { ok: true, value: n } : bad();
      }
      return bad();
    }
    case 'boolean': {
      if (typeof value === 'boolean') return { ok: true, value };
      if (value === 1 || value === 0) return { ok: true, value: value === 1 };
      if (typeof value === 'string') {
        const w = value.trim().toLowerCase();
        if (TRUE_WORDS.has(w)) return { ok: true, value: true };
        if (FALSE_WORDS.has(w)) return { ok: true, value: false };
      }
      return bad();
    }
    case 'date': {
      if (typeof value === 'string' && isIsoDate(value.trim())) return { ok: true, value: value.trim() };
      return bad();
    }
  }
}

/** Problems with a patch, in field order; empty when the patch can be written. */
export interface PatchCheck {
  values: CheckedPatch;
  problems: string[];
}

/** `unknown field "x" for object "users"; allowed: a, b, c` with the allowed names sorted. */
export function unknownFieldMessage(def: ObjectDef, field: string): string {
  return `unknown field "${field}" for object "${def.name}"; allowed: ${Object.keys(def.fields).sort().join(', ')}`;
}

/**
 * Checks every field of a raw patch against the object's definition. The key field may appear
 * only with the record's own key (`expectedKey`); clearing it is a problem.
 */
export function checkPatch(def: ObjectDef, patch: FieldPatch, expectedKey?: string): PatchCheck {
  const values: CheckedPatch = {};
  const problems: string[] = [];
  for (const [field, raw] of Object.entries(patch)) {
    const fdef = def.fields[field];
    if (!fdef) {
      problems.push(unknownFieldMessage(def, field));
      continue;
    }
    const r = coerceValue(field, fdef, raw);
    if (!r.ok) {
      problems.push(r.reason);
      continue;
    }
    if (field === def.key) {
      // An empty expected key was already reported as missing by keyProblem.
      if (expectedKey === '') continue;
      if (r.value === null) problems.push(`key field "${field}" cannot be cleared`);
      else if (expectedKey !== undefined && String(r.value) !== expectedKey) {
        problems.push(`key field "${field}" is "${expectedKey}" and cannot be changed to ${JSON.stringify(String(r.value))}`);
      }
      continue;
    }
    values[field] = r.value;
  }
  return { values, problems };
}

/** Validates a record key: non-empty, single line, not padded with spaces. */
/**
 * Longest key, in characters, on every back end: PostgreSQL's primary-key index holds at most
 * about 8 KB per entry, and a 4-byte-per-character key of 1,000 characters stays under it.
 */
export const MAX_KEY_LENGTH = 1000;

export function keyProblem(def: ObjectDef, key: string): string | null {
  if (key === '') return `missing key field "${def.key}"`;
  if (key.length > MAX_KEY_LENGTH) return `key field "${def.key}" is ${key.length} characters long; at most ${MAX_KEY_LENGTH}`;
  if (/[\r\n]/.test(key)) return `key field "${def.key}" contains a line break`;
  if (key.trim() !== key) return `key field "${def.key}" has leading or trailing spaces: ${JSON.stringify(key)}`;
  return null;
}

/** Result of merging a checked patch into a record's fields. */
export interface MergeResult {
  after: Fields;
  /** Field names whose value differs, sorted; empty means the write is a no-op. */
  changed: string[];
}

/** Merges a checked patch into `before` (null: new record) and sets the key field. */
export function mergeFields(def: ObjectDef, key: string, before: Fields | null, patch: CheckedPatch): MergeResult {
  // Object.assign, not spread: V8 adds properties to a spread copy through its slow path (~1 us).
  const after: Fields = Object.assign({}, before);
  after[def.key] = key;
  for (const [field, value] of Object.entries(patch)) {
    if (value === null) delete after[field];
    else after[field] = value;
  }
  return { after, changed: diffFields(before, after) };
}

/** Sorted names of fields that differ between two field sets (null = no record). */
export function diffFields(before: Fields | null, after: Fields | null): string[] {
  const names = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const changed: string[] = [];
  for (const n of names) {
    if (before?.[n] !== after?.[n] || (before === null) !== (after === null)) changed.push(n);
  }
  return changed.sort();
}

/** The string form used by `where` filters and text output; absent is "". */
export function stringForm(value: FieldValue | undefined): string {
  return value === undefined ? '' : String(value);
}
