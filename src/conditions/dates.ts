// Dates in rules: ISO 8601 values and relative forms (now, today, now-30d, today+1d, now-2h).

import { isIsoDate } from '../store/values.js';

const RELATIVE = /^(now|today)(?:\s*([+-])\s*(\d+)\s*(s|m|h|d|w))?$/i;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Milliseconds since the epoch, or undefined when the text is not a date. */
export function parseDate(text: string): number | undefined {
  const s = text.trim();
  // The shape, then a real calendar day and clock (2026-02-30 is not a date, not 2026-03-02).
  if (!ISO.test(s) || !isIsoDate(s.replace(' ', 'T'))) return undefined;
  const t = Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s);
  return Number.isNaN(t) ? undefined : t;
}

/** A rule's date value (absolute or relative to `now`), as epoch milliseconds. */
export function parseRelativeDate(text: string, now: Date): number | undefined {
  const m = RELATIVE.exec(text.trim());
  if (!m) return parseDate(text);
  const base = m[1]!.toLowerCase() === 'today' ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) : now.getTime();
  if (!m[2]) return base;
  const delta = Number(m[3]) * UNIT_MS[m[4]!.toLowerCase()]!;
  return m[2] === '-' ? base - delta : base + delta;
}
