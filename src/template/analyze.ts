// Static analysis of a Handlebars template: syntax errors and the references it makes, each with
// its position inside the template text, so the validator can point inside the YAML string.
import { createRequire } from 'node:module';

// Only the parser is needed here; the full runtime (template/render.ts) costs twice as much to
// load and `skein validate` never renders.
const { parse: parseTemplate } = createRequire(import.meta.url)('handlebars/dist/cjs/handlebars/compiler/base.js') as { parse(text: string): hbs.AST.Program };
import { ALL_HELPER_NAMES } from './helpers.js';

export interface TemplatePos {
  /** 0-based index into the template text. */
  index: number;
  length: number;
}

export interface TemplateReference extends TemplatePos {
  /** Path segments, e.g. ['vars', 'qualys_api_url']; ['this'] style paths are not reported. */
  parts: string[];
  original: string;
}

export interface HelperCall extends TemplatePos {
  name: string;
}

export interface TemplateAnalysis {
  error?: { message: string } & TemplatePos;
  references: TemplateReference[];
  helpers: HelperCall[];
}

const cache = new Map<string, TemplateAnalysis>();

/** Handlebars' built-in helpers and the arguments they need: [count, what to write instead]. */
const ARITY: Record<string, [number, string]> = {
  if: [1, 'if takes exactly one value, e.g. {{#if title}}…{{/if}}'],
  unless: [1, 'unless takes exactly one value, e.g. {{#unless title}}…{{/unless}}'],
  each: [1, 'each takes exactly one list, e.g. {{#each groups}}{{this}}{{/each}}'],
  with: [1, 'with takes exactly one value, e.g. {{#with manager}}{{email}}{{/with}}'],
  lookup: [2, 'lookup takes an object and a key, e.g. {{lookup vars "qualys_api_url"}}'],
};

/** True when the string contains template syntax; plain strings are literals. */
export function isTemplate(s: string): boolean {
  return s.includes('{{');
}

export function analyzeTemplate(text: string): TemplateAnalysis {
  const hit = cache.get(text);
  if (hit) return hit;
  const result = analyze(text);
  if (cache.size > 10_000) cache.clear();
  cache.set(text, result);
  return result;
}

