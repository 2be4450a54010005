// Text output of records: an aligned table, JSON (flat objects) or CSV. Sensitive fields are
// shown as ******** unless the caller asks to reveal them; absent fields stay empty.
import type { Fields, StoredRecord } from '../store/types.js';
import { stringForm } from '../store/values.js';
import type { ObjectDef } from '../workflow/objects.js';
import { escapeControl } from '../text.js';

export const LIST_FORMATS = ['table', 'json', 'csv'] as const;
export type ListFormat = (typeof LIST_FORMATS)[number];

export const MASK = '********';

/** Widest a table cell gets before it is cut with an ellipsis. */
const MAX_CELL = 60;

export interface FormatOptions {
  /** Show sensitive values instead of the mask (default false). */
  reveal?: boolean;
}

/** The fields of a record with sensitive values masked (unless reveal). */
export function maskedFields(def: ObjectDef, fields: Fields, opts: FormatOptions = {}): Fields {
  if (opts.reveal) return { ...fields };
  const out: Fields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = def.fields[k]?.sensitive ? MASK : v;
  return out;
}

/**
 * Columns to show: the key first, then the object's fields in declaration order, then any stored
 * field no longer declared; only fields that some record has (the key always).
 */
export function columnsFor(def: ObjectDef, records: StoredRecord[]): string[] {
  const present = new Set<string>();
  for (const r of records) for (const k of Object.keys(r.fields)) present.add(k);
  const declared = Object.keys(def.fields).filter((f) => f !== def.key && present.has(f));
  const extra = [...present].filter((f) => f !== def.key && !def.fields[f]).sort();
  return [def.key, ...declared, ...extra];
}

function cell(v: string, max: number): string {
  const oneLine = escapeControl(v.replace(/\r?\n/g, '\\n').replace(/\t/g, ' '));
  return oneLine.length > max ? oneLine.slice(0, max - 3) + '...' : oneLine;
}

/** Aligned columns separated by two spaces, no trailing spaces; cells cut at `maxCell`. */
export function renderTable(header: string[], rows: string[][], maxCell = MAX_CELL): string {
  const all = [header, ...rows].map((r) => r.map((c) => cell(c, maxCell)));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

const CSV_NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

function csvCell(v: string): string {
  return CSV_NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Formats records for `records list`; the result has no trailing newline. */
export function formatRecords(records: StoredRecord[], def: ObjectDef, format: ListFormat, opts: FormatOptions = {}): string {
  const shown = records.map((r) => maskedFields(def, r.fields, opts));
  if (format === 'json') return JSON.stringify(shown, null, 2);
  const columns = columnsFor(def, records);
  const rows = shown.map((f) => columns.map((c) => stringForm(f[c])));
  if (format === 'csv') return [columns, ...rows].map((r) => r.map(csvCell).join(',')).join('\n');
  return renderTable(columns, rows);
}

export const GET_FORMATS = ['table', 'json'] as const;
export type GetFormat = (typeof GET_FORMATS)[number];

/** Formats one record for `records get`: field/value lines plus its metadata, or a JSON object. */
export function formatRecord(record: StoredRecord, def: ObjectDef, format: GetFormat, opts: FormatOptions = {}): string {
  const shown = maskedFields(def, record.fields, opts);
  if (format === 'json') return JSON.stringify(shown, null, 2);
  const rows = columnsFor(def, [record]).map((c) => [c, stringForm(shown[c])]);
  rows.push(['(version)', String(record.version)], ['(created_at)', record.created_at], ['(updated_at)', record.updated_at]);
  return renderTable(['field', 'value'], rows, Infinity);
}
