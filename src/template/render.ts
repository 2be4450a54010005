// Renders templates at run time: compiled once per text and cached, no HTML escaping, prototype
// access off (Handlebars' default since 4.6, restated here), the documented helpers only.
import { createRequire } from 'node:module';
import type Handlebars from 'handlebars';
import { SkeinError } from '../errors.js';
import { HELPERS } from './helpers.js';
import { isTemplate } from './analyze.js';

/**
 * Handlebars with our helpers, loaded on first use: templates of plain mustaches never need it,
 * and the full package (compiler, runtime, source-map) is ~30 ms of a run's start-up.
 */
let hb: typeof Handlebars | undefined;

function handlebars(): typeof Handlebars {
  if (!hb) {
    hb = (createRequire(import.meta.url)('handlebars') as typeof Handlebars).create();
    for (const [name, fn] of Object.entries(HELPERS)) hb.registerHelper(name, fn as Handlebars.HelperDelegate);
  }
  return hb;
}

/** Handlebars' own helpers (4.7), known without loading it; a test checks the list against it. */
export const BUILTIN_HELPERS = ['blockHelperMissing', 'each', 'helperMissing', 'if', 'unless', 'log', 'lookup', 'with'] as const;

const compiled = new Map<string, Handlebars.TemplateDelegate>();
const RUNTIME: Handlebars.RuntimeOptions = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };

/** Renders one template over a context. Throws SkeinError('template-render') on failure. */
export function render(text: string, context: object): string {
  if (!isTemplate(text)) return text;
  const parts = simpleParts(text);
  if (parts) {
    const out = renderSimple(parts, context);
    if (out !== undefined) return out;
  }
  return renderWithHandlebars(text, context);
}

/** The Handlebars path (every template the simple path leaves to it). */
export function renderWithHandlebars(text: string, context: object): string {
  let fn = compiled.get(text);
  if (!fn) {
    try {
      fn = handlebars().compile(text, { noEscape: true, strict: false, knownHelpersOnly: false });
    } catch (err) {
      throw new SkeinError('template-render', `template ${JSON.stringify(short(text))} does not compile: ${firstLine(err)}`);
    }
    if (compiled.size > 50_000) compiled.clear();
    compiled.set(text, fn);
  }
  try {
    return fn(context, RUNTIME);
  } catch (err) {
    throw new SkeinError('template-render', `template ${JSON.stringify(short(text))} failed: ${firstLine(err)}`);
  }
}

/**
 * Templates made only of text and `{{a.b.c}}` mustaches (the usual `{{qualys_login}}`,
 * `{{vars.qualys_api_url}}/msp/user.php`) are rendered without Handlebars' per-call setup when
 * every value is a string or absent: the same result as Handlebars then, by construction (own
 * properties only, absent renders ''). Anything else (helpers, other value types, inherited
 * properties, any other syntax) goes to Handlebars.
 */
type Part = string | string[];
const simple = new Map<string, Part[] | null>();
const MUSTACHE = /\{\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}\}/g;
/** First segments Handlebars reads as something other than a context property. */
const NOT_PLAIN = new Set<string>([...BUILTIN_HELPERS, ...Object.keys(HELPERS), 'this', 'true', 'false', 'null', 'undefined', 'else']);

function simpleParts(text: string): Part[] | null {
  let parts = simple.get(text);
  if (parts !== undefined) return parts;
  parts = [];
  let at = 0;
  const literal = (s: string) => {
    // Braces or backslashes anywhere else may be Handlebars syntax (triple-stash, escapes...).
    if (/[{}\\]/.test(s)) return false;
    if (s) parts!.push(s);
    return true;
  };
  let ok = true;
  for (const m of text.matchAll(MUSTACHE)) {
    const path = m[1]!.split('.');
    if (!literal(text.slice(at, m.index)) || NOT_PLAIN.has(path[0]!)) {
      ok = false;
      break;
    }
    parts.push(path);
    at = m.index + m[0].length;
  }
  if (ok && !literal(text.slice(at))) ok = false;
  const result = ok ? parts : null;
  if (simple.size > 50_000) simple.clear();
  simple.set(text, result);
  return result;
}

/** The rendered text, or undefined when Handlebars must decide. */
function renderSimple(parts: Part[], context: object): string | undefined {
  try {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') {
        out += p;
        continue;
      }
      let v: unknown = context;
      for (const seg of p) {
        if (v === null || v === undefined) break;
        if (typeof v !== 'object') return undefined;
        const next = (v as Record<string, unknown>)[seg];
        // Handlebars returns an absent value as is, and refuses inherited ones.
        if (next !== null && next !== undefined && !Object.prototype.hasOwnProperty.call(v, seg)) return undefined;
        v = next;
      }
      if (v === null || v === undefined) continue;
      if (typeof v === 'string') out += v;
      // A wrapped parsed body (`{{response}}`): Handlebars renders it through its toString too.
      else if (typeof v === 'object' && Object.getPrototypeOf(v) === textProto) out += String(v);
      else return undefined;
    }
    return out;
  } catch {
    return undefined; // a throwing getter: Handlebars reports it
  }
}

/** Renders a literal or template value; non-strings pass through unchanged. */
export function renderValue<T>(value: T, context: object): T | string {
  return typeof value === 'string' ? render(value, context) : value;
}

const short = (s: string) => (s.length > 60 ? s.slice(0, 57) + '...' : s);
const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

const TEXT = Symbol('text');
const SOURCE = Symbol('source');
const textProto = {
  toString(this: { [TEXT]?: string; [SOURCE]: unknown }) {
    // Nested objects are stringified only when rendered, not each time a tree is wrapped.
    return (this[TEXT] ??= JSON.stringify(this[SOURCE]));
  },
};

/**
 * Wraps a parsed body so `{{response}}` renders its text while `{{response.A.B}}` reaches into
 * it; nested objects render as JSON instead of "[object Object]".
 */
export function renderableTree(tree: unknown, text?: string): unknown {
  // A JSON null stays null: it renders "" like any missing value, and {{json x}} reads "null".
  if (tree === null) return text ?? null;
  if (typeof tree !== 'object') return tree ?? text ?? '';
  if (Array.isArray(tree)) return tree.map((t) => renderableTree(t));
  const out = Object.create(textProto) as Record<string | symbol, unknown>;
  if (text !== undefined) out[TEXT] = text;
  out[SOURCE] = tree;
  for (const k in tree) if (Object.prototype.hasOwnProperty.call(tree, k)) out[k] = renderableTree((tree as Record<string, unknown>)[k]);
  return out;
}
