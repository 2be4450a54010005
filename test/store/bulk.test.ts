// Bulk: 100,000 users upserted in one transaction, upserted again unchanged, then listed across
// many pages. Only what comes back is checked; the time it takes is a benchmark figure
// (`npm run bench -- store`), never a test assertion.
import { describe, expect, it } from 'vitest';
import { openTempStore } from './helpers.js';

const N = 100_000;

describe('bulk', () => {
  it(`upserts ${N} records in one transaction, then lists them in key order`, async () => {
    const { store } = await openTempStore();
    const rows = Array.from({ length: N }, (_, i) => ({
      // scattered key order, as in real HR exports
      username: `user${String((i * 7919) % N).padStart(6, '0')}`,
      email: `user${i}@example.com`,
      first_name: 'Pat',
      last_name: `Lee${i}`,
      city: 'Berlin',
      country: 'Germany',
      status: i % 3 ? 'Active' : 'Inactive',
      start_date: '2024-01-02',
    }));
    const outcomes = await store.upsertMany('users', rows);
    expect(outcomes.every((o) => o.outcome === 'created')).toBe(true);
    const noop = await store.upsertMany('users', rows);
    expect(noop.every((o) => o.outcome === 'unchanged')).toBe(true);
    const all = await store.listRecords('users');
    expect(all).toHaveLength(N);
    expect(all[0]!.key).toBe('user000000');
    expect(all[N - 1]!.key).toBe('user099999');
    expect(all.every((r, i) => i === 0 || all[i - 1]!.key < r.key)).toBe(true);
    const inactive = await store.listRecords('users', { where: { status: 'Inactive' } });
    expect(inactive).toHaveLength(Math.ceil(N / 3));
    expect(inactive.every((r) => r.fields.status === 'Inactive')).toBe(true);
    expect(await store.countRecords('users')).toBe(N);
    expect(await store.lastEventId()).toBe(N);
    await store.close();
  }, 120_000);
});
