import { describe, expect, it } from 'vitest';
import { SkeinError } from '../../src/errors.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { openTempStore, testObjects } from './helpers.js';

describe('records and the outbox', () => {
  it('writes a created event with the full record', async () => {
    const { store } = await openTempStore();
    const ev = await store.setFields('users', 'alice', { email: 'a@example.com', risk_score: '7' }, { createIfMissing: true, source: 'cli' });
    expect(ev).toMatchObject({
      object: 'users',
      key: 'alice',
      kind: 'created',
      before: null,
      after: { username: 'alice', email: 'a@example.com', risk_score: 7 },
      changed: ['email', 'risk_score', 'username'],
      source: 'cli',
    });
    const rec = await store.getRecord('users', 'alice');
    expect(rec).toMatchObject({ key: 'alice', version: 1, fields: ev!.after });
    expect(await store.readEvents()).toEqual([ev]);
    await store.close();
  });

  it('writes ONE event for a multi-field set, and none when nothing changes', async () => {
    const { store } = await openTempStore();
    await store.setFields('users', 'alice', { email: 'a@example.com', title: 'Engineer' }, { createIfMissing: true });
    const ev = await store.setFields('users', 'alice', { email: 'alice@example.com', title: 'Lead', status: 'Active' });
    expect(ev).toMatchObject({
      kind: 'updated',
      before: { username: 'alice', email: 'a@example.com', title: 'Engineer' },
      after: { username: 'alice', email: 'alice@example.com', title: 'Lead', status: 'Active' },
      changed: ['email', 'status', 'title'],
    });
    expect(await store.setFields('users', 'alice', { email: 'alice@example.com', title: 'Lead' })).toBeNull();
    expect(await store.readEvents()).toHaveLength(2);
    const rec = await store.getRecord('users', 'alice');
    expect(rec?.version).toBe(2);
    expect(rec!.updated_at > rec!.created_at).toBe(true);
    await store.close();
  });

  it('clears a field with null or "" and records it as changed', async () => {
    const { store } = await openTempStore();
    await store.setFields('users', 'bob', { email: 'b@example.com', title: 'X', phone: '1' }, { createIfMissing: true });
    const ev = await store.setFields('users', 'bob', { title: '', phone: null });
    expect(ev?.changed).toEqual(['phone', 'title']);
    expect(ev?.after).toEqual({ username: 'bob', email: 'b@example.com' });
    expect(await store.setFields('users', 'bob', { title: '' })).toBeNull();
    await store.close();
  });

  it('throws record-not-found without createIfMissing and invalid-field for bad values, writing nothing', async () => {
    const { store } = await openTempStore();
    await expect(store.setFields('users', 'ghost', { email: 'g@x' })).rejects.toMatchObject({ code: 'record-not-found' });
    await store.setFields('users', 'alice', { email: 'a@x' }, { createIfMissing: true });
    const err = (await store.setFields('users', 'alice', { email: 'new@x', risk_score: 'lots', shoe: 1 }).catch((e) => e)) as SkeinError;
    expect(err.code).toBe('invalid-field');
    expect(err.message).toContain('field "risk_score" expects a number; got "lots"');
    expect(err.message).toContain('unknown field "shoe"');
    expect((await store.getRecord('users', 'alice'))?.fields.email).toBe('a@x');
    expect(await store.readEvents()).toHaveLength(1);
    await expect(store.getRecord('planets', 'x')).rejects.toMatchObject({ code: 'unknown-object' });
    await store.close();
  });

  it('writes a deleted event with the last fields', async () => {
    const { store } = await openTempStore();
    await store.setFields('users', 'carol', { email: 'c@x' }, { createIfMissing: true });
    const ev = await store.deleteRecord('users', 'carol', { source: 'cli' });
    expect(ev).toMatchObject({ kind: 'deleted', before: { username: 'carol', email: 'c@x' }, after: null, changed: ['email', 'username'] });
    expect(await store.getRecord('users', 'carol')).toBeNull();
    expect(await store.deleteRecord('users', 'carol')).toBeNull();
    const events = await store.readEvents();
    expect(events.map((e) => e.kind)).toEqual(['created', 'deleted']);
    expect(events[1]!.id).toBeGreaterThan(events[0]!.id);
    await store.close();
  });

  it('upsertMany reports each row and writes events only for changes', async () => {
    const { store } = await openTempStore();
    const first = await store.upsertMany('users', [
      { username: 'a', email: 'a@x' },
      { username: 'b', email: 'b@x', risk_score: 'x' },
      { email: 'nokey@x' },
    ]);
    expect(first.map((o) => o.outcome)).toEqual(['created', 'rejected', 'rejected']);
    expect(first[2]).toEqual({ key: undefined, outcome: 'rejected', reason: 'missing key field "username"' });
    const second = await store.upsertMany('users', [{ username: 'a', email: 'a@x' }, { username: 'a', title: 'T' }]);
    expect(second.map((o) => o.outcome)).toEqual(['unchanged', 'updated']);
    expect((await store.readEvents()).map((e) => `${e.kind}:${e.key}`)).toEqual(['created:a', 'updated:a']);
    expect(await store.countRecords('users')).toBe(1);
    await store.close();
  });

  it('lists by key with where (string forms), limit and afterKey', async () => {
    const { store } = await openTempStore();
    await store.upsertMany('users', [
      { username: 'c', status: 'Active', mfa_enabled: true },
      { username: 'a', status: 'Active', risk_score: 5 },
      { username: 'b', status: 'Leaver', mfa_enabled: 'no' },
    ]);
    expect((await store.listRecords('users')).map((r) => r.key)).toEqual(['a', 'b', 'c']);
    expect((await store.listRecords('users', { where: { status: 'Active' } })).map((r) => r.key)).toEqual(['a', 'c']);
    expect((await store.listRecords('users', { where: { mfa_enabled: 'true' } })).map((r) => r.key)).toEqual(['c']);
    expect((await store.listRecords('users', { where: { risk_score: '5' } })).map((r) => r.key)).toEqual(['a']);
    expect((await store.listRecords('users', { where: { risk_score: '' } })).map((r) => r.key)).toEqual(['b', 'c']);
    expect((await store.listRecords('users', { where: { username: 'b' } })).map((r) => r.key)).toEqual(['b']);
    expect((await store.listRecords('users', { limit: 2 })).map((r) => r.key)).toEqual(['a', 'b']);
    expect((await store.listRecords('users', { afterKey: 'a', limit: 1 })).map((r) => r.key)).toEqual(['b']);
    await expect(store.listRecords('users', { where: { nope: '1' } })).rejects.toMatchObject({ code: 'invalid-field' });
    expect(await store.listRecords('devices')).toEqual([]);
    await store.close();
  });

  it('keeps objects apart and uses each object key field', async () => {
    const { store } = await openTempStore();
    const out = await store.upsertMany('devices', [{ serial: 'SN1', hostname: 'h1' }, { username: 'x' }]);
    expect(out[0]).toMatchObject({ key: 'SN1', outcome: 'created' });
    expect(out[1]).toMatchObject({ outcome: 'rejected' });
    expect(await store.countRecords('devices')).toBe(1);
    expect(await store.countRecords('users')).toBe(0);
    await store.close();
  });
});

