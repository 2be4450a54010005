// Runtime errors with a stable code. Everything a user may see carries one; the CLI prints
// `message [code]` and keeps the stack for --debug.
export class SkeinError extends Error {
  readonly code: string;
  /** True when trying again later may succeed (network, 5xx, rate limits). */
  readonly retryable: boolean;
  /** Lines shown below the one-line message, each on its own (the diagnostics behind it). */
  readonly details: readonly string[];
  constructor(code: string, message: string, opts: { cause?: unknown; retryable?: boolean; details?: readonly string[] } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SkeinError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.details = opts.details ?? [];
  }
}
