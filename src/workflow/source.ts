// Reads one YAML file into a located document: the JS value plus a way back from a JSON path
// to line and column. Every way a file can be unreadable becomes a diagnostic, never a throw.
import { readFileSync, statSync } from 'node:fs';
import { LineCounter, isAlias, isCollection, isMap, isPair, isScalar, isSeq, parseAllDocuments, type Document, type Node, type Scalar, type YAMLError } from 'yaml';
import type { DiagnosticSink, DiagnosticCode } from '../diagnostics.js';

/** Larger files are refused before parsing (workflows are small; this bounds time and memory). */
export const MAX_FILE_BYTES = 1024 * 1024;
/** yaml's own per-anchor alias limit, applied while converting to JS (defence in depth). */
export const MAX_ALIAS_COUNT = 100;
/** Alias nodes allowed per document (yaml resolves each alias by a scan, so many aliases cost n^2). */
export const MAX_ALIASES = 1000;
/** Values that aliases may add to a document when expanded; alias bombs exceed it quickly. */
export const MAX_ALIAS_EXPANSION = 10_000;

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
  const aliasFlood = aliasFloodOffset(body);
  if (aliasFlood !== undefined) {
    const before = body.slice(0, aliasFlood);
    const pos = { line: before.split('\n').length, col: aliasFlood - before.lastIndexOf('\n') };
    sink.error('yaml-alias-limit', `more than ${MAX_ALIASES} aliases in one file; refusing a possible alias bomb`, file, pos);
    return undefined;
  }
  // yaml's own duplicate-key check compares every key with every other (quadratic on big
  // mappings); duplicateKeys() below does the same in linear time.
  // logLevel error: yaml's warnings (an unquoted {{template}} read as a mapping key) go to
  // stderr as Node warnings; the schema check reports them at their place instead.
  const docs = parseAllDocuments(body, { lineCounter: lines, uniqueKeys: false, prettyErrors: false, strict: true, logLevel: 'error' });
  // Columns count characters: yaml counts UTF-16 units, so a character outside the BMP (an
  // emoji) before the position would count twice.
  const charCol = (offset: number, col: number): number => {
    let pairs = 0;
    for (let i = offset - col + 1; i < offset; i++) {
      const c = body.charCodeAt(i);
      if (c >= 0xdc00 && c <= 0xdfff) pairs++;
    }
    return col - pairs;
  };
  const at = (offset: number, endOffset?: number): Position => {
    const p = lines.linePos(offset);
    const pos: Position = { line: p.line, col: charCol(offset, p.col) };
    if (endOffset !== undefined) {
      const e = lines.linePos(endOffset);
      pos.endLine = e.line;
      pos.endCol = charCol(endOffset, e.col);
    }
    return pos;
  };
  const all = Array.isArray(docs) ? docs : [];
  if (all.length === 0 || all.every((d) => d.contents === null && d.errors.length === 0)) {
    sink.error('file-empty', 'file is empty; expected a YAML mapping starting with `version: 1`', file, { line: 1, col: 1 });
    return undefined;
  }
  let failed = false;
  for (const d of all) {
    const found: Array<{ code: DiagnosticCode; message: string; offset: number }> = [];
    for (const e of usefulErrors(d.errors)) found.push({ code: YAML_CODES[e.code] ?? 'yaml-syntax', ...yamlMessage(e, body) });
    for (const dup of duplicateKeys(d)) {
      const first = `first on line ${lines.linePos(dup.firstOffset).line}`;
      found.push({ code: 'yaml-duplicate-key', message: `duplicate key "${dup.name}" (${first}); each key may appear once in a mapping`, offset: dup.offset });
    }
    for (const f of found.sort((a, b) => a.offset - b.offset)) {
      failed = true;
      sink.error(f.code, f.message, file, at(f.offset));
    }
  }
  if (all.length > 1) {
    const second = all[1]!;
    sink.error('yaml-multi-document', `file holds ${all.length} YAML documents (a second one starts here); put each workflow in its own file`, file, at(second.range[0]));
    return undefined;
  }
  if (failed) return undefined;
  const doc = all[0]!;
  if (!isMap(doc.contents)) {
    const kind = doc.contents === null ? 'nothing' : isSeq(doc.contents) ? 'a list' : 'a scalar';
    const offset = doc.contents?.range?.[0] ?? 0;
    sink.error('yaml-not-mapping', `the document root is ${kind}; expected a mapping of keys, starting with version: 1`, file, at(offset));
    return undefined;
  }
  const aliasProblem = checkAliases(doc);
  if (aliasProblem) {
    sink.error(aliasProblem.code, aliasProblem.message, file, at(aliasProblem.node.range?.[0] ?? 0, aliasProblem.node.range?.[1]));
    return undefined;
  }
  let value: unknown;
  try {
    // yaml refuses when the count reaches its limit: +1 allows exactly MAX_ALIAS_COUNT uses.
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT + 1 });
  } catch (err) {
    if (err instanceof ReferenceError || err instanceof RangeError) {
      const first = aliasOverLimit(doc);
      sink.error('yaml-alias-limit', `aliases are used too often (an anchor may be aliased at most ${MAX_ALIAS_COUNT} times); refusing a possible alias bomb`, file, first?.range ? at(first.range[0], first.range[1]) : { line: 1, col: 1 });
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
  const r = decodeUtf8Strict(bytes);
  if (r.ok) return r.text;
  sink.error('file-encoding', r.message, file, { line: r.line, col: r.col });
  return undefined;
}

/** Decodes UTF-8 or says where the first invalid byte is (line and column, 1-based). */
export function decodeUtf8Strict(bytes: Buffer): { ok: true; text: string } | { ok: false; line: number; col: number; message: string } {
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
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
    return { ok: false, line, col, message: `invalid UTF-8 byte 0x${bytes[offset]!.toString(16).padStart(2, '0')}; save the file as UTF-8` };
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

/**
 * One YAML mistake often yields several parser errors (a tab makes the next lines unparsable).
 * Keeps every duplicate key and tab error (each is its own mistake) and otherwise only the first
 * syntax error, which is the cause of the rest.
 */
function usefulErrors(errors: YAMLError[]): YAMLError[] {
  const own = errors.filter((e) => e.code === 'DUPLICATE_KEY' || e.code === 'TAB_AS_INDENT');
  const tabLines = new Set<number>();
  const kept = own.filter((e) => {
    if (e.code !== 'TAB_AS_INDENT') return true;
    const line = e.linePos?.[0].line ?? e.pos[0];
    if (tabLines.has(line)) return false;
    tabLines.add(line);
    return true;
  });
  const rest = errors.filter((e) => e.code !== 'DUPLICATE_KEY' && e.code !== 'TAB_AS_INDENT');
  if (rest.length && !own.some((e) => e.code === 'TAB_AS_INDENT')) kept.push(rest[0]!);
  return kept.sort((a, b) => a.pos[0] - b.pos[0]);
}

function yamlMessage(e: YAMLError, text: string): { message: string; offset: number } {
  const offset = e.pos[0];
  if (e.code === 'DUPLICATE_KEY') return { message: 'duplicate key; each key may appear once in a mapping', offset };
  if (e.code === 'TAB_AS_INDENT') return { message: 'tab used for indentation; indent with spaces', offset };
  const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  if (/call stack/i.test(first)) return { message: 'YAML nesting is too deep to read; workflows nest a few levels at most', offset };
  const flow = /^Flow (sequence|map)/.exec(first);
  if (flow) {
    const [open, close] = flow[1] === 'sequence' ? ['[', ']'] : ['{', '}'];
    const start = unclosedBracket(text, offset, open!, close!);
    if (start !== undefined) {
      const what = flow[1] === 'sequence' ? 'list' : 'mapping';
      return { message: `YAML syntax: this "${open}" is not closed; end the flow ${what} with "${close}" (continuation lines must be indented)`, offset: start };
    }
  }
  return { message: `YAML syntax: ${first.charAt(0).toLowerCase()}${first.slice(1)}`, offset };
}

/** The opening bracket, before `offset`, that has no closing bracket (quotes are not parsed). */
function unclosedBracket(text: string, offset: number, open: string, close: string): number | undefined {
  let depth = 0;
  for (let i = Math.min(offset, text.length) - 1; i >= 0; i--) {
    const c = text[i];
    if (c === close) depth++;
    else if (c === open) {
      if (depth === 0) return i;
      depth--;
    }
  }
  return undefined;
}

/** Keys that repeat an earlier key of the same mapping, with where that key first appears. */
function duplicateKeys(doc: Document): Array<{ name: string; offset: number; firstOffset: number }> {
  const out: Array<{ name: string; offset: number; firstOffset: number }> = [];
  const visitNode = (node: unknown): void => {
    if (!isCollection(node)) return;
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        if (!isScalar(key) || !key.range) continue;
        const name = String(key.value);
        const first = seen.get(name);
        if (first === undefined) seen.set(name, key.range[0]);
        else out.push({ name, offset: key.range[0], firstOffset: first });
      }
    }
    for (const item of node.items) {
      if (isPair(item)) {
        visitNode(item.key);
        visitNode(item.value);
      } else visitNode(item);
    }
  };
  try {
    visitNode(doc.contents);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
  }
  return out;
}

