// Import files into records: parse CSV (header row), a JSON array of objects, or JSONL into rows
// that remember their source line, then upsert the valid rows by key in one transaction. A row
// is written whole or not at all; rejected rows are reported with their line and reason.
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { SkeinError } from '../errors.js';
import type { FieldPatch, Store } from '../store/types.js';
import type { ObjectDef } from '../workflow/objects.js';
import { MASK } from './format.js';

export const IMPORT_FORMATS = ['csv', 'json', 'jsonl'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** One parsed row and the 1-based line where it starts in the source file. */
export interface ImportRow {
  line: number;
  fields: FieldPatch;
}

export interface ImportRejection {
  line: number;
  key?: string;
  reason: string;
}

/** Rows to write plus rows that could not even be parsed (bad JSONL line, wrong column count). */
export interface ParsedImport {
  rows: ImportRow[];
  rejected: ImportRejection[];
}

export interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  /** Sorted by line. */
  rejected: ImportRejection[];
}

export interface ImportOptions {
  /** Recorded on each event; default `import`. */
  source?: string;
  /**
   * What an empty value ("" or null) does: `clear` the stored field (default, the rule for every
   * write) or `keep` it, for files that leave columns blank when they do not know the value.
   */
  empty?: 'clear' | 'keep';
}

/** The format implied by a file name (.csv, .json, .jsonl/.ndjson), or undefined. */
export function formatFromPath(path: string): ImportFormat | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.json') return 'json';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return undefined;
}

/** The file as a whole cannot be read as the format says; nothing is imported. */
export class ImportParseError extends SkeinError {
  /** 1-based line of the problem, when known. */
  readonly line: number | undefined;
  /** The message without the line prefix. */
  readonly reason: string;
  constructor(reason: string, line?: number) {
    super('import-parse', line === undefined ? reason : `line ${line}: ${reason}`);
    this.line = line;
    this.reason = reason;
  }
}

function parseError(message: string, line?: number): ImportParseError {
  return new ImportParseError(message, line);
}

/** JSON.parse messages may quote the bad text across lines; keep reports on one line. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ');
}

/** Parses import text; throws `import-parse` when the file as a whole is unreadable. */
export function parseImport(text: string, format: ImportFormat): ParsedImport {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  switch (format) {
    case 'csv':
      return parseCsvRows(body);
    case 'json':
      return parseJsonArray(body);
    case 'jsonl':
      return parseJsonLines(body);
  }
}

function parseCsvRows(text: string): ParsedImport {
  // csv-parse counts an embedded CRLF as two lines; with LF only its line numbers are exact.
  const normalized = text.replace(/\r\n?/g, '\n');
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parseCsv(normalized, { info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (err) {
    throw csvError(normalized, err as CsvParseFailure);
  }
  // A line of only spaces or tabs is blank too (csv-parse skips only empty ones).
  const [header, ...data] = records.filter(({ record }) => !(record.length === 1 && record[0]!.trim() === ''));
  if (!header) return { rows: [], rejected: [] };
  const columns = header.record.map((c) => c.trim());
  const seen = new Set<string>();
  columns.forEach((c, i) => {
    if (c === '') throw parseError(`CSV header: column ${i + 1} has no name`, 1);
    if (seen.has(c)) throw parseError(`CSV header: column "${c}" appears twice`, 1);
    seen.add(c);
  });
  const out: ParsedImport = { rows: [], rejected: [] };
  for (const { record, info } of data) {
    // info.lines is the line where the record ends; quoted fields may span lines.
    const line = info.lines - record.reduce((n, v) => n + (v.match(/\n/g)?.length ?? 0), 0);
    if (record.length !== columns.length) {
      out.rejected.push({ line, reason: `row has ${record.length} columns; the header has ${columns.length}` });
      continue;
    }
    // No prototype: a column named like an Object.prototype member is just an (unknown) field.
    const fields: FieldPatch = Object.create(null) as FieldPatch;
    columns.forEach((c, i) => {
      fields[c] = record[i];
    });
    out.rows.push({ line, fields });
  }
  return out;
}

interface CsvParseFailure extends Error {
  code?: string;
  /** Line where the parser stopped. */
  lines?: number;
  /** Bytes read before the record being parsed. */
  bytes?: number;
  column?: number;
}

/**
 * The parser's messages quote the field's text (maybe a sensitive value) and describe its state
 * rather than the fix: the common ones are said in our words, the rest without quoted text.
 */
function csvError(text: string, e: CsvParseFailure): ImportParseError {
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED': {
      // The parser reports the last line; the quote opened where the unfinished record began.
      const start = e.bytes === undefined ? undefined : Buffer.from(text).subarray(0, e.bytes).toString().length;
      const line = start === undefined ? e.lines : lineAt(text, start);
      return parseError('invalid CSV: a quoted field opened in this row is never closed', line);
    }
    case 'INVALID_OPENING_QUOTE':
      return parseError(`invalid CSV: a quote inside the unquoted field ${(e.column ?? 0) + 1}; quote the whole field and write each quote in it as ""`, e.lines);
    case 'CSV_INVALID_CLOSING_QUOTE':
      return parseError('invalid CSV: text follows a closing quote; write each quote inside a quoted field as ""', e.lines);
    default:
      return parseError(`invalid CSV: ${oneLine(e.message).replace(/"(?:[^"]|"")*"/g, '"…"')}`, e.lines);
  }
}

