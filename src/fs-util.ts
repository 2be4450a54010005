// File-system helpers shared by the store and `skein init`.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * mkdir -p, one level at a time: Node 20's recursive mkdirSync spins forever on some paths
 * (e.g. under /proc) instead of failing; this fails with the first level that cannot be made.
 */
export function makeDirs(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeDirs(parent);
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}
