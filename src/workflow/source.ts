// Reads one YAML file into a located document: the JS value plus a way back from a JSON path
// to line and column. Every way a file can be unreadable becomes a diagnostic, never a throw.
import { readFileSync, statSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import type { DiagnosticSink, DiagnosticCode } from '../diagnostics.js';

/** Larger files are refused before parsing (workflows are small; this bounds time and memory). */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Alias expansions allowed per document; alias bombs exceed it quickly. */
export const MAX_ALIAS_COUNT = 100;

export interface Position {
  line: number;
  col: number;
  endLine?: number;
  endCol?: number;
}

export type JsonPath = ReadonlyArray<string | number>;

export interface LocatedDoc {
  file: string;
  text: string;
  value: unknown;
  doc: Document;
  lines: LineCounter;
  /** Position of the node at `path`: its key (`key`) or its value (default). */
  locate(path: JsonPath, which?: 'key' | 'value'): Position;
  /** Position of an absolute character offset in the file. */
  at(offset: number, endOffset?: number): Position;
  /** Position of characters [index, index+length) of the string value at `path`. */
  locateInString(path: JsonPath, index: number, length: number): Position;
}

const YAML_CODES: Record<string, DiagnosticCode> = {
  DUPLICATE_KEY: 'yaml-duplicate-key',
  TAB_AS_INDENT: 'yaml-tab-indent',
};

/** Loads a YAML file; returns undefined (after reporting) when it cannot be used. */
export function loadYamlFile(file: string, displayName: string, sink: DiagnosticSink): LocatedDoc | undefined {
  let bytes: Buffer;
  try {
    const size = statSync(file).size;
    if (size > MAX_FILE_BYTES) {
      sink.error('file-too-large', `file is ${(size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_FILE_BYTES / 1024 / 1024} MB`, displayName, { line: 1, col: 1 });
      return undefined;
    }
    bytes = readFileSync(file);
  } catch (err) {
    sink.error('file-unreadable', `cannot read file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, displayName, { line: 1, col: 1 });
    return undefined;
  }
  return parseYamlText(bytes, displayName, sink);
}

/** Parses bytes or text as one YAML document holding a mapping. */
export function parseYamlText(input: Buffer | string, file: string, sink: DiagnosticSink): LocatedDoc | undefined {
  const text = typeof input === 'string' ? input : decodeUtf8(input, file, sink);
  if (text === undefined) return undefined;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = new LineCounter();
  const docs = parseAllDocuments(body, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true });
  const at = (offset: number, endOffset?: number): Position => {
    const p = lines.linePos(offset);
    const pos: Position = { line: p.line, col: p.col };
    if (endOffset !== undefined) {
      const e = lines.linePos(endOffset);
      pos.endLine = e.line;
      pos.endCol = e.col;
    }
    return pos;
  };
  const all = Array.isArray(docs) ? docs : [];
  if (all.length === 0 || all.every((d) => d.contents === null && d.errors.length === 0)) {
    sink.error('file-empty', 'file is empty; a workflow file holds one YAML mapping starting with `version: 1`', file, { line: 1, col: 1 });
    return undefined;
  }
  let failed = false;
  for (const d of all) {
    for (const e of d.errors) {
      failed = true;
      const code = YAML_CODES[e.code] ?? 'yaml-syntax';
      sink.error(code, yamlMessage(e.code, e.message), file, at(e.pos[0]));
    }
  }
  if (all.length > 1) {
    const second = all[1]!;
    sink.error('yaml-multi-document', `file holds ${all.length} YAML documents; put each workflow in its own file`, file, at(second.range[0]));
    return undefined;
  }
  if (failed) return undefined;
  const doc = all[0]!;
  if (!isMap(doc.contents)) {
    const kind = doc.contents === null ? 'nothing' : isSeq(doc.contents) ? 'a list' : 'a scalar';
    const offset = doc.contents?.range?.[0] ?? 0;
    sink.error('yaml-not-mapping', `the document root is ${kind}; expected a mapping of keys such as version, name, trigger`, file, at(offset));
    return undefined;
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (err instanceof ReferenceError) {
      sink.error('yaml-alias-limit', `aliases expand too much (more than ${MAX_ALIAS_COUNT}); refusing a possible alias bomb`, file, at(0));
      return undefined;
    }
    throw err;
  }
  return {
    file,
    text: body,
    value,
    doc,
    lines,
    at,
    locate: (path, which = 'value') => locateNode(doc, path, which, at),
    locateInString: (path, index, length) => locateInScalar(doc, body, path, index, length, at),
  };
}

function decodeUtf8(bytes: Buffer, file: string, sink: DiagnosticSink): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    // Find the first bad byte to point at it: decode growing prefixes is O(n^2); scan instead.
    let offset = 0;
    for (let i = 0; i < bytes.length; ) {
      const n = utf8SeqLength(bytes, i);
      if (n === 0) {
        offset = i;
        break;
      }
      i += n;
    }
    const before = bytes.subarray(0, offset).toString('utf8');
    const line = before.split('\n').length;
    const col = before.length - before.lastIndexOf('\n');
    sink.error('file-encoding', `invalid UTF-8 byte 0x${bytes[offset]!.toString(16).padStart(2, '0')}; save the file as UTF-8`, file, { line, col });
    return undefined;
  }
}

/** Length of a valid UTF-8 sequence at i, or 0 when invalid. */
function utf8SeqLength(b: Buffer, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n === 0 || i + n > b.length) return 0;
  for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  return n;
}

function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  if (code === 'DUPLICATE_KEY') return 'duplicate key; each key may appear once in a mapping';
  if (code === 'TAB_AS_INDENT') return 'tab used for indentation; indent with spaces';
  return `YAML syntax: ${first.charAt(0).toLowerCase()}${first.slice(1)}`;
}

/**
 * Maps an index inside a scalar's value back to the file. Plain and simply quoted scalars map
 * directly; for escapes, folding and block scalars the snippet is searched in the raw source.
 */
function locateInScalar(doc: Document, text: string, path: JsonPath, index: number, length: number, at: LocatedDoc['at']): Position {
  const node = nodeAt(doc, path).node;
  if (!node || !isScalar(node) || !node.range) return locateNode(doc, path, 'value', at);
  const value = String(node.value);
  const [start, end] = node.range;
  const raw = text.slice(start, end);
  let base: number | undefined;
  if ((node.type === 'PLAIN' || node.type === undefined) && raw === value) base = start;
  else if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && raw.slice(1, -1) === value) base = start + 1;
  if (base !== undefined) return at(base + index, base + index + length);
  const snippet = value.slice(index, index + Math.max(length, 1));
  let nth = 0;
  for (let i = value.indexOf(snippet); i !== -1 && i < index; i = value.indexOf(snippet, i + 1)) nth++;
  let found = -1;
  for (let k = 0, i = raw.indexOf(snippet); i !== -1; i = raw.indexOf(snippet, i + 1), k++) {
    found = i;
    if (k === nth) break;
  }
  return found === -1 ? at(start, end) : at(start + found, start + found + snippet.length);
}

function nodeAt(doc: Document, path: JsonPath): { node: Node | null; keyNode: Node | null; complete: boolean } {
  let node: Node | null = doc.contents as Node | null;
  let keyNode: Node | null = null;
  for (const seg of path) {
    if (node && isAlias(node)) node = node.resolve(doc) ?? null;
    if (node && isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
      if (!pair) return { node, keyNode, complete: false };
      keyNode = pair.key as Node;
      node = (pair.value as Node | null) ?? keyNode;
    } else if (node && isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) return { node, keyNode, complete: false };
      keyNode = null;
      node = item;
    } else return { node, keyNode, complete: false };
  }
  if (node && isAlias(node)) node = node.resolve(doc) ?? node;
  return { node, keyNode, complete: true };
}

/** Walks the YAML node tree along a JSON path; stops at the deepest node found. */
function locateNode(doc: Document, path: JsonPath, which: 'key' | 'value', at: LocatedDoc['at']): Position {
  const { node, keyNode } = nodeAt(doc, path);
  const target = which === 'key' && keyNode ? keyNode : node;
  const range = target?.range;
  if (!range) return { line: 1, col: 1 };
  return at(range[0], range[1]);
}
