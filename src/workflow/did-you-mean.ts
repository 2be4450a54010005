// "Did you mean" suggestions for misspelt names (keys, presets, fields, operators).
import { distance } from 'fastest-levenshtein';

/** The closest candidate within a small edit distance, if any. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const limit = Math.max(2, Math.floor(name.length / 3));
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD && d <= limit) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** `; did you mean "x"?` or the empty string. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c !== undefined && c !== name ? `; did you mean "${c}"?` : '';
}

/** Sorted, comma-separated list for "allowed: ..." parts of messages; long lists are cut. */
export function allowedList(values: Iterable<string>, max = 12): string {
  const all = [...values].sort();
  return all.length > max ? `${all.slice(0, max).join(', ')}, ... (${all.length} in all)` : all.join(', ');
}
