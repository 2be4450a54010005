// The documented helper set available in every template (docs/workflow-format.md, "Helpers").
// Helpers are pure and never throw on empty input: a missing value renders as ''.

import { parseDate } from '../conditions/dates.js';

type HelperOptions = { hash?: Record<string, unknown> };

const isOptions = (v: unknown): v is HelperOptions => typeof v === 'object' && v !== null && 'hash' in v && 'data' in v;

function args(list: unknown[]): unknown[] {
  return isOptions(list[list.length - 1]) ? list.slice(0, -1) : list;
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** What `{{date "now"}}` reads: the wall clock, or a test case's fixed `now` while it runs. */
let templateNow: () => number = Date.now;

/** Runs `fn` with `{{date "now"}}` fixed at `now` (skein test cases; they run one at a time). */
export async function withTemplateNow<T>(now: Date, fn: () => Promise<T>): Promise<T> {
  const previous = templateNow;
  templateNow = () => now.getTime();
  try {
    return await fn();
  } finally {
    templateNow = previous;
  }
}

export const HELPERS: Record<string, (...a: unknown[]) => unknown> = {
  /** {{default value "fallback"}}: the first argument that is not empty. */
  default: (...a) => args(a).find((v) => v !== undefined && v !== null && v !== '') ?? '',
  /** {{lower value}} */
  lower: (...a) => text(args(a)[0]).toLowerCase(),
  /** {{upper value}} */
  upper: (...a) => text(args(a)[0]).toUpperCase(),
  /** {{trim value}} */
  trim: (...a) => text(args(a)[0]).trim(),
  /** {{join list ","}}: joins a list (default separator ","). */
  join: (...a) => {
    const [list, sep] = args(a);
    return Array.isArray(list) ? list.map(text).join(sep === undefined ? ',' : text(sep)) : text(list);
  },
  /** {{urlencode value}}: a value percent-encoded for a URL path segment or query (/ ? # & too). */
  urlencode: (...a) => encodeURIComponent(text(args(a)[0])),
  /** {{json value}}: JSON text of a value. */
  json: (...a) => JSON.stringify(args(a)[0] ?? null),
  /** {{date value "YYYY-MM-DD"}}: formats a date (tokens YYYY MM DD HH mm ss; default ISO 8601 UTC). */
  date: (...a) => {
    const [value, format] = args(a);
    // Only "now" and ISO 8601 text (a real calendar day): anything else renders '' rather than
    // whatever Date would guess from it (42 -> 2042, "2026-02-30" -> March 2).
    const t = value === 'now' ? templateNow() : value instanceof Date ? value.getTime() : typeof value === 'string' ? parseDate(value) : undefined;
    if (t === undefined || Number.isNaN(t)) return '';
    const d = new Date(t);
    if (format === undefined) return d.toISOString();
    const pad = (n: number) => String(n).padStart(2, '0');
    return text(format).replace(/YYYY|MM|DD|HH|mm|ss/g, (t) =>
      t === 'YYYY' ? String(d.getUTCFullYear())
      : t === 'MM' ? pad(d.getUTCMonth() + 1)
      : t === 'DD' ? pad(d.getUTCDate())
      : t === 'HH' ? pad(d.getUTCHours())
      : t === 'mm' ? pad(d.getUTCMinutes())
      : pad(d.getUTCSeconds()),
    );
  },
  /** {{eq a b}} for use in {{#if (eq status "Active")}}. */
  eq: (...a) => {
    const [x, y] = args(a);
    return text(x) === text(y);
  },
};

/** Handlebars' own block helpers that templates may use. */
export const BUILTIN_BLOCK_HELPERS = ['if', 'unless', 'each', 'with', 'lookup'] as const;

export const ALL_HELPER_NAMES: ReadonlySet<string> = new Set([...Object.keys(HELPERS), ...BUILTIN_BLOCK_HELPERS]);