/**
 * A JSON.parse message without the excerpt V8 quotes from the input (`Unexpected token 'x',
 * "{"pin":12x"... is not valid JSON`): the excerpt may hold a sensitive value.
 */
function jsonReason(err: Error): string {
  const m = oneLine(err.message)
    .replace(/,?\s*".*"(?:\.\.\.)? is not valid JSON$/, '')
    // The unexpected character itself is kept only when it is JSON punctuation.
    .replace(/^Unexpected token '([^'])'/, (all, ch: string) => ('{}[]:,"'.includes(ch) ? all : 'Unexpected character'));
  return m === '' ? 'not valid JSON' : m;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * Where a JSON text fails to parse. Node 20 names a position only for some errors, so the
 * fallback parses the top-level array elements one by one and names the first broken one.
 */
function jsonErrorLine(text: string, err: Error): number | undefined {
  const m = /position (\d+)/.exec(err.message);
  if (m) return lineAt(text, Number(m[1]));
  const offsets = arrayElementOffsets(text);
  for (let i = 0; i < offsets.length; i++) {
    const end = i + 1 < offsets.length ? text.lastIndexOf(',', offsets[i + 1]) : text.lastIndexOf(']');
    try {
      JSON.parse(text.slice(offsets[i], end > offsets[i]! ? end : undefined));
    } catch {
      return lineAt(text, offsets[i]!);
    }
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Start offsets of the top-level elements of a JSON array already known to be valid. */
function arrayElementOffsets(text: string): number[] {
  const offsets: number[] = [];
  let depth = 0;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (expectElement && !/\s/.test(ch)) {
      expectElement = false;
      if (ch !== ']') offsets.push(i);
    }
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') {
      depth++;
      if (depth === 1) expectElement = true;
    } else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 1) expectElement = true;
  }
  return offsets;
}

function parseJsonArray(text: string): ParsedImport {
  // An empty file imports nothing, as an empty CSV or JSONL file does.
  if (text.trim() === '') return { rows: [], rejected: [] };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw parseError(`invalid JSON: ${jsonReason(err as Error)}`, jsonErrorLine(text, err as Error));
  }
  if (!Array.isArray(data)) throw parseError('a JSON import file must hold an array of objects');
  const offsets = arrayElementOffsets(text);
  // Count lines once, walking offsets in order.
  const lines: number[] = [];
  let line = 1;
  let pos = 0;
  for (const off of offsets) {
    for (; pos < off; pos++) if (text.charCodeAt(pos) === 10) line++;
    lines.push(line);
  }
  const out: ParsedImport = { rows: [], rejected: [] };
  data.forEach((el, i) => {
    const at = lines[i] ?? 1;
    if (isPlainObject(el)) out.rows.push({ line: at, fields: el });
    else out.rejected.push({ line: at, reason: `element ${i + 1} is ${Array.isArray(el) ? 'an array' : el === null ? 'null' : typeof el}, not an object` });
  });
  return out;
}

