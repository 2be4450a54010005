// Group commit: concurrent writes share one database commit, and one failing write in a batch
// loses only itself.
import { mkdtempSync, rmSync } from 'node:fs';
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
});