function analyze(text: string): TemplateAnalysis {
  // Jinja blocks would be sent as they are: never what was meant.
  const jinja = /\{%-?\s*(if|for|else|elif|endif|endfor|set)\b[^%]*%\}/.exec(text);
  if (jinja) {
    return { error: { message: `template syntax error: {% ${jinja[1]} %} is Jinja, which Skein does not read (it would be sent as it is); Skein templates are Handlebars: {{#if title}}…{{else}}…{{/if}}, {{#each list}}…{{/each}}`, index: jinja.index, length: jinja[0].length }, references: [], helpers: [] };
  }
  const unbalanced = scanMustaches(text);
  if (unbalanced) return { error: unbalanced, references: [], helpers: [] };
  let ast: hbs.AST.Program;
  try {
    ast = parseTemplate(text);
  } catch (err) {
    return { error: parseErrorPosition(text, (err as Error).message), references: [], helpers: [] };
  }
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const indexOf = (loc: hbs.AST.SourceLocation) => (lineStarts[loc.start.line - 1] ?? 0) + loc.start.column;
  const lengthOf = (loc: hbs.AST.SourceLocation) => (lineStarts[loc.end.line - 1] ?? 0) + loc.end.column - indexOf(loc);
  const references: TemplateReference[] = [];
  const helpers: HelperCall[] = [];
  let error: TemplateAnalysis['error'];
  // Inside #each / #with the context changes; relative paths there are not checked.
  const walk = (node: hbs.AST.Node | undefined | null, scoped: boolean): void => {
    if (!node) return;
    switch (node.type) {
      case 'Program':
        for (const s of (node as hbs.AST.Program).body) walk(s, scoped);
        return;
      case 'MustacheStatement':
      case 'SubExpression':
      case 'BlockStatement': {
        const n = node as hbs.AST.MustacheStatement & { program?: hbs.AST.Program; inverse?: hbs.AST.Program };
        const isCall = n.params.length > 0 || (n.hash?.pairs.length ?? 0) > 0 || node.type !== 'MustacheStatement';
        const path = n.path as hbs.AST.PathExpression;
        const arity = path.type === 'PathExpression' && Object.hasOwn(ARITY, path.original) ? ARITY[path.original] : undefined;
        if (arity !== undefined && n.params.length !== arity[0]) {
          // Handlebars accepts these at compile time and throws on every render.
          error ??= { message: `template syntax error: ${arity[1]}`, index: indexOf(path.loc), length: lengthOf(path.loc) };
        }
        if (path.type === 'PathExpression' && isCall) {
          helpers.push({ name: path.original, index: indexOf(path.loc), length: lengthOf(path.loc) });
        } else if (path.type === 'PathExpression' && !ALL_HELPER_NAMES.has(path.original)) {
          visitPath(path, scoped);
        } else if (path.type === 'PathExpression') {
          helpers.push({ name: path.original, index: indexOf(path.loc), length: lengthOf(path.loc) });
        }
        for (const p of n.params) walk(p, scoped);
        for (const pair of n.hash?.pairs ?? []) walk(pair.value, scoped);
        const inner = scoped || (node.type === 'BlockStatement' && (path.original === 'each' || path.original === 'with'));
        walk(n.program, inner);
        walk(n.inverse, scoped);
        return;
      }
      case 'PathExpression':
        visitPath(node as hbs.AST.PathExpression, scoped);
        return;
      case 'PartialStatement':
      case 'PartialBlockStatement':
      case 'Decorator':
      case 'DecoratorBlock': {
        const partial = node.type.startsWith('Partial');
        error ??= {
          message: partial ? 'template syntax error: partials ({{> name}}) are not supported; write the text inline' : 'template syntax error: decorators ({{* name}}) are not supported',
          index: indexOf(node.loc),
          length: lengthOf(node.loc),
        };
        return;
      }
      default:
        return;
    }
  };
  const visitPath = (p: hbs.AST.PathExpression, scoped: boolean) => {
    const at = { original: p.original, index: indexOf(p.loc), length: lengthOf(p.loc) };
    // @root always names the top context, inside blocks too: {{@root.outputs.x}} is outputs.x.
    if (p.data) {
      if (p.parts[0] === 'root' && p.parts.length > 1) references.push({ parts: p.parts.slice(1), ...at });
      return;
    }
    if (p.original === 'this' || p.original.startsWith('../') || scoped) return;
    // Handlebars drops a leading this. / ./ from parts: {{this.outputs.x}} is outputs.x.
    references.push({ parts: p.parts, ...at });
  };
  walk(ast, false);
  return error ? { error, references: [], helpers: [] } : { references, helpers };
}

/**
 * Finds the mistakes Handlebars reports badly: a "{{" without its "}}", and block tags that do
 * not pair up ({{#if}} without {{/if}}, {{/each}} closing {{#if}}). Points at the tag itself.
 */
