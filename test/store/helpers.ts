// Temp-dir SQLite stores for store tests: real files, removed after each test file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/types.js';
import { buildObjectDefs, type DeclaredObject, type ObjectDef } from '../../src/workflow/objects.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'skein-store-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** users (built-in fields plus a few typed custom ones) and a `devices` object keyed by serial. */
export const TEST_OBJECTS: Record<string, DeclaredObject> = {
  users: {
    fields: {
      qualys_login: { type: 'string' },
      risk_score: { type: 'number' },
      mfa_enabled: { type: 'boolean' },
      notes: { type: 'long_text' },
      api_token: { type: 'string', sensitive: true },
    },
  },
  devices: { key: 'serial', fields: { hostname: { type: 'string' } } },
};

export function testObjects(): Map<string, ObjectDef> {
  return buildObjectDefs(TEST_OBJECTS);
}

/** A fresh store in a new temp dir, with a clock that ticks one second per call. */
export async function openTempStore(objects = testObjects()): Promise<{ store: Store; file: string }> {
  const file = path.join(tempDir(), 'nested', 'dir', 'state.db');
  let t = Date.parse('2025-01-01T00:00:00Z');
  const store = await openSqliteStore(file, objects, { now: () => new Date((t += 1000)).toISOString() });
  return { store, file };
}
