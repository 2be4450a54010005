// "Did you mean" suggestions for misspelt names (keys, presets, fields, operators).
import { distance } from 'fastest-levenshtein';

/** "United States of America" -> "USA": the first letters of its words, small words skipped. */
const initials = (s: string) => s.split(/[\s_-]+/).filter((w) => w && !/^(of|and|the)$/i.test(w)).map((w) => w[0]!.toUpperCase()).join('');

/**
 * The closest candidate, if any: an abbreviation of it (USA, UK), else the one within a small
 * edit distance, else the only one that has the name as a part (role -> user_role).
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  if (/^[A-Z]{2,4}$/.test(name)) {
    const abbreviated = list.filter((c) => /\s/.test(c) && initials(c) === name);
    if (abbreviated.length === 1) return abbreviated[0];
  }
  let best: string | undefined;
  let bestD = Infinity;
  const limit = Math.max(2, Math.floor(name.length / 3));
  for (const c of list) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD && d <= limit) {
      best = c;
      bestD = d;
    }
  }
  if (best !== undefined || name.length < 3) return best;
  const lower = name.toLowerCase();
  const containing = list.filter((c) => c.toLowerCase().split(/[_-]/).includes(lower));
  return containing.length === 1 ? containing[0] : undefined;
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