/**
 * Offset of the alias token past MAX_ALIASES * 2 in the raw text, found without parsing (a file
 * of nothing but aliases would otherwise cost seconds to parse before being refused). Counts
 * `*name` after whitespace or a flow indicator; a few false hits (say in block text) are harmless
 * at this threshold, and the exact count is checked on the parsed document.
 */
function aliasFloodOffset(text: string): number | undefined {
  const re = /(?:^|[\s,[{])\*[^\s,[\]{}]/g;
  let n = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (++n > MAX_ALIASES * 2) return m.index + m[0].indexOf('*');
  }
  return undefined;
}

/**
 * Refuses alias bombs before anything expands them: too many aliases, an alias of its own
 * enclosing node, an alias without an anchor, or aliases that would expand the document beyond
 * MAX_ALIAS_EXPANSION values. Sizes are memoized per node, so this is linear in the file.
 */
function checkAliases(doc: Document): { code: DiagnosticCode; message: string; node: Node } | undefined {
  const anchors = new Map<string, Node>();
  const sizes = new Map<Node, number>();
  let aliases = 0;
  let expanded = 0;
  let problem: { code: DiagnosticCode; message: string; node: Node } | undefined;
  const size = (node: unknown): number => {
    if (problem || node === null || node === undefined) return 0;
    if (isPair(node)) return size(node.key) + size(node.value);
    if (isAlias(node)) {
      aliases++;
      const name = node.source;
      if (aliases > MAX_ALIASES) {
        problem = { code: 'yaml-alias-limit', message: `more than ${MAX_ALIASES} aliases in one file; refusing a possible alias bomb`, node };
        return 0;
      }
      const target = anchors.get(name);
      if (!target) {
        problem = { code: 'yaml-syntax', message: `alias *${name} has no anchor; define &${name} on a value before this alias`, node };
        return 0;
      }
      const n = sizes.get(target);
      if (n === undefined || n < 0) {
        problem = { code: 'yaml-alias-limit', message: `alias *${name} refers to a value that contains it; refusing an endlessly recursive alias`, node };
        return 0;
      }
      expanded += n;
      if (expanded > MAX_ALIAS_EXPANSION) {
        problem = { code: 'yaml-alias-limit', message: `alias *${name} expands the document beyond ${MAX_ALIAS_EXPANSION} values; refusing a possible alias bomb`, node };
        return 0;
      }
      return n;
    }
    const n = node as Node;
    if (n.anchor) anchors.set(n.anchor, n);
    sizes.set(n, -1);
    let total = 1;
    if (isCollection(n)) for (const item of n.items) total += size(item);
    sizes.set(n, total);
    return total;
  };
  try {
    size(doc.contents);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { code: 'yaml-syntax', message: 'YAML nesting is too deep to read; workflows nest a few levels at most', node: doc.contents as Node };
  }
  return problem;
}

/** The alias that uses its anchor once too often, else the first alias (yaml also weighs nesting). */
function aliasOverLimit(doc: Document): Node | undefined {
  let first: Node | undefined;
  let over: Node | undefined;
  const uses = new Map<string, number>();
  const walk = (node: unknown): void => {
    if (over || node === null || node === undefined) return;
    if (isPair(node)) return (walk(node.key), walk(node.value));
    if (isAlias(node)) {
      first ??= node;
      const n = (uses.get(node.source) ?? 0) + 1;
      uses.set(node.source, n);
      if (n > MAX_ALIAS_COUNT) over = node;
    } else if (isCollection(node)) for (const item of node.items) walk(item);
  };
  walk(doc.contents);
  return over ?? first;
}

/**
 * Maps characters [index, index+length) of a scalar's value back to the file. The value is
 * aligned with the raw source character by character, which handles plain and quoted scalars,
 * escapes, line folding and block scalars (`|`, `>`) alike.
 */
function locateInScalar(doc: Document, text: string, path: JsonPath, index: number, length: number, at: LocatedDoc['at']): Position {
  const node = nodeAt(doc, path).node;
  if (!node || !isScalar(node) || !node.range || typeof node.value !== 'string') return locateNode(doc, path, 'value', at);
  const [start, end] = node.range;
  const offsets = alignScalar(node.value, text, start, end, node.type);
  const first = offsets[Math.min(index, node.value.length - 1)];
  const last = offsets[Math.min(index + Math.max(length, 1) - 1, node.value.length - 1)];
  if (first === undefined || first < 0) return at(start, end);
  return at(first, last !== undefined && last >= first ? last + 1 : first + 1);
}

/** For each character of `value`, its offset in text[start, end), or -1 when it has none. */
function alignScalar(value: string, text: string, start: number, end: number, type: Scalar['type']): number[] {
  const out: number[] = new Array(value.length).fill(-1);
  let r = start;
  if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') {
    const nl = text.indexOf('\n', start);
    r = nl === -1 || nl >= end ? end : nl + 1;
  } else if (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') r = start + 1;
  const dq = type === 'QUOTE_DOUBLE';
  for (let v = 0; v < value.length && r < end; v++) {
    const c = value[v]!;
    for (let q = r; q < end; q++) {
      const rc = text[q]!;
      if (dq && rc === '\\') {
        if (text[q + 1] === '\n' || text[q + 1] === '\r') continue;
        out[v] = q;
        r = q + escapeLength(text, q);
        break;
      }
      if (rc === c || (c === ' ' && rc === '\n')) {
        out[v] = q;
        r = q + 1;
        break;
      }
    }
  }
  return out;
}

/** Length of the double-quoted escape sequence at `i` (a backslash). */
function escapeLength(text: string, i: number): number {
  const c = text[i + 1];
  return c === 'x' ? 4 : c === 'u' ? 6 : c === 'U' ? 10 : 2;
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
