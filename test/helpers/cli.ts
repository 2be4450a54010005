// Runs the CLI in-process with captured output: main(argv, io) with string-collecting streams.
import { Writable } from 'node:stream';
import type { Io } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

export interface CapturedIo extends Io {
  out(): string;
  err(): string;
}

function sink(append: (s: string) => void): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      append(String(chunk));
      cb();
    },
  });
}

/** An Io whose stdout and stderr collect into strings; env is empty unless given. */
export function captureIo(cwd: string, env: NodeJS.ProcessEnv = {}): CapturedIo {
  let out = '';
  let err = '';
  return {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    env,
    cwd,
    out: () => out,
    err: () => err,
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `skein ...argv` in-process in `cwd`. */
export async function runCli(argv: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const io = captureIo(cwd, env);
  const code = await main(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}
