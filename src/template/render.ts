// Renders templates at run time: compiled once per text and cached, no HTML escaping, prototype
// access off (Handlebars' default since 4.6, restated here), the documented helpers only.
import Handlebars from 'handlebars';
import { SkeinError } from '../errors.js';
import { HELPERS } from './helpers.js';
import { isTemplate } from './analyze.js';

const hb = Handlebars.create();
for (const [name, fn] of Object.entries(HELPERS)) hb.registerHelper(name, fn as Handlebars.HelperDelegate);

const compiled = new Map<string, Handlebars.TemplateDelegate>();
const RUNTIME: Handlebars.RuntimeOptions = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };

/** Renders one template over a context. Throws SkeinError('template-render') on failure. */
export function render(text: string, context: object): string {
  if (!isTemplate(text)) return text;
  let fn = compiled.get(text);
  if (!fn) {
    try {
      fn = hb.compile(text, { noEscape: true, strict: false, knownHelpersOnly: false });
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
  if (tree === null || typeof tree !== 'object') return tree ?? text ?? '';
  if (Array.isArray(tree)) return tree.map((t) => renderableTree(t));
  const out = Object.create(textProto) as Record<string | symbol, unknown>;
  if (text !== undefined) out[TEXT] = text;
  out[SOURCE] = tree;
  for (const k in tree) if (Object.prototype.hasOwnProperty.call(tree, k)) out[k] = renderableTree((tree as Record<string, unknown>)[k]);
  return out;
}
