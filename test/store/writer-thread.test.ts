// The SQLite store's writer thread (compiled build only: the tests import dist/, which `npm test`
// builds first). Store.commit batches run there on a second connection; everything a caller can
// see must be as on the main thread: results, per-write failures with their codes, atomic
// multi-op commits, reads after a resolved commit, and a clean file after close.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordEvent, Store } from '../../src/store/types.js';
import { buildObjectDefs } from '../../src/workflow/objects.js';

const dist = pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'store', 'index.js')).href;
const { openStore } = (await import(dist)) as { openStore: (path: string, objects: unknown, opts?: { writerThread?: boolean }) => Promise<Store> };
const objects = buildObjectDefs({ users: { fields: { n: { type: 'number' } } } });

let dir: string;
let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const usesWriter = (s: Store) => (s as unknown as { writer?: unknown }).writer != null;

describe('SQLite writer thread', () => {
  it('runs commit batches off the main thread with the same results and failures', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-writer-'));
    store = await openStore(join(dir, 's.db'), objects);
    const writes = Array.from({ length: 20 }, (_, i) =>
      store!.commit([{ op: 'setFields', object: 'users', key: `u${i}`, patch: { n: i === 7 ? 'not a number' : i }, opts: { createIfMissing: true } }]),
    );
    const results = await Promise.allSettled(writes);
    expect(usesWriter(store)).toBe(true);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect((results[7] as PromiseRejectedResult).reason).toMatchObject({ name: 'SkeinError', code: 'invalid-field' });
    const [ev] = (results[3] as PromiseFulfilledResult<unknown[]>).value as [RecordEvent];
    expect(ev).toMatchObject({ kind: 'created', key: 'u3', after: { username: 'u3', n: 3 } });
    // Reads on the main connection see every resolved commit.
    expect(await store.countRecords('users')).toBe(19);
    expect(await store.getRecord('users', 'u7')).toBeNull();
    await expect(
      store.commit([
        { op: 'setFields', object: 'users', key: 'x', patch: { n: 1 }, opts: { createIfMissing: true } },
        { op: 'setFields', object: 'users', key: 'y', patch: { n: 'nope' }, opts: { createIfMissing: true } },
      ]),
    ).rejects.toMatchObject({ code: 'invalid-field' });
    expect(await store.getRecord('users', 'x')).toBeNull();
    // Writes on the main thread and on the writer keep their order.
    await store.setFields('users', 'u1', { n: 100 });
    await store.commit([{ op: 'setFields', object: 'users', key: 'u1', patch: { n: 101 } }]);
    expect((await store.getRecord('users', 'u1'))?.fields.n).toBe(101);
    expect(await store.readEvents({ limit: 1000 })).toHaveLength(21);
    // A value that cannot be copied to the thread is written (here: refused) on the main thread.
    await expect(store.commit([{ op: 'setFields', object: 'users', key: 'u2', patch: { n: (() => 1) as never } }])).rejects.toMatchObject({ code: 'invalid-field' });
    await store.commit([{ op: 'setFields', object: 'users', key: 'u2', patch: { n: 22 } }]);
    expect((await store.getRecord('users', 'u2'))?.fields.n).toBe(22);
  });

  it('journals run history there, with the same errors', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-writer-'));
    store = await openStore(join(dir, 's.db'), objects);
    await store.setFields('users', 'a', { n: 1 }, { createIfMissing: true });
    const runId = await store.createRun({ workflow: 'w', trigger: 'manual' });
    await store.commit([
      { op: 'startRunRecord', runId, object: 'users', key: 'a' },
      { op: 'recordStep', runId, recordKey: 'a', step: { step_id: 's', status: 'running', started_at: '2025-01-01T00:00:00Z', attempts: 0 } },
    ]);
    expect(usesWriter(store)).toBe(true);
    expect(await store.stepsInDoubt('w', 'a', 's')).toHaveLength(1);
    await store.commit([
      { op: 'recordStep', runId, recordKey: 'a', step: { step_id: 's', status: 'succeeded', http_status: 200, response: '<A/>', attempts: 1 } },
      { op: 'finishRunRecord', runId, key: 'a', status: 'succeeded', error: null },
    ]);
    await expect(store.commit([{ op: 'recordStep', runId, recordKey: 'nobody', step: { step_id: 's', status: 'running' } }])).rejects.toMatchObject({ code: 'run-record-not-found' });
    await expect(store.commit([{ op: 'startRunRecord', runId: 'r_nope', object: 'users', key: 'a' }])).rejects.toMatchObject({ code: 'run-not-found' });
    const run = await store.getRun(runId);
    expect(run?.records[0]).toMatchObject({ key: 'a', status: 'succeeded' });
    // Undefined fields of the final row kept the running row's values.
    expect(run?.records[0]?.steps[0]).toMatchObject({ status: 'succeeded', started_at: '2025-01-01T00:00:00Z', http_status: 200, response: '<A/>', attempts: 1 });
    expect(await store.stepsInDoubt('w', 'a', 's')).toHaveLength(0);
  });

  it('closes its connection first, so the file is left checkpointed; writerThread false keeps writes inline', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skein-writer-'));
    const path = join(dir, 's.db');
    const first = await openStore(path, objects);
    await first.commit([{ op: 'setFields', object: 'users', key: 'a', patch: { n: 1 }, opts: { createIfMissing: true } }]);
    await first.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    await expect(first.commit([{ op: 'setFields', object: 'users', key: 'a', patch: { n: 2 } }])).rejects.toMatchObject({ code: 'store-closed' });
    store = await openStore(path, objects, { writerThread: false });
    await store.commit([{ op: 'setFields', object: 'users', key: 'a', patch: { n: 3 } }]);
    expect(usesWriter(store)).toBe(false);
    expect((await store.getRecord('users', 'a'))?.fields.n).toBe(3);
  });
});