describe('event consumption', () => {
  it('markEventHandled is true once per (event, workflow)', async () => {
    const { store } = await openTempStore();
    const ev = await store.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
    expect(await store.markEventHandled(ev!.id, 'offboard')).toBe(true);
    expect(await store.markEventHandled(ev!.id, 'offboard')).toBe(false);
    expect(await store.markEventHandled(ev!.id, 'onboard')).toBe(true);
    await expect(store.markEventHandled(9999, 'x')).rejects.toMatchObject({ code: 'event-not-found' });
    await store.close();
  });

  it('pendingEventsFor skips handled events; lastEventId gives a cursor', async () => {
    const { store } = await openTempStore();
    expect(await store.lastEventId()).toBe(0);
    await store.upsertMany('users', [{ username: 'a' }, { username: 'b' }, { username: 'c' }]);
    await store.upsertMany('devices', [{ serial: 'd1' }]);
    const all = await store.readEvents();
    await store.markEventHandled(all[0]!.id, 'wf');
    expect((await store.pendingEventsFor('wf')).map((e) => e.key)).toEqual(['b', 'c', 'd1']);
    expect((await store.pendingEventsFor('wf', { object: 'users', limit: 1 })).map((e) => e.key)).toEqual(['b']);
    expect((await store.pendingEventsFor('other', { afterId: all[1]!.id })).map((e) => e.key)).toEqual(['c', 'd1']);
    expect((await store.readEvents({ object: 'devices' })).map((e) => e.key)).toEqual(['d1']);
    expect(await store.lastEventId()).toBe(all[3]!.id);
    await store.close();
  });
});

