// CLI entry: parse the command name and global flags, dispatch, turn results into exit codes.
// The only module that sets process.exitCode.
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { commands } from './commands/index.js';
import { UsageError } from './command.js';
import { EXIT } from './exit-codes.js';
import { processIo, println, type Io } from './io.js';
import { SkeinError } from '../errors.js';
import { didYouMean } from '../workflow/did-you-mean.js';

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
    '  --help, -h     show help (also `skein help [command]`, `skein <command> --help`)',
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
  // `skein help plan` is `skein plan --help`.
  if (name === 'help' && rest[0] !== undefined) return main([rest[0], '--help'], io);
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
    const names = commands.map((c) => c.name);
    println(io.stderr, `skein: unknown command "${name}"${didYouMean(name, names)}; commands: ${names.join(', ')} [usage]`);
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
    return reportError(err, command.name, io, debug, command.help);
  }
}

/**
 * node:util parseArgs errors, said the way the rest of the CLI says things: the option, what is
 * wrong with it, and the likely flag when one is misspelt (the flags are read off the help).
 */
function parseArgsMessage(err: Error & { code?: string }, help: string): string {
  const opt = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1];
  const flags = [...new Set(help.match(/--[a-z][a-z0-9-]*/g) ?? [])];
  switch (opt && err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${opt}${didYouMean(opt!, flags)}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(err.message)) return `${opt} takes no value`;
      if (/ambiguous/.test(err.message)) return `${opt} needs a value; to give one that starts with "-", write ${opt}=VALUE`;
      return `${opt} needs a value`;
    default:
      return oneLine(err.message.split('. ')[0]!.replace(/^\w/, (c) => c.toLowerCase()));
  }
}

/** An error is one line: Node's own messages (and values quoted in ours) may hold line breaks. */
const oneLine = (s: string) => s.replace(/\s*[\r\n]+\s*/g, ' ');

function reportError(err: unknown, commandName: string, io: Io, debug: boolean, help: string): number {
  const parseArgsError = (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS');
  if (err instanceof UsageError || parseArgsError) {
    const message = parseArgsError ? parseArgsMessage(err as Error, help) : oneLine((err as Error).message);
    println(io.stderr, `skein ${commandName}: ${message} (see skein ${commandName} --help) [usage]`);
    return EXIT.USAGE;
  }
  if (err instanceof SkeinError) {
    println(io.stderr, `skein ${commandName}: ${oneLine(err.message)} [${err.code}]`);
    for (const line of err.details) println(io.stderr, line);
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
