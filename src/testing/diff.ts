// Expected-versus-actual for `skein test`: one line per mismatch, and a small unified-style line
// diff when either side spans several lines (XML bodies, api_response fields).

/** Longest lines shown of a diff; the rest is summarized. */
const MAX_DIFF_LINES = 40;

/** A value as shown in a message: quoted, or (absent). */
export function shown(v: string | undefined): string {
  return v === undefined ? '(absent)' : JSON.stringify(v);
}

/** True when the value spans several lines, so a line diff says more than two quoted strings. */
export function isMultiline(...values: Array<string | undefined>): boolean {
  return values.some((v) => v !== undefined && v.includes('\n'));
}

/**
 * A unified-style diff of two texts (`-` expected, `+` actual, two lines of context), computed
 * with a plain LCS table: the values are small (one response body at most).
 */
export function unifiedDiff(expected: string, actual: string): string[] {
  const a = expected.split('\n');
  const b = actual.split('\n');
  if (a.length * b.length > 1_000_000) return ['--- expected', '+++ actual', `(too long to diff: ${a.length} and ${b.length} lines)`];
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const ops: Array<{ kind: ' ' | '-' | '+'; text: string }> = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({ kind: ' ', text: a[i++]! }), j++;
    // Removals before additions where both keep the common part as long, as diff -u prints them.
    else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ kind: '-', text: a[i++]! });
    else ops.push({ kind: '+', text: b[j++]! });
  }
  // Keep changed lines with two lines of context; elide the rest.
  const keep = ops.map((o, k) => ops.slice(Math.max(0, k - 2), k + 3).some((x) => x.kind !== ' '));
  const out = ['--- expected', '+++ actual'];
  let gap = false;
  for (const [k, o] of ops.entries()) {
    if (!keep[k]) {
      if (!gap) out.push('@@');
      gap = true;
      continue;
    }
    gap = false;
    out.push(`${o.kind}${o.text}`);
  }
  if (out.length > MAX_DIFF_LINES) return [...out.slice(0, MAX_DIFF_LINES), `... (${out.length - MAX_DIFF_LINES} more lines)`];
  return out;
}
