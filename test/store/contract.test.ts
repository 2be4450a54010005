// The Store contract, run against every back end: SQLite on a temp file and PostgreSQL on a
// fresh database per test (created here, dropped afterwards). PostgreSQL must be reachable (see
// .ci/run); when it is not, every PostgreSQL test FAILS with a message saying so: never skipped.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SkeinError } from '../../src/errors.js';
import { defaultStateLocation, defaultStatePath, openStore, redactUrl } from '../../src/store/index.js';
import { TEXT_CAP_BYTES, TRUNCATION_MARKER, type Store } from '../../src/store/types.js';
import { tempDir, testObjects } from './helpers.js';

/** Admin connection used to create and drop the test databases. */
const PG_ADMIN_URL = process.env.SKEIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Backend {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A location (path or URL) where no store exists yet. */
  freshLocation(): Promise<string>;
  /** Marks the schema at `location` as written by a newer skein. */
  bumpSchema(location: string, version: number): Promise<void>;
  /** Puts another program's table where no store exists yet. */
  addForeignTable(location: string): Promise<void>;
}

const sqlite: Backend = {
  name: 'sqlite',
  async setup() {},
  async teardown() {},
  async freshLocation() {
    return path.join(tempDir('skein-contract-'), 'state.db');
  },
  async bumpSchema(location, version) {
    const db = new Database(location);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', '2099-01-01')").run(version);
    db.close();
  },
  async addForeignTable(location) {
    const db = new Database(location);
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY)');
    db.close();
  },
};

function pgBackend(): Backend {
  let admin: pg.Client | undefined;
  // Set when the server did not answer: every PostgreSQL test then fails with it (a failing
  // beforeAll would only mark them skipped).
  let unreachable: Error | undefined;
  const databases: string[] = [];
  const urlFor = (db: string): string => {
    const u = new URL(PG_ADMIN_URL);
    u.pathname = `/${db}`;
    return u.toString();
  };
  return {
    name: 'postgres',
    async setup() {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
      } catch (err) {
        await client.end().catch(() => undefined);
        unreachable = new Error(
          `PostgreSQL is not reachable at ${redactUrl(PG_ADMIN_URL)} (${(err as Error).message}). ` +
            'The store contract suite needs PostgreSQL (127.0.0.1:5432, trust auth, user postgres): start it ' +
            '(e.g. `pg_ctlcluster --skip-systemctl-redirect 15 main start`, as .ci/run does) or point SKEIN_TEST_PG_URL at one.',
        );
        return;
      }
      admin = client;
    },
    async teardown() {
      if (!admin) return;
      for (const db of databases) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.end();
    },
    async freshLocation() {
      if (!admin) throw unreachable ?? new Error('PostgreSQL setup did not run');
      const db = `skein_test_${randomBytes(6).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${db}`);
      databases.push(db);
      return urlFor(db);
    },
    async bumpSchema(location, version) {
      const client = new pg.Client({ connectionString: location });
      await client.connect();
      await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', '2099-01-01')", [version]);
      await client.end();
    },
    async addForeignTable(location) {
      const client = new pg.Client({ connectionString: location });
      await client.connect();
      await client.query('CREATE TABLE customers (id INTEGER PRIMARY KEY)');
      await client.end();
    },
  };
}

