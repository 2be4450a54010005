// Inline suppression: `# skein-ignore: CODE reason` on the line before a finding silences that
// finding. The reason is required (reviewers must see why); a suppression that matches nothing
// is reported, so stale ones do not pile up.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CODES, sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { didYouMean } from './did-you-mean.js';

const DIRECTIVE = /#\s*skein-ignore:\s*([a-z0-9-]+)?\s*(.*)$/;

interface Directive {
  file: string;
  line: number;
  col: number;
  code: string;
  reason: string;
  used: boolean;
}

function directivesOf(file: string, text: string): Directive[] {
  const out: Directive[] = [];
  text.split(/\r?\n/).forEach((lineText, i) => {
    const m = DIRECTIVE.exec(lineText);
    if (!m) return;
    out.push({ file, line: i + 1, col: m.index + 1, code: m[1] ?? '', reason: (m[2] ?? '').trim(), used: false });
  });
  return out;
}

/**
 * Drops diagnostics suppressed by a directive on the line above; adds errors for directives
 * without a code or reason and warnings for directives that suppress nothing.
 */
export function applySuppressions(diagnostics: Diagnostic[], cwd: string, read: (path: string) => string | undefined = defaultRead): Diagnostic[] {
  const byFile = new Map<string, Directive[]>();
  const files = new Set(diagnostics.map((d) => d.file));
  for (const file of files) {
    const text = read(resolve(cwd, file));
    if (text !== undefined && text.includes('skein-ignore')) byFile.set(file, directivesOf(file, text));
  }
  const kept: Diagnostic[] = [];
  for (const d of diagnostics) {
    const dir = byFile.get(d.file)?.find((x) => x.line === d.line - 1 && x.code === d.code && x.reason !== '');
    if (dir) dir.used = true;
    else kept.push(d);
  }
  for (const list of byFile.values()) {
    for (const x of list) {
      if (!x.code || !x.reason) {
        kept.push({ code: 'suppression-invalid', severity: 'error', message: `a skein-ignore needs a code and a reason, e.g. "# skein-ignore: cron-never reason why"`, file: x.file, line: x.line, col: x.col });
      } else if (!Object.hasOwn(CODES, x.code)) {
        const names = Object.keys(CODES);
        kept.push({ code: 'suppression-invalid', severity: 'error', message: `skein-ignore names "${x.code}", which is no diagnostic code${didYouMean(x.code, names)}`, file: x.file, line: x.line, col: x.col });
      } else if (!x.used) {
        kept.push({ code: 'suppression-unused', severity: 'warning', message: `skein-ignore for ${x.code} suppresses nothing on the next line; remove it`, file: x.file, line: x.line, col: x.col });
      }
    }
  }
  return sortDiagnostics(kept);
}

function defaultRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
