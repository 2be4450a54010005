// `skein test [PATH ...] [--reporter text|junit] [--output FILE]`: runs the workflow tests
// (*.test.yaml) offline through the real engine and reports expected-versus-actual by file:line.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { collectProjects, loadProject, projectDiagnostics } from '../../workflow/project.js';
import { formatJunitReport, formatTextReport, REPORTERS, summaryLine, tally, type Reporter, type TestReport } from '../../testing/report.js';
import { runTestFile } from '../../testing/runner.js';
import { UsageError, type Command } from '../command.js';
import { SkeinError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import { println } from '../io.js';

const HELP = `Usage: skein test [PATH ...] [--reporter text|junit] [--output FILE]

Runs the workflow tests (*.test.yaml files, e.g. workflows/tests/) found in the given
directories or files (default ./workflows). Each case runs the real engine offline: a temporary
store with the case's records, fake credentials, and canned responses instead of the network.
Failures name file:line:col of the expectation, with the expected and actual values.

Options:
  --reporter text    one line per case (ok or FAIL, with why) and a summary line "N passed, N failed" (default)
  --reporter junit   JUnit XML for CI systems
  --output FILE      write the report to FILE; only the summary line goes to stdout

Exit codes: 0 every case passed, 1 a case failed, a test file is invalid or none was found,
2 bad usage or unreadable path.`;

export const testCommand: Command = {
  name: 'test',
  summary: 'run workflow tests (*.test.yaml) offline with canned responses',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { reporter: { type: 'string', default: 'text' }, output: { type: 'string' } },
    });
    const reporter = values.reporter as Reporter;
    if (!REPORTERS.includes(reporter)) throw new UsageError(`unknown reporter "${values.reporter}"; reporters: ${REPORTERS.join(', ')}`);
    const paths = positionals.length ? positionals : ['workflows'];
    const projects = collectProjects(paths, { cwd: io.cwd }).map((g) => {
      if (g.explicitDir) return loadProject(g, { cwd: io.cwd });
      // Test files named one by one still run against their whole workflow directory.
      const named = new Set(g.tests ?? []);
      const [whole] = collectProjects([g.dir], { cwd: io.cwd });
      return loadProject({ ...whole!, tests: (whole!.tests ?? []).filter((t) => named.has(t)) }, { cwd: io.cwd });
    });
    const report: TestReport = { results: [], invalid: [] };
    for (const project of projects) {
      projectDiagnostics(project); // marks workflows unrunnable when skein.yaml is broken
      for (const test of project.tests) {
        if (!test.valid || !test.def) report.invalid.push({ file: test.file, diagnostics: test.diagnostics });
        else report.results.push(await runTestFile(project, test));
      }
    }
    const none = !report.results.length && !report.invalid.length;
    if (none) println(io.stderr, `skein test: no test files (*.test.yaml) in ${paths.join(', ')} [no-tests]`);
    // A JUnit report is written even with no tests: a CI step that uploads it finds a file.
    const text = reporter === 'junit' ? formatJunitReport(report) : none ? summaryLine(report) : formatTextReport(report);
    if (values.output) {
      const out = resolve(io.cwd, values.output);
      try {
        writeFileSync(out, text + '\n');
      } catch (err) {
        throw new SkeinError('unwritable-path', `cannot write the report to ${values.output} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check that its folder exists`, { cause: err });
      }
      println(io.stdout, summaryLine(report));
    } else println(io.stdout, text);
    return !none && tally(report).failed === 0 ? EXIT.OK : EXIT.FAILED;
  },
};
