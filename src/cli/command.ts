// The shape every subcommand implements; commands are listed once in commands/index.ts.
import type { Io } from './io.js';

export interface Command {
  name: string;
  /** One line for `skein --help`. */
  summary: string;
  /** Full `--help` text for the command. */
  help: string;
  run(args: string[], io: Io): Promise<number>;
}

/** Raised for bad usage; the CLI prints it with the command's usage hint and exits 2. */
export class UsageError extends Error {
  readonly code = 'usage';
}
