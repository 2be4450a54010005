// Seeded randomness for the sandbox. With a seed, generated logins, passwords, seed users and
// probabilistic faults repeat exactly from run to run (given the same request order).
import { randomInt } from 'node:crypto';

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: tiny, fast and good enough for test data (not for real secrets). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    pick<T>(items: readonly T[]): T {
      return items[int(items.length)] as T;
    },
  };
}

/** A fresh seed when the caller gave none. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 31);
}

/** Derives an independent stream from a base seed (e.g. one per fault rule). */
export function deriveSeed(seed: number, salt: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(salt + 1, 0xc2b2ae35)) >>> 0;
}

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
// No XML-special characters, so a password never needs escaping outside CDATA.
const SYMBOLS = '#!$%*+-=?@^_';

/**
 * A password like Qualys's generated ones (sample `lWby3dX#`): 8 characters with at least one
 * lower case letter, upper case letter, digit and symbol. The exact policy is UNCONFIRMED.
 */
export function generatePassword(rng: Random, length = 8): string {
  const char = (set: string): string => set[rng.int(set.length)] as string;
  const chars = [char(LOWER), char(UPPER), char(DIGITS), char(SYMBOLS)];
  const all = LOWER + UPPER + DIGITS + SYMBOLS;
  while (chars.length < length) chars.push(char(all));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
