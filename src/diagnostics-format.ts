// Output formats for diagnostics: text (one line each, with source and caret on a TTY), json,
// GitHub workflow commands (annotations on the pull request) and SARIF 2.1.0 (code scanning).
import { CODES, type Diagnostic } from './diagnostics.js';

export const FORMATS = ['text', 'json', 'github', 'sarif'] as const;
export type Format = (typeof FORMATS)[number];

export interface TextOptions {
  /** Show the source line and a caret under the column (TTY only). */
  source?: (file: string) => string | undefined;
  color?: boolean;
}

export function formatText(list: Diagnostic[], opts: TextOptions = {}): string {
  const red = (s: string) => (opts.color ? `\x1b[31m${s}\x1b[0m` : s);
  const yellow = (s: string) => (opts.color ? `\x1b[33m${s}\x1b[0m` : s);
  const lines: string[] = [];
  for (const d of list) {
    const sev = d.severity === 'error' ? red('error') : yellow('warning');
    lines.push(`${d.file}:${d.line}:${d.col}: ${sev} ${d.message} [${d.code}]`);
    const src = opts.source?.(d.file);
    if (src !== undefined) {
      const text = src.split('\n')[d.line - 1];
      if (text !== undefined) {
        const width = d.endLine === d.line && d.endCol !== undefined ? Math.max(1, d.endCol - d.col) : 1;
        lines.push(`  ${text.replace(/\t/g, ' ')}`);
        lines.push(`  ${' '.repeat(Math.max(0, d.col - 1))}${red('^' + '~'.repeat(Math.min(width, 80) - 1))}`);
      }
    }
  }
  return lines.join('\n');
}

export function formatSummary(list: Diagnostic[], files: number): string {
  const errors = list.filter((d) => d.severity === 'error').length;
  const warnings = list.length - errors;
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  return `${plural(files, 'file')} checked: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
}

export function formatJson(list: Diagnostic[]): string {
  return JSON.stringify(list, null, 2);
}

const escData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escProp = (s: string) => escData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** GitHub Actions workflow commands: ::error file=F,line=L,col=C,title=T::message */
export function formatGithub(list: Diagnostic[]): string {
  return list
    .map((d) => {
      const props = [`file=${escProp(d.file)}`, `line=${d.line}`, `col=${d.col}`];
      if (d.endLine !== undefined) props.push(`endLine=${d.endLine}`);
      if (d.endCol !== undefined && d.endLine === d.line) props.push(`endColumn=${d.endCol}`);
      props.push(`title=${escProp(`skein ${d.code}`)}`);
      return `::${d.severity === 'error' ? 'error' : 'warning'} ${props.join(',')}::${escData(`${d.message} [${d.code}]`)}`;
    })
    .join('\n');
}

/** SARIF 2.1.0 log with one run; rules are the codes that occur. */
export function formatSarif(list: Diagnostic[], version: string): string {
  const used = [...new Set(list.map((d) => d.code))].sort();
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'skein',
            version,
            informationUri: 'https://github.com/skein-dev/skein',
            rules: used.map((code) => ({
              id: code,
              shortDescription: { text: (CODES as Record<string, string>)[code] ?? code },
              helpUri: `https://github.com/skein-dev/skein/blob/main/docs/workflow-format.md#diagnostic-codes`,
            })),
          },
        },
        results: list.map((d) => ({
          ruleId: d.code,
          ruleIndex: used.indexOf(d.code),
          level: d.severity === 'error' ? 'error' : 'warning',
          message: { text: d.message },
          locations: [
            {
              physicalLocation: {
                // A relative URI reference: spaces and the like percent-encoded, slashes kept.
                artifactLocation: { uri: d.file.split(/[\\/]/).map(encodeURIComponent).join('/') },
                region: {
                  startLine: d.line,
                  startColumn: d.col,
                  ...(d.endLine !== undefined ? { endLine: d.endLine } : {}),
                  ...(d.endCol !== undefined ? { endColumn: d.endCol } : {}),
                },
              },
            },
          ],
        })),
      },
    ],
  };
  return JSON.stringify(log, null, 2);
}
