// Static analysis of a Handlebars template: syntax errors and the references it makes, each with
// its position inside the template text, so the validator can point inside the YAML string.
import Handlebars from 'handlebars';
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
  let ast: hbs.AST.Program;
  try {
    ast = Handlebars.parse(text);
  } catch (err) {
    return { error: parseErrorPosition(text, (err as Error).message), references: [], helpers: [] };
  }
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const indexOf = (loc: hbs.AST.SourceLocation) => (lineStarts[loc.start.line - 1] ?? 0) + loc.start.column;
  const lengthOf = (loc: hbs.AST.SourceLocation) => (lineStarts[loc.end.line - 1] ?? 0) + loc.end.column - indexOf(loc);
  const references: TemplateReference[] = [];
  const helpers: HelperCall[] = [];
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
      default:
        return;
    }
  };
  const visitPath = (p: hbs.AST.PathExpression, scoped: boolean) => {
    if (p.data || p.original === 'this' || p.original.startsWith('this.') || p.original.startsWith('../')) return;
    if (scoped) return;
    references.push({ parts: p.parts, original: p.original, index: indexOf(p.loc), length: lengthOf(p.loc) });
  };
  walk(ast, false);
  return { references, helpers };
}

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
    ? `template syntax error: unexpected ${expecting[2] === 'EOF' ? 'end of template (is a "}}" or {{/block}} missing?)' : `'${expecting[2]}'`}`
    : `template syntax error: ${lines[0]}`;
  return { message: human, index: Math.min(starts + col, text.length), length: 1 };
}