describe.each([sqlite, pgBackend()])('Store contract: $name', (backend) => {
  const opened: Store[] = [];
  beforeAll(() => backend.setup());
  afterAll(() => backend.teardown());
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
  });

  /** Opens `location` with a clock that ticks one second per call. */
  async function openAt(location: string): Promise<Store> {
    let t = Date.parse('2025-01-01T00:00:00Z');
    const store = await openStore(location, testObjects(), { now: () => new Date((t += 1000)).toISOString() });
    opened.push(store);
    return store;
  }
  async function fresh(): Promise<Store> {
    return openAt(await backend.freshLocation());
  }

  describe('records', () => {
    it('creates, reads, updates and lists records with coerced values', async () => {
      const store = await fresh();
      const ev = await store.setFields('users', 'alice', { email: 'a@example.com', risk_score: '7', mfa_enabled: 'yes' }, { createIfMissing: true, source: 'cli' });
      expect(ev).toMatchObject({
        object: 'users',
        key: 'alice',
        kind: 'created',
        before: null,
        after: { username: 'alice', email: 'a@example.com', risk_score: 7, mfa_enabled: true },
        changed: ['email', 'mfa_enabled', 'risk_score', 'username'],
        source: 'cli',
      });
      expect(await store.getRecord('users', 'alice')).toMatchObject({ object: 'users', key: 'alice', version: 1, fields: ev!.after });
      expect(await store.getRecord('users', 'nobody')).toBeNull();
      const many = await store.getRecords('users', ['alice', 'nobody', 'alice']);
      expect([...many.keys()]).toEqual(['alice']);
      expect(many.get('alice')).toEqual(await store.getRecord('users', 'alice'));
      expect((await store.getRecords('users', [])).size).toBe(0);

      await store.setFields('users', 'alice', { risk_score: 8.5, notes: 'line 1\nline 2' });
      const rec = await store.getRecord('users', 'alice');
      expect(rec?.fields).toEqual({ username: 'alice', email: 'a@example.com', risk_score: 8.5, mfa_enabled: true, notes: 'line 1\nline 2' });
      expect(rec?.version).toBe(2);
      expect(rec!.updated_at > rec!.created_at).toBe(true);

      await store.upsertMany('users', [
        { username: 'bob', title: 'Eng', risk_score: 1 },
        { username: 'carol', title: 'Eng' },
        { username: 'dave', title: 'Ops' },
      ]);
      await store.upsertMany('devices', [{ serial: 'SN1', hostname: 'h1' }]);
      expect(await store.countRecords('users')).toBe(4);
      expect(await store.countRecords('devices')).toBe(1);
      expect((await store.listRecords('users')).map((r) => r.key)).toEqual(['alice', 'bob', 'carol', 'dave']);
      expect((await store.listRecords('users', { where: { title: 'Eng' } })).map((r) => r.key)).toEqual(['bob', 'carol']);
      expect((await store.listRecords('users', { where: { risk_score: '1' } })).map((r) => r.key)).toEqual(['bob']);
      expect((await store.listRecords('users', { where: { title: '' } })).map((r) => r.key)).toEqual(['alice']);
      expect((await store.listRecords('users', { where: { username: 'carol' } })).map((r) => r.key)).toEqual(['carol']);
      expect((await store.listRecords('users', { limit: 2, afterKey: 'alice' })).map((r) => r.key)).toEqual(['bob', 'carol']);
      expect((await store.listRecords('devices'))[0]).toMatchObject({ object: 'devices', key: 'SN1', fields: { serial: 'SN1', hostname: 'h1' } });
      await expect(store.listRecords('users', { where: { shoe: '1' } })).rejects.toMatchObject({ code: 'invalid-field' });
    });

    it('sorts keys by bytes, whatever the collation', async () => {
      const store = await fresh();
      await store.upsertMany('users', [{ username: 'b' }, { username: 'B' }, { username: 'a' }, { username: '_x' }, { username: 'é' }]);
      expect((await store.listRecords('users')).map((r) => r.key)).toEqual(['B', '_x', 'a', 'b', 'é']);
    });

    it('refuses bad values, unknown fields, unknown objects and missing records, writing nothing', async () => {
      const store = await fresh();
      await expect(store.setFields('users', 'ghost', { email: 'g@x' })).rejects.toMatchObject({ code: 'record-not-found' });
      await store.setFields('users', 'alice', { email: 'a@x' }, { createIfMissing: true });
      const err = (await store.setFields('users', 'alice', { email: 'new@x', risk_score: 'lots', shoe: 1, mfa_enabled: 'maybe' }).catch((e) => e)) as SkeinError;
      expect(err).toBeInstanceOf(SkeinError);
      expect(err.code).toBe('invalid-field');
      expect(err.message).toContain('field "risk_score" expects a number; got "lots"');
      expect(err.message).toContain('unknown field "shoe" for object "users"');
      expect(err.message).toContain('field "mfa_enabled" expects a boolean');
      const secret = (await store.setFields('users', 'alice', { api_token: { nested: 'top-secret' } }).catch((e) => e)) as SkeinError;
      expect(secret.code).toBe('invalid-field');
      expect(secret.message).not.toContain('top-secret');
      await expect(store.setFields('users', 'alice', { title: 'a\nb' })).rejects.toMatchObject({ code: 'invalid-field' });
      await expect(store.setFields('users', 'alice', { username: 'bob' })).rejects.toMatchObject({ code: 'invalid-field' });
      await expect(store.setFields('users', ' padded', { email: 'x' }, { createIfMissing: true })).rejects.toMatchObject({ code: 'invalid-field' });
      await expect(store.setFields('gadgets', 'g', { a: 1 }, { createIfMissing: true })).rejects.toMatchObject({ code: 'unknown-object' });
      await expect(store.getRecord('gadgets', 'g')).rejects.toMatchObject({ code: 'unknown-object' });
      expect((await store.getRecord('users', 'alice'))?.fields).toEqual({ username: 'alice', email: 'a@x' });
      expect(await store.readEvents()).toHaveLength(1);
    });
  });

  describe('outbox', () => {
    it('writes one event per change, one for a multi-field set, none on a no-op, and clears fields', async () => {
      const store = await fresh();
      const created = await store.setFields('users', 'alice', { email: 'a@x', title: 'Engineer', phone: '1' }, { createIfMissing: true });
      const multi = await store.setFields('users', 'alice', { email: 'alice@x', title: 'Lead', status: 'Active' }, { source: 'workflow:sync' });
      expect(multi).toMatchObject({
        kind: 'updated',
        before: { username: 'alice', email: 'a@x', title: 'Engineer', phone: '1' },
        after: { username: 'alice', email: 'alice@x', title: 'Lead', status: 'Active', phone: '1' },
        changed: ['email', 'status', 'title'],
        source: 'workflow:sync',
      });
      expect(await store.setFields('users', 'alice', { email: 'alice@x', title: 'Lead' })).toBeNull();
      expect(await store.upsertMany('users', [{ username: 'alice', status: 'Active' }])).toEqual([{ key: 'alice', outcome: 'unchanged' }]);
      const cleared = await store.setFields('users', 'alice', { phone: null, status: '' });
      expect(cleared?.changed).toEqual(['phone', 'status']);
      expect(cleared?.after).toEqual({ username: 'alice', email: 'alice@x', title: 'Lead' });
      const events = await store.readEvents();
      expect(events).toEqual([created, multi, cleared]);
      expect(events[0]!.id).toBeLessThan(events[1]!.id);
      expect(events[1]!.id).toBeLessThan(events[2]!.id);
      expect((await store.getRecord('users', 'alice'))?.version).toBe(3);
      expect(await store.lastEventId()).toBe(cleared!.id);
    });

    it('writes a deleted event with the last fields, and none for a missing record', async () => {
      const store = await fresh();
      await store.setFields('users', 'bob', { email: 'b@x' }, { createIfMissing: true });
      const ev = await store.deleteRecord('users', 'bob', { source: 'cli' });
      expect(ev).toMatchObject({ kind: 'deleted', key: 'bob', before: { username: 'bob', email: 'b@x' }, after: null, changed: ['email', 'username'], source: 'cli' });
      expect(await store.getRecord('users', 'bob')).toBeNull();
      expect(await store.deleteRecord('users', 'bob')).toBeNull();
      expect((await store.readEvents()).map((e) => e.kind)).toEqual(['created', 'deleted']);
      // a re-created record starts again at version 1
      await store.setFields('users', 'bob', { email: 'b2@x' }, { createIfMissing: true });
      expect((await store.getRecord('users', 'bob'))?.version).toBe(1);
    });

    it('reads events by cursor and object; pendingEventsFor skips handled ones', async () => {
      const store = await fresh();
      expect(await store.lastEventId()).toBe(0);
      await store.upsertMany('users', [{ username: 'a' }, { username: 'b' }, { username: 'c' }]);
      await store.upsertMany('devices', [{ serial: 'd1' }]);
      const all = await store.readEvents();
      expect(all.map((e) => e.key)).toEqual(['a', 'b', 'c', 'd1']);
      expect((await store.readEvents({ afterId: all[1]!.id })).map((e) => e.key)).toEqual(['c', 'd1']);
      expect((await store.readEvents({ limit: 1 })).map((e) => e.key)).toEqual(['a']);
      expect((await store.readEvents({ object: 'devices' })).map((e) => e.key)).toEqual(['d1']);
      await store.markEventHandled(all[0]!.id, 'wf');
      await store.markEventHandled(all[2]!.id, 'wf');
      expect((await store.pendingEventsFor('wf')).map((e) => e.key)).toEqual(['b', 'd1']);
      expect((await store.pendingEventsFor('wf', { object: 'users' })).map((e) => e.key)).toEqual(['b']);
      expect((await store.pendingEventsFor('wf', { afterId: all[1]!.id })).map((e) => e.key)).toEqual(['d1']);
      expect((await store.pendingEventsFor('other')).map((e) => e.key)).toEqual(['a', 'b', 'c', 'd1']);
      expect(await store.lastEventId()).toBe(all[3]!.id);
    });

    it('markEventHandled is true once per (event, workflow)', async () => {
      const store = await fresh();
      const ev = await store.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
      expect(await store.markEventHandled(ev!.id, 'offboard')).toBe(true);
      expect(await store.markEventHandled(ev!.id, 'offboard')).toBe(false);
      expect(await store.markEventHandled(ev!.id, 'onboard')).toBe(true);
      await expect(store.markEventHandled(ev!.id + 1000, 'x')).rejects.toMatchObject({ code: 'event-not-found' });
    });

    it('markEventHandled is true exactly once across two store instances racing on one database', async () => {
      const location = await backend.freshLocation();
      const one = await openAt(location);
      const two = await openAt(location);
      const events = [];
      for (let i = 0; i < 5; i++) events.push((await one.setFields('users', `u${i}`, { email: `${i}@x` }, { createIfMissing: true }))!);
      // the second instance sees the first one's writes
      expect((await two.readEvents()).map((e) => e.id)).toEqual(events.map((e) => e.id));
      for (const ev of events) {
        const results = await Promise.all([
          one.markEventHandled(ev.id, 'wf'),
          two.markEventHandled(ev.id, 'wf'),
          one.markEventHandled(ev.id, 'wf'),
          two.markEventHandled(ev.id, 'wf'),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
      }
      expect(await two.pendingEventsFor('wf')).toEqual([]);
      // concurrent writers on both instances: every change gets its own event, ids unique and increasing
      await Promise.all([
        ...[0, 1, 2, 3].map((i) => one.setFields('users', `u${i}`, { title: 'one' })),
        ...[0, 1, 2, 3].map((i) => two.setFields('users', `u${i}`, { phone: 'two' })),
      ]);
      const after = await one.readEvents({ afterId: events[4]!.id });
      expect(after).toHaveLength(8);
      expect(new Set(after.map((e) => e.id)).size).toBe(8);
      for (let i = 0; i < 4; i++) {
        expect((await two.getRecord('users', `u${i}`))?.fields).toMatchObject({ title: 'one', phone: 'two' });
        expect((await two.getRecord('users', `u${i}`))?.version).toBe(3);
      }
    });
  });

  describe('upsertMany', () => {
    it('reports each row, rejects bad rows without writing them, and writes the rest', async () => {
      const store = await fresh();
      await store.setFields('users', 'b', { email: 'b@x' }, { createIfMissing: true });
      const out = await store.upsertMany(
        'users',
        [
          { username: 'a', email: 'a@x', risk_score: '3' },
          { username: 'b', email: 'b2@x' },
          { username: 'b', email: 'b2@x' },
          { username: 'c', risk_score: 'high' },
          { email: 'nokey@x' },
          { username: { no: 1 }, email: 'x' },
          { username: 'd', shoe: 42 },
          { username: 42, title: 'numeric key' },
        ],
        { source: 'import' },
      );
      expect(out.map((o) => [o.key, o.outcome])).toEqual([
        ['a', 'created'],
        ['b', 'updated'],
        ['b', 'unchanged'],
        ['c', 'rejected'],
        [undefined, 'rejected'],
        [undefined, 'rejected'],
        ['d', 'rejected'],
        ['42', 'created'],
      ]);
      expect(out[3]).toMatchObject({ reason: expect.stringContaining('field "risk_score" expects a number') });
      expect(out[4]).toMatchObject({ reason: expect.stringContaining('missing key field "username"') });
      expect(out[6]).toMatchObject({ reason: expect.stringContaining('unknown field "shoe"') });
      expect(out[0]).toMatchObject({ event: { kind: 'created', source: 'import', after: { username: 'a', email: 'a@x', risk_score: 3 } } });
      expect((await store.listRecords('users')).map((r) => r.key)).toEqual(['42', 'a', 'b']);
      const events = await store.readEvents();
      expect(events.map((e) => `${e.kind}:${e.key}`)).toEqual(['created:b', 'created:a', 'updated:b', 'created:42']);
      expect(await store.upsertMany('devices', [])).toEqual([]);
      await expect(store.upsertMany('gadgets', [{ id: 1 }])).rejects.toMatchObject({ code: 'unknown-object' });
    });
  });

  describe('commit and transaction', () => {
    it('commit applies a batch atomically and returns each result', async () => {
      const store = await fresh();
      const ev = await store.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
      const runId = await store.createRun({ workflow: 'wf', trigger: 'event' });
      const results = await store.commit([
        { op: 'startRunRecord', runId, object: 'users', key: 'a' },
        { op: 'recordStep', runId, recordKey: 'a', step: { step_id: 's1', status: 'succeeded' } },
        { op: 'setFields', object: 'users', key: 'a', patch: { qualys_login: 'acme_a' }, opts: { source: 'workflow:wf' } },
        { op: 'setFields', object: 'users', key: 'a', patch: { qualys_login: 'acme_a' } },
        { op: 'markEventHandled', eventId: ev!.id, workflow: 'wf' },
        { op: 'markEventHandled', eventId: ev!.id, workflow: 'wf' },
        { op: 'finishRunRecord', runId, key: 'a', status: 'succeeded' },
      ]);
      expect(results).toHaveLength(7);
      expect(results[2]).toMatchObject({ kind: 'updated', changed: ['qualys_login'] });
      expect(results[3]).toBeNull();
      expect(results.slice(4, 6)).toEqual([true, false]);
      expect((await store.getRun(runId))?.records).toMatchObject([{ key: 'a', status: 'succeeded', steps: [{ step_id: 's1', status: 'succeeded' }] }]);
      expect(await store.commit([])).toEqual([]);
    });

    it('a record started in one commit and finished in the same keeps the start time it was given', async () => {
      const store = await fresh();
      const runId = await store.createRun({ workflow: 'wf', trigger: 'manual' });
      await store.commit([
        { op: 'startRunRecord', runId, object: 'users', key: 'a', startedAt: '2025-03-01T10:00:00.000Z' },
        { op: 'recordStep', runId, recordKey: 'a', step: { step_id: 's1', status: 'succeeded' } },
        { op: 'finishRunRecord', runId, key: 'a', status: 'succeeded' },
      ], { lazy: true });
      const rec = (await store.getRun(runId))!.records[0]!;
      expect(rec.started_at).toBe('2025-03-01T10:00:00.000Z');
      expect(rec.finished_at).not.toBeNull();
    });

    it('a record started earlier and then started and finished in one commit keeps its first start', async () => {
      const store = await fresh();
      const runId = await store.createRun({ workflow: 'wf', trigger: 'manual' });
      await store.commit([{ op: 'startRunRecord', runId, object: 'users', key: 'a', startedAt: '2025-03-01T10:00:00.000Z' }]);
      expect((await store.getRun(runId))!.records[0]).toMatchObject({ status: 'running', finished_at: null });
      await store.commit([
        { op: 'startRunRecord', runId, object: 'users', key: 'a', startedAt: '2025-03-01T11:00:00.000Z' },
        { op: 'startRunRecord', runId, object: 'users', key: 'b', startedAt: '2025-03-01T11:00:00.000Z' },
        { op: 'finishRunRecord', runId, key: 'a', status: 'failed', error: 'step s1: refused' },
      ]);
      const recs = (await store.getRun(runId))!.records;
      expect(recs).toMatchObject([
        { key: 'a', status: 'failed', error: 'step s1: refused', started_at: '2025-03-01T10:00:00.000Z' },
        { key: 'b', status: 'running', finished_at: null },
      ]);
      expect(recs[0]!.finished_at).not.toBeNull();
      // A finish before its start in the same batch still finds no record, as on its own.
      await expect(store.commit([
        { op: 'finishRunRecord', runId, key: 'c', status: 'succeeded' },
        { op: 'startRunRecord', runId, object: 'users', key: 'c' },
      ])).rejects.toMatchObject({ code: 'run-record-not-found' });
    });

    it('a failing op rolls back its whole batch; other batches are unaffected', async () => {
      const store = await fresh();
      const ev = await store.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
      const runId = await store.createRun({ workflow: 'wf', trigger: 'event' });
      await store.startRunRecord(runId, 'users', 'a');
      const batches = Array.from({ length: 10 }, (_, i) =>
        store.commit([
          { op: 'setFields', object: 'users', key: `u${i}`, patch: { risk_score: i === 7 ? 'not a number' : i }, opts: { createIfMissing: true } },
          { op: 'recordStep', runId, recordKey: 'a', step: { step_id: `s${i}`, status: 'succeeded' } },
        ]),
      );
      const settled = await Promise.allSettled(batches);
      expect(settled.map((s) => s.status)).toEqual(settled.map((_, i) => (i === 7 ? 'rejected' : 'fulfilled')));
      expect((settled[7] as PromiseRejectedResult).reason).toMatchObject({ code: 'invalid-field' });
      await expect(
        store.commit([
          { op: 'markEventHandled', eventId: ev!.id, workflow: 'wf' },
          { op: 'setFields', object: 'users', key: 'z', patch: { email: 'z@x' }, opts: { createIfMissing: true } },
          { op: 'recordStep', runId, recordKey: 'nobody', step: { step_id: 'x', status: 'running' } },
        ]),
      ).rejects.toMatchObject({ code: 'run-record-not-found' });
      expect(await store.getRecord('users', 'u7')).toBeNull();
      expect(await store.getRecord('users', 'z')).toBeNull();
      expect(await store.countRecords('users')).toBe(10);
      expect((await store.getRun(runId))!.records[0]!.steps.map((s) => s.step_id).sort()).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's8', 's9']);
      expect(await store.readEvents({ limit: 1000 })).toHaveLength(10);
      // the handled mark of the failed batch was rolled back too
      expect(await store.markEventHandled(ev!.id, 'wf')).toBe(true);
    });

    it('transaction commits record changes, steps, kv and handled marks together', async () => {
      const store = await fresh();
      const ev = await store.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
      const runId = await store.createRun({ workflow: 'wf', trigger: 'event' });
      await store.startRunRecord(runId, 'users', 'a');
      const out = await store.transaction(async (tx) => {
        expect((await tx.getRecord('users', 'a'))?.fields.email).toBe('a@x');
        await tx.setFields('users', 'a', { qualys_login: 'acme_aa' }, { source: 'workflow:wf' });
        expect((await tx.getRecord('users', 'a'))?.fields.qualys_login).toBe('acme_aa');
        await tx.recordStep(runId, 'a', { step_id: 'create', status: 'succeeded' });
        expect(await tx.markEventHandled(ev!.id, 'wf')).toBe(true);
        await tx.setKv('cursor:wf', '1');
        expect(await tx.getKv('cursor:wf')).toBe('1');
        // a refused write inside the transaction fails alone; the transaction goes on
        await expect(tx.setFields('users', 'a', { risk_score: 'x' })).rejects.toMatchObject({ code: 'invalid-field' });
        await expect(tx.recordStep(runId, 'nobody', { step_id: 'x', status: 'running' })).rejects.toMatchObject({ code: 'run-record-not-found' });
        const up = await tx.upsertMany('users', [{ username: 'b' }, { username: 'c', risk_score: 'bad' }]);
        expect(up.map((o) => o.outcome)).toEqual(['created', 'rejected']);
        expect(await tx.deleteRecord('users', 'b')).toMatchObject({ kind: 'deleted' });
        await expect(store.getRecord('users', 'a')).rejects.toMatchObject({ code: 'store-tx-misuse' });
        await expect(store.transaction(async () => 1)).rejects.toMatchObject({ code: 'store-tx-misuse' });
        return 'done';
      });
      expect(out).toBe('done');
      expect((await store.getRecord('users', 'a'))?.fields.qualys_login).toBe('acme_aa');
      expect(await store.getKv('cursor:wf')).toBe('1');
      expect(await store.pendingEventsFor('wf')).toEqual([
        expect.objectContaining({ key: 'a', source: 'workflow:wf' }),
        expect.objectContaining({ key: 'b', kind: 'created' }),
        expect.objectContaining({ key: 'b', kind: 'deleted' }),
      ]);
      expect((await store.getRun(runId))?.records[0]?.steps).toMatchObject([{ step_id: 'create', status: 'succeeded' }]);
    });

    it('transaction rolls everything back when the function throws, and its handle dies with it', async () => {
      const store = await fresh();
      const ev = await store.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
      let leaked: Parameters<Parameters<Store['transaction']>[0]>[0] | undefined;
      await expect(
        store.transaction(async (tx) => {
          leaked = tx;
          await tx.setFields('users', 'a', { email: 'changed@x' });
          await tx.setFields('users', 'new', { email: 'n@x' }, { createIfMissing: true });
          await tx.setKv('k', 'v');
          await tx.markEventHandled(ev!.id, 'wf');
          await new Promise((r) => setTimeout(r, 5));
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect((await store.getRecord('users', 'a'))?.fields.email).toBe('a@x');
      expect(await store.getRecord('users', 'new')).toBeNull();
      expect(await store.getKv('k')).toBeNull();
      expect(await store.readEvents()).toHaveLength(1);
      expect(await store.markEventHandled(ev!.id, 'wf')).toBe(true);
      await expect(leaked!.getKv('k')).rejects.toMatchObject({ code: 'store-tx-closed' });
      // outside callers see the committed state once a transaction ends
      const tx = store.transaction(async (t) => {
        await t.setFields('users', 'a', { email: 'tx@x' });
        return 'ok';
      });
      expect(await tx).toBe('ok');
      expect((await store.getRecord('users', 'a'))?.fields.email).toBe('tx@x');
    });
  });

  describe('run history', () => {
    it('round-trips a run with records and steps', async () => {
      const store = await fresh();
      const runId = await store.createRun({ workflow: 'onboard', trigger: 'event', trigger_data: { event_id: 7 } });
      expect(runId).toMatch(/^r_[0-9a-z]{9}_[0-9a-f]{8}$/);
      await store.startRunRecord(runId, 'users', 'alice');
      await store.startRunRecord(runId, 'users', 'alice');
      await store.startRunRecord(runId, 'users', 'bob');
      await store.recordStep(runId, 'alice', { step_id: 'create', status: 'running', started_at: '2025-01-01T00:00:00Z', attempts: 1 });
      await store.recordStep(runId, 'alice', {
        step_id: 'create',
        status: 'succeeded',
        request: { method: 'POST', url: '/msp/user.php', params: { action: 'add', password: '[redacted]' } },
        response: '<USER_OUTPUT/>',
        http_status: 200,
        qualys_code: null,
        qualys_message: 'user created',
        outputs: { login: 'acme_aa' },
        duration_ms: 120,
        finished_at: '2025-01-01T00:00:01Z',
      });
      await store.recordStep(runId, 'alice', { step_id: 'notify', status: 'skipped' });
      await store.recordStep(runId, 'bob', { step_id: 'create', status: 'failed', http_status: 200, qualys_code: '1905', error: 'parameter email has invalid value', error_code: 'vendor-failed', attempts: 3 });
      await store.finishRunRecord(runId, 'alice', 'succeeded');
      await store.finishRunRecord(runId, 'bob', 'failed', 'parameter email has invalid value');
      await store.finishRun(runId, 'partial', { succeeded: 1, failed: 1 });

      const run = await store.getRun(runId);
      expect(run).toMatchObject({ id: runId, workflow: 'onboard', trigger: 'event', trigger_data: { event_id: 7 }, status: 'partial', summary: { succeeded: 1, failed: 1 } });
      expect(run!.started_at).toMatch(/^2025-01-01T/);
      expect(run!.finished_at).not.toBeNull();
      expect(run!.records.map((r) => [r.object, r.key, r.status, r.steps.map((s) => `${s.step_id}:${s.status}`)])).toEqual([
        ['users', 'alice', 'succeeded', ['create:succeeded', 'notify:skipped']],
        ['users', 'bob', 'failed', ['create:failed']],
      ]);
      expect(run!.records[0]!.steps[0]).toEqual({
        step_id: 'create',
        status: 'succeeded',
        request: { method: 'POST', url: '/msp/user.php', params: { action: 'add', password: '[redacted]' } },
        response: '<USER_OUTPUT/>',
        http_status: 200,
        qualys_code: null,
        qualys_message: 'user created',
        outputs: { login: 'acme_aa' },
        error: null,
        error_code: null,
        attempts: 1,
        started_at: '2025-01-01T00:00:00Z',
        duration_ms: 120,
        finished_at: '2025-01-01T00:00:01Z',
      });
      expect(run!.records[0]!.steps[1]).toEqual({
        step_id: 'notify', status: 'skipped', request: null, response: null, http_status: null, qualys_code: null, qualys_message: null,
        outputs: null, error: null, error_code: null, attempts: 0, duration_ms: null, started_at: null, finished_at: null,
      });
      expect(run!.records[1]).toMatchObject({ error: 'parameter email has invalid value', steps: [{ error_code: 'vendor-failed' }] });
      expect(await store.getRun('r_nope')).toBeNull();
      await expect(store.startRunRecord('r_nope', 'users', 'a')).rejects.toMatchObject({ code: 'run-not-found' });
      await expect(store.recordStep('r_nope', 'a', { step_id: 's', status: 'running' })).rejects.toMatchObject({ code: 'run-not-found' });
      await expect(store.recordStep(runId, 'carol', { step_id: 's', status: 'running' })).rejects.toMatchObject({ code: 'run-record-not-found' });
      await expect(store.finishRunRecord(runId, 'carol', 'succeeded')).rejects.toMatchObject({ code: 'run-record-not-found' });
      await expect(store.finishRun('r_nope', 'failed')).rejects.toMatchObject({ code: 'run-not-found' });
    });

    it('lists runs newest first, filtered by workflow and status, with a limit', async () => {
      const store = await fresh();
      const a = await store.createRun({ workflow: 'onboard', trigger: 'manual' });
      const b = await store.createRun({ workflow: 'offboard', trigger: 'schedule' });
      const c = await store.createRun({ workflow: 'onboard', trigger: 'event' });
      await store.finishRun(a, 'succeeded');
      await store.finishRun(b, 'failed');
      expect((await store.listRuns()).map((r) => r.id)).toEqual([c, b, a]);
      expect((await store.listRuns({ workflow: 'onboard' })).map((r) => r.id)).toEqual([c, a]);
      expect((await store.listRuns({ status: 'running' })).map((r) => r.id)).toEqual([c]);
      expect((await store.listRuns({ workflow: 'onboard', status: 'succeeded' })).map((r) => r.id)).toEqual([a]);
      expect((await store.listRuns({ limit: 1 })).map((r) => r.id)).toEqual([c]);
      expect(await store.listRuns({ workflow: 'nope' })).toEqual([]);
      expect((await store.listRuns())[0]).toMatchObject({ trigger: 'event', trigger_data: null, summary: null, finished_at: null, status: 'running' });
    });

    it('truncates large text columns at the cap with a marker', async () => {
      const store = await fresh();
      const runId = await store.createRun({ workflow: 'wf', trigger: 'manual', trigger_data: { blob: 'y'.repeat(TEXT_CAP_BYTES) } });
      await store.startRunRecord(runId, 'users', 'a');
      const big = 'é'.repeat(TEXT_CAP_BYTES); // 2 bytes each
      await store.recordStep(runId, 'a', { step_id: 's', status: 'succeeded', response: big, request: { body: 'x'.repeat(TEXT_CAP_BYTES) }, outputs: { small: 1 }, error: 'e'.repeat(TEXT_CAP_BYTES + 1) });
      await store.finishRunRecord(runId, 'a', 'failed', 'f'.repeat(TEXT_CAP_BYTES * 2));
      const run = await store.getRun(runId);
      const step = run!.records[0]!.steps[0]!;
      expect(step.response!.endsWith(`${TRUNCATION_MARKER}${TEXT_CAP_BYTES * 2}]`)).toBe(true);
      expect(Buffer.byteLength(step.response!.slice(0, step.response!.indexOf(TRUNCATION_MARKER)))).toBe(TEXT_CAP_BYTES);
      expect(typeof step.request).toBe('string');
      expect(step.request as string).toContain(TRUNCATION_MARKER);
      expect(step.outputs).toEqual({ small: 1 });
      expect(step.error!.endsWith(`${TRUNCATION_MARKER}${TEXT_CAP_BYTES + 1}]`)).toBe(true);
      expect(run!.records[0]!.error!.endsWith(`${TRUNCATION_MARKER}${TEXT_CAP_BYTES * 2}]`)).toBe(true);
      expect(typeof run!.trigger_data).toBe('string');
      // exactly at the cap: kept whole
      await store.recordStep(runId, 'a', { step_id: 't', status: 'succeeded', response: 'z'.repeat(TEXT_CAP_BYTES) });
      expect((await store.getRun(runId))!.records[0]!.steps[1]!.response).toBe('z'.repeat(TEXT_CAP_BYTES));
    });

    it('stores a NUL character in run history text without failing the write', async () => {
      const store = await fresh();
      const runId = await store.createRun({ workflow: 'wf', trigger: 'manual' });
      await store.startRunRecord(runId, 'users', 'a');
      await store.recordStep(runId, 'a', { step_id: 's', status: 'failed', response: 'bin\u0000ary', error: 'e\u0000', outputs: { v: 'x\u0000y' } });
      const step = (await store.getRun(runId))!.records[0]!.steps[0]!;
      // PostgreSQL text cannot hold U+0000: it comes back as U+FFFD there
      expect(['bin\u0000ary', 'bin\uFFFDary']).toContain(step.response);
      expect(step.outputs).toEqual({ v: 'x\u0000y' });
      if (backend.name === 'postgres') {
        await expect(store.setFields('users', 'n', { title: 'a\u0000b' }, { createIfMissing: true })).rejects.toMatchObject({ code: 'invalid-field' });
        const out = await store.upsertMany('users', [{ username: 'ok' }, { username: 'n\u0000', title: 't' }, { username: 'm', title: 'x\u0000' }]);
        expect(out.map((o) => o.outcome)).toEqual(['created', 'rejected', 'rejected']);
        expect(await store.getRecord('users', 'n\u0000')).toBeNull();
      }
    });

    it('stepsInDoubt returns running or unknown steps of the workflow for that record, oldest first', async () => {
      const store = await fresh();
      const r1 = await store.createRun({ workflow: 'onboard', trigger: 'event' });
      const r2 = await store.createRun({ workflow: 'onboard', trigger: 'event' });
      const other = await store.createRun({ workflow: 'offboard', trigger: 'event' });
      for (const r of [r1, r2, other]) {
        await store.startRunRecord(r, 'users', 'alice');
        await store.startRunRecord(r, 'users', 'bob');
      }
      await store.recordStep(r1, 'alice', { step_id: 'create', status: 'running', attempts: 1, request: { a: 1 } });
      await store.recordStep(r2, 'alice', { step_id: 'create', status: 'unknown', error: 'timeout' });
      await store.recordStep(r2, 'alice', { step_id: 'notify', status: 'running' });
      await store.recordStep(r2, 'bob', { step_id: 'create', status: 'running' });
      await store.recordStep(other, 'alice', { step_id: 'create', status: 'running' });
      const doubt = await store.stepsInDoubt('onboard', 'alice', 'create');
      expect(doubt.map((s) => [s.run_id, s.status])).toEqual([
        [r1, 'running'],
        [r2, 'unknown'],
      ]);
      expect(doubt[0]).toMatchObject({ step_id: 'create', attempts: 1, request: { a: 1 } });
      expect(doubt[1]).toMatchObject({ error: 'timeout' });
      await store.recordStep(r1, 'alice', { step_id: 'create', status: 'succeeded' });
      expect((await store.stepsInDoubt('onboard', 'alice', 'create')).map((s) => s.run_id)).toEqual([r2]);
      expect(await store.stepsInDoubt('onboard', 'carol', 'create')).toEqual([]);
    });
  });

  describe('kv, reopening and migrations', () => {
    it('gets and sets kv values', async () => {
      const store = await fresh();
      expect(await store.getKv('schedule:wf')).toBeNull();
      await store.setKv('schedule:wf', '2025-01-01T00:00:00Z');
      await store.setKv('schedule:wf', '2025-01-02T00:00:00Z');
      await store.setKv('limiter:qualys', JSON.stringify({ tokens: 3 }));
      expect(await store.getKv('schedule:wf')).toBe('2025-01-02T00:00:00Z');
      expect(JSON.parse((await store.getKv('limiter:qualys'))!)).toEqual({ tokens: 3 });
      await store.close();
      await expect(store.getKv('x')).rejects.toMatchObject({ code: 'store-closed' });
      await expect(store.setKv('x', 'y')).rejects.toMatchObject({ code: 'store-closed' });
    });

    it('claimTick: each (workflow, tick) is claimed once, also by racing store instances', async () => {
      const location = await backend.freshLocation();
      const a = await openAt(location);
      const b = await openAt(location);
      expect(await a.claimTick('nightly', '2025-01-01T02:00:00.000Z', 'runner-a')).toBe(true);
      expect(await a.claimTick('nightly', '2025-01-01T02:00:00.000Z', 'runner-a')).toBe(false);
      expect(await a.claimTick('other', '2025-01-01T02:00:00.000Z', 'runner-a')).toBe(true);
      const ticks = Array.from({ length: 20 }, (_, i) => new Date(Date.UTC(2025, 0, 2, 0, 0, i)).toISOString());
      const results = await Promise.all(ticks.flatMap((t) => [a.claimTick('fast', t, 'runner-a'), b.claimTick('fast', t, 'runner-b')]));
      for (let i = 0; i < ticks.length; i++) expect([results[2 * i], results[2 * i + 1]].filter(Boolean)).toHaveLength(1);
    });

    describe('runners and leases', () => {
      const TTL = 10_000;
      /** Two store instances on one location with a shared clock the test moves by hand. */
      async function pair(): Promise<{ a: Store; b: Store; tick(ms: number): void }> {
        const location = await backend.freshLocation();
        let t = Date.parse('2025-01-01T00:00:00Z');
        const now = () => new Date(t).toISOString();
        const a = await openStore(location, testObjects(), { now });
        const b = await openStore(location, testObjects(), { now });
        opened.push(a, b);
        return { a, b, tick: (ms) => void (t += ms) };
      }
      const runner = (id: string) => ({ id, role: 'daemon', host: 'h', pid: 1, info: { api: `http://${id}` } });
      /** k0..k{n-1} created, then each updated: ids 1..n are the creates, n+1..2n the updates. */
      async function twoEventsPerKey(store: Store, n: number): Promise<void> {
        await store.upsertMany('users', Array.from({ length: n }, (_, i) => ({ username: `k${i}`, title: 'a' })));
        await store.upsertMany('users', Array.from({ length: n }, (_, i) => ({ username: `k${i}`, title: 'b' })));
      }
      const ids = (events: Array<{ id: number }>) => events.map((e) => e.id);

      it('registers runners, tells live from dead by heartbeat, and removes them', async () => {
        const { a, b, tick } = await pair();
        await a.registerRunner(runner('ra'));
        await b.registerRunner(runner('rb'));
        let list = await a.listRunners(TTL);
        expect(list.map((r) => [r.id, r.alive])).toEqual([['ra', true], ['rb', true]]);
        expect(list[0]).toMatchObject({ role: 'daemon', host: 'h', pid: 1, info: { api: 'http://ra' }, leases: { events: {}, runs: [] } });
        tick(TTL + 1);
        expect(await a.heartbeat('ra', TTL)).toBe(true);
        list = await b.listRunners(TTL);
        expect(list.map((r) => [r.id, r.alive])).toEqual([['ra', true], ['rb', false]]);
        await a.removeRunner('ra');
        expect(await a.heartbeat('ra', TTL)).toBe(false);
        expect((await b.listRunners(TTL)).map((r) => r.id)).toEqual(['rb']);
      });

      it('claimEvents leases each event to one runner, keeps one record in order, and ends leases when handled', async () => {
        const { a, b } = await pair();
        await a.registerRunner(runner('ra'));
        await b.registerRunner(runner('rb'));
        await twoEventsPerKey(a, 5);
        const opts = { object: 'users', ttlMs: TTL };
        expect(ids(await a.claimEvents('wf', 'ra', { ...opts, limit: 4 }))).toEqual([1, 2, 3, 4]);
        // k0..k3's updates wait behind ra's leases on their creates; k4 is free.
        expect(ids(await b.claimEvents('wf', 'rb', { ...opts, limit: 100 }))).toEqual([5, 10]);
        expect(ids(await a.claimEvents('wf', 'ra', { ...opts, limit: 100 }))).toEqual([1, 2, 3, 4, 6, 7, 8, 9]);
        // Another workflow has leases of its own.
        expect(ids(await b.claimEvents('other', 'rb', { ...opts, limit: 3 }))).toEqual([1, 2, 3]);
        expect((await a.listRunners(TTL)).map((r) => r.leases.events)).toEqual([{ wf: 8 }, { wf: 2, other: 3 }]);
        await a.commit([1, 2, 3, 4].map((id) => ({ op: 'markEventHandled' as const, eventId: id, workflow: 'wf' })));
        expect(ids(await a.claimEvents('wf', 'ra', { ...opts, limit: 100 }))).toEqual([6, 7, 8, 9]);
        expect(ids(await b.claimEvents('wf', 'rb', { ...opts, limit: 100 }))).toEqual([5, 10]);
        // A clean stop releases leases at once.
        await a.removeRunner('ra');
        expect(ids(await b.claimEvents('wf', 'rb', { ...opts, limit: 100 }))).toEqual([5, 6, 7, 8, 9, 10]);
      });

      it("a dead runner's leases lapse after the lease time; a live runner's heartbeat keeps them", async () => {
        const { a, b, tick } = await pair();
        await a.registerRunner(runner('ra'));
        await b.registerRunner(runner('rb'));
        await twoEventsPerKey(a, 3);
        const opts = { object: 'users', ttlMs: TTL };
        expect(ids(await a.claimEvents('wf', 'ra', { ...opts, limit: 2 }))).toEqual([1, 2]);
        expect(ids(await b.claimEvents('wf', 'rb', { ...opts, limit: 1 }))).toEqual([3]);
        tick(TTL - 1);
        await b.heartbeat('rb', TTL);
        expect(ids(await b.claimEvents('wf', 'rb', { ...opts, limit: 100 }))).toEqual([3, 6]);
        tick(2);
        // ra never beat: its leases are void, rb takes them (and their records' later events).
        expect(ids(await b.claimEvents('wf', 'rb', { ...opts, limit: 100 }))).toEqual([1, 2, 3, 4, 5, 6]);
        expect(ids(await a.claimEvents('wf', 'ra', { ...opts, limit: 100 }))).toEqual([]);
      });

      it('racing claims from two store instances hand out every event exactly once', async () => {
        const { a, b } = await pair();
        await a.registerRunner(runner('ra'));
        await b.registerRunner(runner('rb'));
        await a.upsertMany('users', Array.from({ length: 200 }, (_, i) => ({ username: `u${String(i).padStart(3, '0')}` })));
        const seen: number[] = [];
        const drain = async (store: Store, id: string) => {
          for (;;) {
            const held = await store.claimEvents('wf', id, { object: 'users', limit: 7, ttlMs: TTL });
            if (!held.length) return;
            seen.push(...ids(held));
            await store.commit(held.map((e) => ({ op: 'markEventHandled' as const, eventId: e.id, workflow: 'wf' })));
          }
        };
        await Promise.all([drain(a, 'ra'), drain(b, 'rb'), drain(a, 'ra2'), drain(b, 'rb2')]);
        expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      });

      it('adoptOrphanRuns hands the runs of a dead runner (or of none) to exactly one live runner', async () => {
        const { a, b, tick } = await pair();
        await a.registerRunner(runner('ra'));
        await b.registerRunner(runner('rb'));
        const owned = await a.createRun({ workflow: 'wf', trigger: 'manual', runner: 'ra' });
        const legacy = await a.createRun({ workflow: 'wf', trigger: 'manual' });
        const done = await a.createRun({ workflow: 'wf', trigger: 'manual', runner: 'gone' });
        await a.finishRun(done, 'succeeded');
        expect((await b.adoptOrphanRuns('rb', TTL)).map((r) => [r.id, r.runner])).toEqual([[legacy, 'rb']]);
        expect((await b.listRunners(TTL)).find((r) => r.id === 'ra')?.leases.runs).toEqual([owned]);
        tick(TTL + 1);
        await b.heartbeat('rb', TTL);
        await a.registerRunner(runner('rc'));
        const [again, other] = await Promise.all([b.adoptOrphanRuns('rb', TTL), a.adoptOrphanRuns('rc', TTL)]);
        expect([...again, ...other].map((r) => [r.id, r.status])).toEqual([[owned, 'running']]);
        expect((await a.getRun(owned))?.runner).toBe(again.length ? 'rb' : 'rc');
        expect(await a.adoptOrphanRuns('rc', TTL)).toEqual([]);
        expect(await b.adoptOrphanRuns('rb', TTL)).toEqual([]);
        // Runners dead for ten lease times are forgotten.
        tick(10 * TTL + 1);
        await b.heartbeat('rb', TTL);
        await b.adoptOrphanRuns('rb', TTL);
        expect((await a.listRunners(TTL)).map((r) => r.id)).toEqual(['rb']);
        // An adopter the others cannot see alive does not keep what it adopted.
        const stray = await a.createRun({ workflow: 'wf', trigger: 'manual', runner: 'gone' });
        expect((await a.adoptOrphanRuns('unregistered', TTL)).map((r) => r.id)).toEqual([stray]);
        expect((await b.adoptOrphanRuns('rb', TTL)).map((r) => r.id)).toEqual([stray]);
      });
    });

    it('keeps data across reopen, migrates idempotently, and refuses a newer schema', async () => {
      const location = await backend.freshLocation();
      const first = await openAt(location);
      const ev = await first.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
      await first.setKv('k', 'v');
      await first.close();
      // several runners opening at once
      const again = await Promise.all([openAt(location), openAt(location), openAt(location)]);
      for (const s of again) {
        expect((await s.getRecord('users', 'a'))?.fields).toEqual({ username: 'a', email: 'a@x' });
        expect(await s.getKv('k')).toBe('v');
        expect(await s.readEvents()).toEqual([ev]);
      }
      const next = await again[0]!.setFields('users', 'b', {}, { createIfMissing: true });
      expect(next!.id).toBeGreaterThan(ev!.id);
      for (const s of again) await s.close();
      await backend.bumpSchema(location, 999);
      await expect(openAt(location)).rejects.toMatchObject({ code: 'store-too-new' });
    });

    it('refuses a database of another program, creating nothing in it', async () => {
      const location = await backend.freshLocation();
      await backend.addForeignTable(location);
      await expect(openAt(location)).rejects.toMatchObject({ code: 'store-foreign', message: expect.stringContaining('customers') });
      // Still foreign, not half-migrated: a second open says the same.
      await expect(openAt(location)).rejects.toMatchObject({ code: 'store-foreign' });
    });

    it('rejects a key over 1,000 characters as one bad row; the others are written', async () => {
      const store = await fresh();
      const long = 'k'.repeat(600) + randomBytes(300).toString('hex');
      const out = await store.upsertMany('users', [{ username: long }, { username: 'ok1' }]);
      expect(out.map((o) => o.outcome)).toEqual(['rejected', 'created']);
      expect(out[0]!.reason).toMatch(/key field "username" is 1200 characters long; at most 1000/);
      expect(await store.countRecords('users')).toBe(1);
    });
  });
});

describe('PostgreSQL only', () => {
  const backend = pgBackend();
  beforeAll(() => backend.setup());
  afterAll(() => backend.teardown());

  it('a connection the server drops mid-transaction fails the call with store-unavailable, and the process and store live on', async () => {
    const location = await backend.freshLocation();
    const store = await openStore(location, testObjects());
    try {
      await store.setFields('users', 'before', { email: 'b@x' }, { createIfMissing: true });
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      const db = new URL(location).pathname.slice(1);
      const failed = await store
        .transaction(async (tx) => {
          await tx.getRecord('users', 'before');
          await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'skein'", [db]);
          await new Promise((r) => setTimeout(r, 200));
          return tx.setFields('users', 'lost', { email: 'l@x' }, { createIfMissing: true });
        })
        .catch((e: unknown) => e);
      await admin.end();
      expect(failed).toMatchObject({ code: 'store-unavailable', retryable: true });
      // Nothing of it was written, and the next call gets a fresh connection.
      expect(await store.getRecord('users', 'lost')).toBeNull();
      expect((await store.getRecord('users', 'before'))?.fields.email).toBe('b@x');
    } finally {
      await store.close();
    }
  });

  it('a role that may only read opens an up-to-date store; its writes fail with store-read-only', async () => {
    const location = await backend.freshLocation();
    const owner = await openStore(location, testObjects());
    await owner.setFields('users', 'a', { email: 'a@x' }, { createIfMissing: true });
    await owner.close();
    const role = `skein_ro_${randomBytes(4).toString('hex')}`;
    const db = new URL(location).pathname.slice(1);
    const admin = new pg.Client({ connectionString: location });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`GRANT CONNECT ON DATABASE ${db} TO ${role}`);
    await admin.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
    await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
    const url = new URL(location);
    url.username = role;
    const ro = await openStore(url.toString(), testObjects());
    try {
      expect((await ro.getRecord('users', 'a'))?.fields.email).toBe('a@x');
      await expect(ro.setFields('users', 'b', { email: 'b@x' }, { createIfMissing: true })).rejects.toMatchObject({ code: 'store-read-only' });
    } finally {
      await ro.close();
      await admin.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`);
      await admin.query(`REVOKE ALL ON SCHEMA public FROM ${role}`);
      await admin.query(`REVOKE ALL ON DATABASE ${db} FROM ${role}`);
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    }
  });
});

describe('store locations', () => {
  it('defaultStateLocation prefers SKEIN_DATABASE_URL, then SKEIN_STATE, then .skein/state.db', () => {
    const url = 'postgres://skein:pw@db.internal:5432/skein';
    expect(defaultStateLocation({ SKEIN_DATABASE_URL: url, SKEIN_STATE: 'x.db' }, '/w')).toBe(url);
    expect(defaultStateLocation({ SKEIN_DATABASE_URL: '', SKEIN_STATE: 'x.db' }, '/w')).toBe(path.resolve('/w', 'x.db'));
    expect(defaultStateLocation({ SKEIN_STATE: url }, '/w')).toBe(url);
    expect(defaultStateLocation({}, '/w')).toBe(path.join('/w', '.skein', 'state.db'));
    expect(defaultStatePath({ SKEIN_DATABASE_URL: url }, '/w')).toBe(path.join('/w', '.skein', 'state.db'));
  });

  it('never puts the password of a postgres URL in an error message', async () => {
    expect(redactUrl('postgres://skein:s3cr%40t@db:5432/x')).toBe('postgres://skein:***@db:5432/x');
    expect(redactUrl('postgresql://:only@db/x')).toBe('postgresql://:***@db/x');
    expect(redactUrl('postgres://nopass@db/x')).toBe('postgres://nopass@db/x');
    expect(redactUrl('postgres://u:pa@ss@db/x')).toBe('postgres://u:***@db/x'); // a raw @ in the password
    expect(redactUrl('postgres://u@db/x?sslmode=disable&password=qs3&sslpassword=k')).toBe('postgres://u@db/x?sslmode=disable&password=***&sslpassword=***');
    const q = (await openStore('postgres://skein@127.0.0.1:1/skein?password=qs3cret-pw', testObjects(), { connectTimeoutMs: 2000 }).catch((e) => e)) as SkeinError;
    expect(q.code).toBe('store-open-failed');
    expect(q.message).not.toContain('qs3cret-pw');
    // port 1: nothing listens there, so the connection is refused at once
    const err = (await openStore('postgres://skein:s3cret-pw@127.0.0.1:1/skein', testObjects(), { connectTimeoutMs: 2000 }).catch((e) => e)) as SkeinError;
    expect(err).toBeInstanceOf(SkeinError);
    expect(err.code).toBe('store-open-failed');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('postgres://skein:***@127.0.0.1:1/skein');
    expect(err.message).not.toContain('s3cret-pw');
    const other = (await openStore('mysql://root:hunter2@db/x', testObjects()).catch((e) => e)) as SkeinError;
    expect(other.code).toBe('store-unsupported');
    expect(other.message).not.toContain('hunter2');
  });
});
