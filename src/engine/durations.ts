// Durations in the workflow language: "500ms", "30s", "5m", "24h".
export function parseDuration(text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) return fallbackMs;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
}

/** Step defaults, documented in docs/workflow-format.md ("retry" and "timeout"). */
export const STEP_DEFAULTS = { timeoutMs: 30_000, attempts: 4, backoffMs: 500, maxBackoffMs: 60_000 } as const;