function parseJsonLines(text: string): ParsedImport {
  const out: ParsedImport = { rows: [], rejected: [] };
  text.split('\n').forEach((raw, i) => {
    const src = raw.trim();
    if (src === '') return;
    let el: unknown;
    try {
      el = JSON.parse(src);
    } catch (err) {
      out.rejected.push({ line: i + 1, reason: `invalid JSON: ${jsonReason(err as Error)}` });
      return;
    }
    if (isPlainObject(el)) out.rows.push({ line: i + 1, fields: el });
    else out.rejected.push({ line: i + 1, reason: `line holds ${Array.isArray(el) ? 'an array' : el === null ? 'null' : typeof el}, not an object` });
  });
  return out;
}

function keyOf(fields: FieldPatch, keyField: string): string | undefined {
  const v = fields[keyField];
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

/**
 * Upserts rows into `objectName` by its key field in ONE transaction. Every row is checked (key
 * present, known fields, types); rejected rows are not written, valid rows are, each whole.
 * A key that appears twice is rejected on its later lines: which value should win is unclear.
 */
export async function importRecords(
  store: Store,
  objectName: string,
  rows: ImportRow[],
  opts: ImportOptions = {},
): Promise<ImportResult> {
  const result: ImportResult = { created: 0, updated: 0, unchanged: 0, rejected: [] };
  const firstLine = new Map<string, number>();
  const accepted: ImportRow[] = [];
  const def = store.objects.get(objectName);
  if (!def) throw new SkeinError('unknown-object', `unknown object "${objectName}"; objects: ${[...store.objects.keys()].sort().join(', ')}`);
  const keyField = def.key;
  for (const row of rows) {
    const key = keyOf(row.fields, keyField);
    if (key !== undefined) {
      const first = firstLine.get(key);
      if (first !== undefined) {
        result.rejected.push({ line: row.line, key, reason: `duplicate key "${key}" (first on line ${first})` });
        continue;
      }
      firstLine.set(key, row.line);
    }
    const fields = withoutMasks(row.fields, def.fields);
    accepted.push({ line: row.line, fields: opts.empty === 'keep' ? dropEmpty(fields, keyField) : fields });
  }
  const outcomes = await store.upsertMany(objectName, accepted.map((r) => r.fields), { source: opts.source ?? 'import' });
  outcomes.forEach((o, i) => {
    const line = accepted[i]!.line;
    if (o.outcome === 'rejected') result.rejected.push(o.key === undefined ? { line, reason: o.reason } : { line, key: o.key, reason: o.reason });
    else result[o.outcome]++;
  });
  result.rejected.sort((a, b) => a.line - b.line);
  return result;
}

/**
 * A sensitive field holding exactly the mask that `records list` prints is a re-imported export,
 * not a value: it is left out so the stored secret stays as it was.
 */
function withoutMasks(fields: FieldPatch, defs: ObjectDef['fields']): FieldPatch {
  let out: FieldPatch | undefined;
  for (const [k, v] of Object.entries(fields)) {
    if (v === MASK && Object.hasOwn(defs, k) && defs[k]!.sensitive) delete (out ??= { ...fields })[k];
  }
  return out ?? fields;
}

function dropEmpty(fields: FieldPatch, keyField: string): FieldPatch {
  const out: FieldPatch = Object.create(null) as FieldPatch;
  for (const [k, v] of Object.entries(fields)) if (k === keyField || (v !== '' && v !== null && v !== undefined)) out[k] = v;
  return out;
}
