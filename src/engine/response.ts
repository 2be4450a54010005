// Reads a vendor answer the way a preset declares: parse (XML without entity expansion, size
// bounded), decide success from the body (Qualys says FAILED at HTTP 200), extract outputs and
// list items, and redact secrets before anything is rendered or stored.
import { createRequire } from 'node:module';
import type * as FastXml from 'fast-xml-parser';
import type { Items, Request } from '../generated/preset.js';
import { parsePlainXml } from './xml.js';
import { escapeControl } from '../text.js';
import { MIN_SECRET_LENGTH, replaceForms, secretForms } from '../secret-names.js';

/** Bodies above this are not parsed unless the request says more (`max_response_bytes`; the HTTP layer caps downloads too). */
export const MAX_PARSE_BYTES = 5 * 1024 * 1024;
export const REDACTED = '[REDACTED]';

export interface ParsedResponse {
  ok: boolean;
  /** Parsed body with secret values replaced; what {{response.*}} sees. */
  tree: unknown;
  /** Body text with secret values replaced; what {{response}} renders and history stores. */
  text: string;
  code?: string;
  message?: string;
  /** Extracted outputs (sensitive ones included, for mappings that ask for them). */
  outputs: Record<string, string>;
  sensitiveOutputs: Set<string>;
  /** Why the body could not be read, when it could not. */
  parseError?: string;
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes only the predefined XML entities and numeric references: no DTD entity expansion. */
export function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[A-Za-z_][\w.-]*);/g, (_m, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    // Entities are never expanded: a name XML does not predefine would otherwise be stored as
    // its literal text (a login of "&lol9;").
    const known = PREDEFINED[e];
    if (known === undefined) throw new Error(`undefined entity &${e}; (entities are not expanded)`);
    return known;
  });
}

/**
 * fast-xml-parser, loaded on first use: plain responses (what Qualys sends) never need it, and
 * loading it is ~15 ms of every run's start-up.
 */
let fullXml: { parser: FastXml.XMLParser; validator: typeof FastXml.XMLValidator } | undefined;

function fullXmlParser(): NonNullable<typeof fullXml> {
  if (fullXml) return fullXml;
  const { XMLParser, XMLValidator } = createRequire(import.meta.url)('fast-xml-parser') as typeof FastXml;
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    textNodeName: '#text',
    processEntities: false,
    htmlEntities: false,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    tagValueProcessor: (_name, value) => decodeEntities(value),
    attributeValueProcessor: (_name, value) => decodeEntities(value),
  });
  return (fullXml = { parser, validator: XMLValidator });
}

/** Parses a body by format; throws with a one-line reason when it is not well-formed. */
export function parseBody(body: string, format: 'xml' | 'json' | 'text', maxBytes = MAX_PARSE_BYTES): unknown {
  if (body.length > maxBytes) throw new Error(`response body is ${body.length} bytes; the limit is ${maxBytes}`);
  if (format === 'text') return body;
  if (format === 'json') return JSON.parse(body);
  // Whitespace before the XML declaration is not well-formed XML, but proxies and servers that
  // print a newline first exist; the answer is still the vendor's.
  if (body.charCodeAt(0) <= 0x20) body = body.trimStart();
  if (body.includes('<![CDATA[')) body = cdataAsText(body);
  // Plain well-formed XML (what Qualys sends) in one pass; anything else goes to the validator
  // and the full parser, which decide it and word the error.
  const plain = parsePlainXml(body, decodeEntities);
  if (plain !== undefined) return plain;
  return parseXmlFully(body);
}

/**
 * CDATA sections rewritten as escaped text: their content is literal (`&amp;` in CDATA is five
 * characters), but both parsers decode entities in the text they hand over, CDATA included.
 * Qualys wraps every name in CDATA.
 */
function cdataAsText(body: string): string {
  return body.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_m, text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
}