describe('transaction', () => {
  it('commits record changes, steps and handled marks together', async () => {
    const { store } = await openTempStore();
    const ev = await store.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
    const runId = await store.createRun({ workflow: 'wf', trigger: 'event' });
    await store.startRunRecord(runId, 'users', 'a');
    await store.transaction(async (tx) => {
      await tx.setFields('users', 'a', { qualys_login: 'acme_aa' }, { source: 'workflow:wf' });
      await tx.recordStep(runId, 'a', { step_id: 'create', status: 'succeeded' });
      await tx.markEventHandled(ev!.id, 'wf');
    });
    expect((await store.getRecord('users', 'a'))?.fields.qualys_login).toBe('acme_aa');
    expect(await store.pendingEventsFor('wf')).toEqual([expect.objectContaining({ source: 'workflow:wf' })]);
    await store.close();
  });

  it('rolls everything back when the function throws', async () => {
    const { store } = await openTempStore();
    await store.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
    await expect(
      store.transaction(async (tx) => {
        await tx.setFields('users', 'a', { email: 'changed@x' });
        await tx.setKv('k', 'v');
        await new Promise((r) => setTimeout(r, 5));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await store.getRecord('users', 'a'))?.fields.email).toBe('a@x');
    expect(await store.getKv('k')).toBeNull();
    expect(await store.readEvents()).toHaveLength(1);
    await store.close();
  });

  it('queues outside callers until it ends and refuses the store handle inside', async () => {
    const { store } = await openTempStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = store.transaction(async (t) => {
      await t.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
      await expect(store.getRecord('users', 'a')).rejects.toMatchObject({ code: 'store-tx-misuse' });
      await gate;
      return 'done';
    });
    const outside = store.getRecord('users', 'a');
    release();
    expect(await tx).toBe('done');
    expect((await outside)?.fields.email).toBe('a@x');
    await store.close();
  });
});

describe('kv', () => {
  it('gets and sets values', async () => {
    const { store } = await openTempStore();
    expect(await store.getKv('schedule:wf')).toBeNull();
    await store.setKv('schedule:wf', '2025-01-01T00:00:00Z');
    await store.setKv('schedule:wf', '2025-01-02T00:00:00Z');
    expect(await store.getKv('schedule:wf')).toBe('2025-01-02T00:00:00Z');
    await store.close();
    await expect(store.getKv('x')).rejects.toMatchObject({ code: 'store-closed' });
  });
});

describe('two stores on one file (as two runners)', () => {
  it('share events, mark each (event, workflow) once, and report a held lock as store-busy', async () => {
    const { store: a, file } = await openTempStore();
    const b = await openSqliteStore(file, testObjects(), { busyTimeoutMs: 50 });
    const ev = await a.setFields('users', 'x', { email: 'x@x' }, { createIfMissing: true });
    expect((await b.pendingEventsFor('wf')).map((e) => e.id)).toEqual([ev!.id]);
    const marks = await Promise.all([a.markEventHandled(ev!.id, 'wf'), b.markEventHandled(ev!.id, 'wf')]);
    expect(marks.sort()).toEqual([false, true]);
    let release!: () => void;
    const held = a.transaction(async (tx) => {
      await tx.setKv('lock', 'held');
      await new Promise<void>((r) => (release = r));
    });
    await new Promise((r) => setTimeout(r, 10));
    const err = await b.setKv('other', 'v').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'store-busy', retryable: true });
    release();
    await held;
    await b.setKv('other', 'v');
    expect(await a.getKv('other')).toBe('v');
    await a.close();
    await b.close();
  });
});
