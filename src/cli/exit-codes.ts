// Stable exit codes, documented in README.md ("Exit codes"). Never renumber.
export const EXIT = {
  /** Success: valid, all records succeeded, no change (plan). */
  OK: 0,
  /** Findings or failures: invalid workflows, a record failed, an error during the command. */
  FAILED: 1,
  /** Bad usage: unknown command or flag, missing argument, unreadable path. */
  USAGE: 2,
  /** `skein run` stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it). */
  SIGNAL: 130,
} as const;
