// CLI entry: parse the command name and global flags, dispatch, turn results into exit codes.
// The only module that sets process.exitCode.
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { commands } from './commands/index.js';
import { UsageError } from './command.js';
import { EXIT } from './exit-codes.js';
import { processIo, println, type Io } from './io.js';
import { SkeinError } from '../errors.js';

const require = createRequire(import.meta.url);

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'skein: workflows-as-code for identity and asset integrations',
    '',
    'Usage: skein <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    '  --help, -h     show help (also `skein help`, `skein <command> --help`)',
    '  --version, -v  print the version',
    '  --debug        show stack traces for internal errors',
    '',
    'Exit codes: 0 ok, 1 findings or failures, 2 bad usage or unreadable input.',
  ].join('\n');
}

/** Runs the CLI with the given argv (without node and script). Returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    println(io.stdout, topHelp());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-v') {
    println(io.stdout, (require('../../package.json') as { version: string }).version);
    return EXIT.OK;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    println(io.stderr, `skein: unknown command "${name}"; commands: ${commands.map((c) => c.name).join(', ')} [usage]`);
    return EXIT.USAGE;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    println(io.stdout, command.help);
    return EXIT.OK;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    return reportError(err, command.name, io, debug);
  }
}

/** An error is one line: Node's own messages (and values quoted in ours) may hold line breaks. */
const oneLine = (s: string) => s.replace(/\s*[\r\n]+\s*/g, ' ');

function reportError(err: unknown, commandName: string, io: Io, debug: boolean): number {
  if (err instanceof UsageError || (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
    println(io.stderr, `skein ${commandName}: ${oneLine((err as Error).message)} (see skein ${commandName} --help) [usage]`);
    return EXIT.USAGE;
  }
  if (err instanceof SkeinError) {
    println(io.stderr, `skein ${commandName}: ${oneLine(err.message)} [${err.code}]`);
    if (debug && err.stack) println(io.stderr, err.stack);
    // A path given on the command line that cannot be read or written is the caller's to fix.
    return err.code === 'unreadable-path' || err.code === 'unwritable-path' ? EXIT.USAGE : EXIT.FAILED;
  }
  const hint = debug ? '' : '; run again with --debug for a stack trace';
  println(io.stderr, `skein ${commandName}: internal error: ${oneLine((err as Error)?.message ?? String(err))}${hint} [internal]`);
  if (debug && err instanceof Error && err.stack) println(io.stderr, err.stack);
  return EXIT.FAILED;
}

/**
 * Rule patterns (`matches:`) come from workflow files and are run against every record: a pattern
 * such as `(a+)+$` backtracks exponentially on a near-miss and would hang a run or the daemon.
 * V8 then switches that match to its linear-time engine (patterns without backreferences or
 * lookaround; the others keep backtracking, see docs/workflow-format.md).
 */
export function guardRegexBacktracking(): void {
  v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
}

/** Process entry used by bin/skein.js. */
export function runMain(): void {
  guardRegexBacktracking();
  main(process.argv.slice(2), processIo()).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`skein: internal error: ${String(err)}\n`);
      process.exitCode = EXIT.FAILED;
    },
  );
}
