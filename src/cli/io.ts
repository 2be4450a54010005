// The streams and environment a command talks to. Injected so the CLI runs in-process in tests.
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** Write a line (adds the newline). */
export function println(stream: NodeJS.WritableStream, line = ''): void {
  stream.write(line + '\n');
}