function scanMustaches(text: string): ({ message: string } & TemplatePos) | undefined {
  const open: Array<{ name: string; index: number; length: number }> = [];
  for (let i = text.indexOf('{{'); i !== -1; ) {
    if (text.startsWith('{{!--', i)) {
      const close = text.indexOf('--}}', i + 5);
      if (close === -1) return { message: 'template syntax error: comment "{{!--" is not closed; add "--}}"', index: i, length: 5 };
      i = text.indexOf('{{', close + 4);
      continue;
    }
    const close = text.indexOf('}}', i + 2);
    const next = text.indexOf('{{', i + 2);
    if (close === -1 || (next !== -1 && next < close && !text.startsWith('{{{', i))) {
      const tag = /^\{\{[^\s{}]*/.exec(text.slice(i))![0];
      return { message: `template syntax error: "${tag}" is not closed; add "}}"`, index: i, length: Math.max(2, tag.length) };
    }
    let end = close + 2;
    if (text.startsWith('{{{', i) && text[end] === '}') end++;
    const inner = text.slice(i + 2, close).replace(/^[{~]/, '').trim();
    const parens = subExpressionDepth(inner);
    if (parens > MAX_NESTING) {
      return { message: `template syntax error: sub-expressions "(...)" nest ${parens} deep; at most ${MAX_NESTING}`, index: i, length: end - i };
    }
    const m = /^([#^/])\s*[>*]?\s*([^\s}~()]+)/.exec(inner);
    if (m && !text.startsWith('{{!', i)) {
      const [, kind, name] = m as unknown as [string, string, string];
      const tag = { name, index: i, length: end - i };
      if (kind !== '/') {
        open.push(tag);
        if (open.length > MAX_NESTING) return { message: `template syntax error: blocks nest more than ${MAX_NESTING} deep`, ...pos(tag) };
      } else {
        const top = open.pop();
        if (!top) return { message: `template syntax error: {{/${name}}} closes no block; remove it or add {{#${name} ...}} before it`, ...pos(tag) };
        if (top.name !== name) return { message: `template syntax error: {{/${name}}} closes {{#${top.name}}}; write {{/${top.name}}} here`, ...pos(tag) };
      }
    }
    i = text.indexOf('{{', end);
  }
  const unclosed = open.pop();
  if (unclosed) return { message: `template syntax error: {{#${unclosed.name}}} is never closed; add {{/${unclosed.name}}}`, ...pos(unclosed) };
  return undefined;
}

const pos = (t: TemplatePos): TemplatePos => ({ index: t.index, length: t.length });

/**
 * Deepest nesting of blocks, and of sub-expressions in one tag. Handlebars' compiler and our
 * checks recurse per level: thousands of levels overflow the stack; real templates use a few.
 */
export const MAX_NESTING = 64;

/** How deep "(" nest in a tag's text, outside string literals. */
function subExpressionDepth(inner: string): number {
  let depth = 0;
  let max = 0;
  let quote = '';
  for (const ch of inner) {
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(') max = Math.max(max, ++depth);
    else if (ch === ')') depth--;
  }
  return max;
}

/** Jison token names in Handlebars parse errors, as a user would write them. */
const TOKENS: Record<string, string> = {
  CLOSE: '"}}"',
  CLOSE_UNESCAPED: '"}}}"',
  CLOSE_RAW_BLOCK: '"}}}}"',
  OPEN: '"{{"',
  OPEN_SEXPR: '"("',
  CLOSE_SEXPR: '")"',
  EQUALS: '"="',
  INVALID: 'an invalid character',
  ID: 'a name',
  STRING: 'a string',
  NUMBER: 'a number',
  BOOLEAN: 'a boolean',
  SEP: '"." or "/"',
  OPEN_ENDBLOCK: '"{{/"',
  OPEN_BLOCK: '"{{#"',
  OPEN_INVERSE: '"{{^"',
  INVERSE: '"{{else}}"',
};

/** Handlebars (jison) reports "Parse error on line N:" and a caret under a snippet. */
function parseErrorPosition(text: string, message: string): { message: string } & TemplatePos {
  const lines = message.split('\n');
  const line = Number(/on line (\d+)/.exec(lines[0] ?? '')?.[1] ?? 1);
  const caretLine = lines.find((l) => /^-*\^$/.test(l));
  const snippet = lines[1] ?? '';
  let col = 0;
  if (caretLine) {
    const pre = snippet.slice(0, caretLine.length - 1).replace(/^\.\.\./, '');
    const lineText = text.split('\n')[line - 1] ?? '';
    for (let k = 0; k <= pre.length; k++) {
      if (lineText.startsWith(pre.slice(k))) {
        col = pre.length - k;
        break;
      }
    }
  }
  const starts = text.split('\n').slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  const expecting = /Expecting (.*), got '([^']*)'/.exec(message);
  const human = expecting
    ? `template syntax error: unexpected ${expecting[2] === 'EOF' ? 'end of template (is a "}}" or {{/block}} missing?)' : TOKENS[expecting[2]!] ?? `"${expecting[2]}"`}`
    : `template syntax error: ${(lines[0] ?? '').replace(/ - \d+:\d+$/, '')}`;
  return { message: human + otherLanguageHint(text), index: Math.min(starts + col, text.length), length: 1 };
}

/** Templates from other tools (Jinja filters, XML attributes, bracket lookups) fail to parse here. */
function otherLanguageHint(text: string): string {
  // A JSON body closing right after a template: "}}}" reads as the end of a {{{raw}}} tag.
  if (/[^{]\{\{[^{}]*\}\}\}/.test(text)) return '; a "}" right after "}}" reads as "}}}" (the end of a {{{...}}} tag): put a space between them, e.g. {"email": {{json email}} }';
  if (/\{\{[^}]*\|[^}]*\}\}/.test(text)) return '; Skein templates are Handlebars: write {{lower email}}, not {{email | lower}}';
  if (/\{\{[^}]*\.@[A-Za-z_]/.test(text)) return '; an XML attribute is a plain key in templates: {{response.USER_OUTPUT.RETURN.status}}, not .@status';
  if (/\{\{[^}]*\[['"]/.test(text)) return '; write a path with dots ({{response.USER_OUTPUT}}), or {{lookup response "USER_OUTPUT"}}';
  return '';
}
