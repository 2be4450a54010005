// Group commit: concurrent writes share one database commit, and one failing write in a batch
// loses only itself.
import { mkdtempSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { buildObjectDefs } from '../../src/workflow/objects.js';

let dir: string;
let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('group commit', () => {
  it('commits concurrent writes together; a refused write fails alone', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-gc-'));
    store = await openStore(join(dir, 's.db'), buildObjectDefs({ users: { fields: { n: { type: 'number' } } } }));
    const writes = Array.from({ length: 20 }, (_, i) =>
      store!.commit([{ op: 'setFields', object: 'users', key: `u${i}`, patch: { n: i === 7 ? 'not a number' : i }, opts: { createIfMissing: true } }]),
    );
    const results = await Promise.allSettled(writes);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect((results[7] as PromiseRejectedResult).reason.message).toMatch(/n/);
    expect(await store.countRecords('users')).toBe(19);
    expect(await store.getRecord('users', 'u7')).toBeNull();
    // A multi-op commit is atomic: its second write fails, so its first does not land either.
    await expect(
      store.commit([
        { op: 'setFields', object: 'users', key: 'x', patch: { n: 1 }, opts: { createIfMissing: true } },
        { op: 'setFields', object: 'users', key: 'y', patch: { n: 'nope' }, opts: { createIfMissing: true } },
      ]),
    ).rejects.toThrow();
    expect(await store.getRecord('users', 'x')).toBeNull();
    const events = await store.readEvents({ limit: 1000 });
    expect(events).toHaveLength(19);
  });

  it('a lazy write waits a few milliseconds for company, and a write someone waits on takes it along', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-gc-'));
    const path = join(dir, 's.db');
    store = await openStore(path, buildObjectDefs({ users: { fields: { n: { type: 'number' } } } }));
    // A second connection sees only what is committed.
    const reader = new Database(path, { readonly: true });
    const count = () => (reader.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
    try {
      let landed = false;
      const lazy = store.commit([{ op: 'setFields', object: 'users', key: 'a', patch: { n: 1 }, opts: { createIfMissing: true } }], { lazy: true });
      void lazy.then(() => (landed = true));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(landed).toBe(false);
      expect(count()).toBe(0);
      // An ordinary commit goes out at the next turn, with the lazy write before it.
      await store.commit([{ op: 'setFields', object: 'users', key: 'b', patch: { n: 2 }, opts: { createIfMissing: true } }]);
      expect(landed).toBe(true);
      expect(count()).toBe(2);
      // Alone, a lazy write still lands, a few milliseconds later.
      await store.commit([{ op: 'setFields', object: 'users', key: 'c', patch: { n: 3 }, opts: { createIfMissing: true } }], { lazy: true });
      expect(count()).toBe(3);
      // flush() sends one on at once.
      const d = store.commit([{ op: 'setFields', object: 'users', key: 'd', patch: { n: 4 }, opts: { createIfMissing: true } }], { lazy: true });
      await store.flush();
      expect(count()).toBe(4);
      await d;
      await store.flush(); // nothing waiting: resolves at once
    } finally {
      reader.close();
    }
  });

  it('close commits lazy writes still waiting', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-gc-'));
    const path = join(dir, 's.db');
    const objects = buildObjectDefs({ users: { fields: { n: { type: 'number' } } } });
    const s1 = await openStore(path, objects);
    const lazy = s1.commit([{ op: 'setFields', object: 'users', key: 'late', patch: { n: 9 }, opts: { createIfMissing: true } }], { lazy: true });
    await s1.close();
    await expect(lazy).resolves.toHaveLength(1);
    store = await openStore(path, objects);
    expect((await store.getRecord('users', 'late'))?.fields.n).toBe(9);
  });
});