/** The reference path: fast-xml-parser's validator, then its parser (also used to test the fast path). */
export function parseXmlFully(body: string): unknown {
  // An internal DTD subset declares entities: the classic entity bomb and external-entity (XXE)
  // tricks. No vendor answer needs one.
  if (/<!DOCTYPE[^>[]*\[|<!ENTITY/.test(body)) throw new Error('the answer declares its own DTD entities (<!DOCTYPE ... [ <!ENTITY ...>]); refused: entities are not expanded');
  const { parser, validator } = fullXmlParser();
  const valid = validator.validate(body);
  if (valid !== true) {
    // Elements left open at the end: the validator lists them as "Invalid '[ "A", "B" ]' found."
    // at line 1, column 1, which reads as nonsense. It is almost always an answer cut short.
    const open = /^Invalid '\[([\s\S]*)\]' found\.$/.exec(valid.err.msg)?.[1];
    if (open !== undefined) {
      const names = [...open.matchAll(/"([^"]*)"/g)].map((m) => `<${m[1]}>`);
      throw new Error(`malformed XML: the answer ends before ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} closed (cut short?)`);
    }
    throw new Error(`malformed XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`);
  }
  return parser.parse(body);
}

/** Dot paths split into keys (`@` dropped), once per path: presets reuse a handful of paths. */
const pathKeys = new Map<string, string[]>();

function keysOf(path: string): string[] {
  let keys = pathKeys.get(path);
  if (!keys) {
    keys = path.split('.').map((raw) => (raw.startsWith('@') ? raw.slice(1) : raw));
    if (pathKeys.size >= 10_000) pathKeys.clear();
    pathKeys.set(path, keys);
  }
  return keys;
}

/** Resolves a dot path; `@name` reads an XML attribute. An element with attributes yields its text. */
export function getPath(tree: unknown, path: string): unknown {
  let v: unknown = tree;
  for (const seg of keysOf(path)) {
    if (v === null || typeof v !== 'object') return undefined;
    if (Array.isArray(v)) v = v[0];
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, seg)) return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}

/** Scalar text of a resolved value ('' for absent; the text node of an element with attributes). */
export function scalarText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return scalarText(v[0]);
  if (typeof v === 'object') {
    const t = (v as Record<string, unknown>)['#text'];
    return t === undefined ? undefined : String(t);
  }
  return String(v);
}

const rulesByName = new Map<string, Array<[RegExp, string]>>();

/** The text replacements that hide one element/key's values (compiled once per name). */
function redactRules(name: string): Array<[RegExp, string]> {
  let rules = rulesByName.get(name);
  if (rules) return rules;
  const tag = name.replace(/[^A-Za-z0-9_.-]/g, '');
  const hidden = REDACTED.replace(/[[\]]/g, '\\$&');
  rules = [
    [new RegExp(`<${tag}(\\s[^>]*)?>[\\s\\S]*?</${tag}>`, 'g'), `<${tag}$1>${REDACTED}</${tag}>`],
    // A body cut short (a dropped connection, a size cap) may end inside the value: an opening
    // tag with no closing one hides everything after it, so a partial password never shows.
    [new RegExp(`<${tag}(\\s[^>]*)?>(?!${hidden}</${tag}>)[\\s\\S]*$`), `<${tag}$1>${REDACTED}`],
    // JSON: a string, number, boolean or null value; then a string cut short.
    [new RegExp(`("${tag}"\\s*:\\s*)(?:"(?:[^"\\\\]|\\\\.)*"|-?\\d[\\d.eE+-]*|true|false|null)`, 'gi'), `$1"${REDACTED}"`],
    [new RegExp(`("${tag}"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*$`, 'i'), `$1"${REDACTED}"`],
  ];
  rulesByName.set(name, rules);
  return rules;
}

/** Replaces the values of the named elements/keys, in text and in the parsed tree. */
export function redact(text: string, tree: unknown, names: string[], values: readonly string[] = []): { text: string; tree: unknown } {
  // Values (a sensitive output's) are hidden wherever they appear, in any of their spellings.
  const forms = values.filter((v) => v.length >= MIN_SECRET_LENGTH).flatMap(secretForms);
  if (names.length === 0 && forms.length === 0) return { text, tree };
  let out = text;
  for (const n of names) for (const [re, by] of redactRules(n)) out = out.replace(re, by);
  out = replaceForms(out, forms, REDACTED);
  const set = new Set(names.map((n) => n.toLowerCase()));
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return replaceForms(v, forms, REDACTED);
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = set.has(k.toLowerCase()) ? REDACTED : walk(x);
    return o;
  };
  return { text: out, tree: walk(tree) };
}

