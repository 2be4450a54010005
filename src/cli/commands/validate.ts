// `skein validate [PATH ...] [--format text|json|github|sarif]`: the CI validation job.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FORMATS, formatGithub, formatJson, formatSarif, formatSummary, formatText, type Format } from '../../diagnostics-format.js';
import { collectProjects, loadProject, projectDiagnostics } from '../../workflow/project.js';
import { applySuppressions } from '../../workflow/suppress.js';
import { UsageError, type Command } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { println } from '../io.js';

const HELP = `Usage: skein validate [PATH ...] [--format text|json|github|sarif]

Checks workflow directories or files (default ./workflows): YAML syntax, the JSON Schemas,
and what a schema cannot see (presets, parameters, templates, fields, cron, time zones,
regexes, credentials, unique names). A comment "# skein-ignore: CODE reason" on the line
before a finding suppresses it (the reason is required). Every finding is one line: file:line:col, severity,
message and a stable code.

Options:
  --format text     one line per finding, with source and caret on a terminal (default)
  --format json     an array of diagnostic objects {code, severity, message, file, line, col}
  --format github   ::error workflow commands, shown as annotations on the pull request
  --format sarif    SARIF 2.1.0 for code-scanning uploads
  --quiet           text format: no summary line

Exit codes: 0 valid (warnings allowed), 1 any error, 2 bad usage or unreadable path.`;

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check workflows and skein.yaml; point at file:line:col of every mistake',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { format: { type: 'string', default: 'text' }, quiet: { type: 'boolean', default: false } },
    });
    const format = values.format as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`unknown format "${values.format}"; formats: ${FORMATS.join(', ')}`);
    const paths = positionals.length ? positionals : ['workflows'];
    const projects = collectProjects(paths, { cwd: io.cwd }).map((g) => loadProject(g, { cwd: io.cwd }));
    const diagnostics = applySuppressions(projects.flatMap(projectDiagnostics), io.cwd);
    const fileCount = projects.reduce((n, p) => n + p.workflows.length + (p.configPath ? 1 : 0), 0);
    switch (format) {
      case 'json':
        println(io.stdout, formatJson(diagnostics));
        break;
      case 'github':
        if (diagnostics.length) println(io.stdout, formatGithub(diagnostics));
        break;
      case 'sarif': {
        const require = createRequire(import.meta.url);
        println(io.stdout, formatSarif(diagnostics, (require('../../../package.json') as { version: string }).version));
        break;
      }
      default: {
        const tty = io.stdout.isTTY === true && !io.env.NO_COLOR;
        const cache = new Map<string, string | undefined>();
        const source = (file: string) => {
          if (!cache.has(file)) {
            try {
              cache.set(file, readFileSync(resolve(io.cwd, file), 'utf8'));
            } catch {
              cache.set(file, undefined);
            }
          }
          return cache.get(file);
        };
        if (diagnostics.length) println(io.stdout, formatText(diagnostics, tty ? { source, color: true } : {}));
        if (!values.quiet) println(io.stderr, formatSummary(diagnostics, fileCount));
      }
    }
    return diagnostics.some((d) => d.severity === 'error') ? EXIT.FAILED : EXIT.OK;
  },
};