/**
 * Well-formed XML whose root is none the request's checks and error paths name (a proxy's HTML
 * maintenance page, a load balancer's error) is not the vendor's answer: it must not read as
 * "the vendor said FAILED", which would let a call that may have run be sent again.
 */
function foreignRoot(req: Pick<Request, 'response'>, format: string, tree: unknown): string | undefined {
  const r = req.response;
  if (format !== 'xml' || !r?.success?.length || tree === null || typeof tree !== 'object') return undefined;
  const roots = new Set([...r.success.map((c) => c.path), ...(r.error_code ?? []), ...(r.error_message ?? [])].map((p) => p.split('.')[0]!));
  const top = Object.keys(tree).filter((k) => !/^[?!#]/.test(k));
  if (top.some((k) => roots.has(k))) return undefined;
  return `not an answer of this API: its root element is <${top[0] ?? '?'}>, expected one of <${[...roots].join('>, <')}>`;
}

/** Applies a request definition's response rules to an HTTP answer. */
export function readResponse(req: Pick<Request, 'response' | 'outputs' | 'max_response_bytes'>, status: number, body: string): ParsedResponse {
  const format = req.response?.format ?? 'text';
  let tree: unknown;
  let parseError: string | undefined;
  try {
    tree = parseBody(body, format, req.max_response_bytes);
  } catch (err) {
    // Parser messages may quote the offending bytes: control characters must not reach a terminal.
    parseError = escapeControl((err as Error).message);
  }
  parseError ??= foreignRoot(req, format, tree);
  const outputs: Record<string, string> = {};
  const sensitiveOutputs = new Set<string>();
  for (const [name, o] of Object.entries(req.outputs ?? {})) {
    const v = scalarText(getPath(tree, o.path));
    if (v !== undefined) outputs[name] = o.trim === false ? v : v.trim();
    if (o.sensitive) sensitiveOutputs.add(name);
  }
  const first = (paths: string[] | undefined) => {
    for (const p of paths ?? []) {
      const v = scalarText(getPath(tree, p));
      if (v !== undefined && v.trim() !== '') return v.trim();
    }
    return undefined;
  };
  const checksOk = (req.response?.success ?? []).every((c) => {
    const v = getPath(tree, c.path);
    if (c.exists !== undefined) return (v !== undefined) === c.exists;
    const t = scalarText(v);
    if (c.equals !== undefined) return t === c.equals;
    if (c.in) return t !== undefined && c.in.includes(t);
    if (c.not_in) return t === undefined || !c.not_in.includes(t);
    return v !== undefined;
  });
  // A sensitive output is hidden in the answer too (by its key, and its value wherever it
  // appears), or {{response}} and run history would hold what the output declares secret.
  let hidden = req.response?.redact ?? [];
  for (const o of Object.values(req.outputs ?? {})) {
    if (!o.sensitive) continue;
    const key = o.path.split('.').pop()!.replace(/^@/, '');
    if (key && !hidden.includes(key)) hidden = [...hidden, key];
  }
  const red = redact(body, tree, hidden, [...sensitiveOutputs].flatMap((n) => outputs[n] ?? []));
  const ok = status >= 200 && status < 300 && parseError === undefined && checksOk;
  return {
    ok,
    tree: red.tree,
    text: red.text,
    code: first(req.response?.error_code),
    message: first(req.response?.error_message) ?? (parseError ? `unreadable response: ${parseError}` : undefined),
    outputs,
    sensitiveOutputs,
    parseError,
  };
}

/** The list of items a list preset returns, each as { field: text }. */
export function readItems(items: Items, tree: unknown): Array<Record<string, string>> {
  const raw = getPath(tree, items.path);
  const list = raw === undefined || raw === '' ? [] : Array.isArray(raw) ? raw : [raw];
  return list.map((node) => {
    const out: Record<string, string> = {};
    for (const [name, path] of Object.entries(items.fields)) {
      const v = scalarText(getPath(node, path));
      if (v !== undefined) out[name] = v.trim();
    }
    return out;
  });
}
