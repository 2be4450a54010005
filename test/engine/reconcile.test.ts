// Non-idempotent steps in doubt are reconciled, never re-sent blindly: after a dropped connection
// or a crash mid-call, create_user looks the email up with list_users first.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runWorkflow } from '../../src/engine/run.js';
import { runPending } from '../../src/engine/pending.js';
import { HttpClient } from '../../src/http/index.js';
import { Presence } from '../../src/engine/presence.js';
import { openStore } from '../../src/store/index.js';
import { harness, person, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Leaves a create step `running` in the journal, as a runner killed mid-call would. */
async function crashedAttempt(hh: Harness, key: string): Promise<string> {
  const runId = await hh.store.createRun({ workflow: 'qualys-create-user', trigger: 'manual' });
  await hh.store.commit([
    { op: 'startRunRecord', runId, object: 'users', key },
    { op: 'recordStep', runId, recordKey: key, step: { step_id: 'create', status: 'running', attempts: 0 } },
  ]);
  return runId;
}

describe('reconciliation of create_user', () => {
  it('a create whose outcome the store cannot save (locked by another process) is in doubt, not failed: the next run finds the user', async () => {
    h = await harness({ sandbox: { faults: 'latency:1000:script=user:action=add' } });
    // Its own store with a short lock wait, so the outcome's commit gives up while the lock is held.
    const path = join(h.dir, 'locked.db');
    const store = await openStore(path, h.project.scope.objects, { busyTimeoutMs: 2000 });
    try {
      const deps = { ...h.deps, store };
      await store.upsertMany('users', [person('ada.lovelace')]);
      const run = runWorkflow(deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
      // Another process (better-sqlite3 waits for a lock synchronously: this one could not let
      // go) takes the write lock while the add is at Qualys (1 s), already journaled. It lets go
      // 4 s later: after the outcome's commit gave up (~3 s), while the next one still waits.
      while (!h.sandbox.stats().byScript['user.php']?.requests) await new Promise((r) => setTimeout(r, 5));
      const holder = spawn(process.execPath, ['-e', `
        const db = new (require('better-sqlite3'))(${JSON.stringify(path)});
        db.exec('BEGIN IMMEDIATE'); console.log('locked');
        setTimeout(() => { db.exec('COMMIT'); db.close(); }, 4000);`], { cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((r) => createInterface({ input: holder.stdout! }).once('line', r));
      const first = await run;
      await new Promise((r) => (holder.exitCode === null ? holder.once('exit', r) : r(null)));
      expect(first.steps.create!.unknown, JSON.stringify(first)).toBe(1);
      expect(first.failures[0]!.error).toMatch(/^the outcome \(succeeded\) could not be saved: .*locked.*; the next run checks the vendor before sending again \[store-busy\]$/);
      const second = await runWorkflow(deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
      expect(second).toMatchObject({ matched: 1, succeeded: 1 });
      const inQualys = h.sandbox.users().filter((u) => u.email === 'ada.lovelace@corp.test');
      expect(inQualys).toHaveLength(1);
      expect((await store.getRecord('users', 'ada.lovelace'))!.fields.qualys_login).toBe(inQualys[0]!.login);
    } finally {
      await store.close();
    }
  }, 20_000);


  it('after a dropped connection, the next run finds the user instead of creating it again', async () => {
    h = await harness({ sandbox: { faults: 'drop:phase=after:times=1' } });
    await h.store.upsertMany('users', [person('ada.lovelace')]);
    const first = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(first.steps.create!.unknown).toBe(1);
    const second = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(second).toMatchObject({ matched: 1, succeeded: 1 });
    const inQualys = h.sandbox.users().filter((u) => u.email === 'ada.lovelace@corp.test');
    expect(inQualys).toHaveLength(1);
    const ada = (await h.store.getRecord('users', 'ada.lovelace'))!.fields;
    expect(ada.qualys_login).toBe(inQualys[0]!.login);
    // The mapping's literal qualys_error: "" applies too: the first run's in-doubt error is gone.
    expect(ada.qualys_error ?? '').toBe('');
    // The earlier attempt's row now says what happened.
    const old = await h.store.getRun(first.runId);
    expect(old!.records[0]!.steps[0]).toMatchObject({ status: 'succeeded' });
    // ...after why it was in doubt, which it keeps.
    expect(old!.records[0]!.steps[0]!.error).toMatch(/^outcome unknown: the connection failed after the request was sent.*; then reconciled: the earlier attempt took effect/);
    // No add was sent the second time: only list_users.
    expect(h.sandbox.stats().byScript['user_list.php']?.requests).toBe(1);
  });

  for (const fault of ['500', 'malformed'] as const) {
    for (const phase of ['after', 'before'] as const) {
      it(`a create answered ${fault === '500' ? 'HTTP 500' : 'with unreadable XML'} (${phase === 'after' ? 'applied' : 'not applied'}) is in doubt, and the next run checks before sending`, async () => {
        h = await harness({ sandbox: { faults: `${fault}:script=user:action=add:phase=${phase}:times=1` } });
        await h.store.upsertMany('users', [person('ada.lovelace')]);
        const first = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
        expect(first.steps.create!.unknown, JSON.stringify(first)).toBe(1);
        expect(first.failures[0]!.error).toMatch(/outcome unknown: .*, and POST user\.php is not safe to repeat; check the vendor before retrying/);
        const second = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
        expect(second).toMatchObject({ matched: 1, succeeded: 1 });
        const inQualys = h.sandbox.users().filter((u) => u.email === 'ada.lovelace@corp.test');
        expect(inQualys).toHaveLength(1);
        expect((await h.store.getRecord('users', 'ada.lovelace'))!.fields.qualys_login).toBe(inQualys[0]!.login);
        // Looked up before anything else: an add only when the first one did not take effect.
        expect(h.sandbox.stats().byScript['user_list.php']?.requests).toBe(1);
        expect(h.sandbox.stats().byScript['user.php']?.requests).toBe(phase === 'after' ? 1 : 2);
      });
    }
  }

  it('a crash mid-call whose create did not happen is sent again, once', async () => {
    h = await harness();
    await h.store.upsertMany('users', [person('grace.hopper')]);
    const crashed = await crashedAttempt(h, 'grace.hopper');
    const s = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(s.succeeded).toBe(1);
    expect(h.sandbox.users().filter((u) => u.email === 'grace.hopper@corp.test')).toHaveLength(1);
    const old = await h.store.getRun(crashed);
    expect(old!.records[0]!.steps[0]).toMatchObject({ status: 'failed' });
    expect(old!.records[0]!.steps[0]!.error).toMatch(/did not take effect/);
  });

  it('a crash mid-call whose create did happen records the found login and sends no add', async () => {
    h = await harness();
    const existing = h.sandbox.addUser({ role: 'scanner', first_name: 'Alan', last_name: 'Turing', email: 'alan.turing@corp.test' });
    await h.store.upsertMany('users', [person('alan.turing')]);
    await crashedAttempt(h, 'alan.turing');
    const before = h.sandbox.stats().byScript['user.php']?.requests ?? 0;
    const s = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(s.succeeded).toBe(1);
    expect(h.sandbox.stats().byScript['user.php']?.requests ?? 0).toBe(before);
    expect((await h.store.getRecord('users', 'alan.turing'))!.fields.qualys_login).toBe(existing.login);
  });

  it('a create another live run is making right now is neither reconciled nor sent again', async () => {
    h = await harness({ sandbox: { faults: 'latency:800:script=user:action=add' } });
    await h.store.upsertMany('users', [person('ada.lovelace')]);
    const [a, b] = [await Presence.start(h.store, { role: 'cli' }), await Presence.start(h.store, { role: 'cli' })];
    try {
      const first = runWorkflow({ ...h.deps, runner: a }, h.workflow('qualys-create-user'), { trigger: 'manual' });
      while (!h.sandbox.stats().byScript['user.php']?.requests) await new Promise((r) => setTimeout(r, 5));
      // An operator's run (or a second daemon) meets the same record while the add is out.
      const second = await runWorkflow({ ...h.deps, runner: b }, h.workflow('qualys-create-user'), { trigger: 'manual' });
      expect(second).toMatchObject({ matched: 1, failed: 1 });
      expect(second.failures[0]!.error).toMatch(/^run \S+ \(runner \S+\) is making this call for this record now; not sent again here \[in-flight-elsewhere\]$/);
      expect(await first).toMatchObject({ succeeded: 1 });
      expect(h.sandbox.users().filter((u) => u.email === 'ada.lovelace@corp.test')).toHaveLength(1);
      expect(h.sandbox.stats().byScript['user.php']?.requests).toBe(1);
      expect(h.sandbox.stats().byScript['user_list.php']?.requests ?? 0).toBe(0);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('a create cut off by a stop (the daemon\'s shutdown deadline) leaves its event unhandled; the next start reconciles it', async () => {
    // The add is applied at once; its answer trickles in over 2 s, and the stop cuts it off.
    h = await harness({ sandbox: { faults: 'slow-body:ms=2000:script=user:action=add' } });
    const runner = await Presence.start(h.store, { role: 'daemon' });
    try {
      await h.store.upsertMany('users', [person('ada.lovelace')]);
      const stop = new AbortController();
      const pending = runPending({ ...h.deps, runner, stopSignal: stop.signal });
      while (!h.sandbox.stats().byScript['user.php']?.requests) await new Promise((r) => setTimeout(r, 5));
      stop.abort();
      await h.http.destroy();
      await pending;
      const created = async () => (await h!.store.pendingEventsFor('qualys-create-user')).filter((e) => e.kind === 'created');
      expect(await created()).toHaveLength(1);
      // The next start: a new client; the event runs again and finds the user the add created.
      const http = new HttpClient({ retry: { backoffMs: 10, maxBackoffMs: 50 } });
      try {
        const [again] = await runPending({ ...h.deps, http, runner });
        expect(again).toMatchObject({ workflow: 'qualys-create-user', succeeded: 1 });
      } finally {
        await http.close();
      }
      expect(await created()).toHaveLength(0);
      expect(h.sandbox.users().filter((u) => u.email === 'ada.lovelace@corp.test')).toHaveLength(1);
    } finally {
      await runner.stop();
    }
  });

  it('looks the user up by the email the attempt was sent with, not the one the record has now', async () => {
    h = await harness({ sandbox: { faults: 'drop:script=user:action=add:phase=after:times=1' } });
    await h.store.upsertMany('users', [person('ada.lovelace')]);
    const first = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(first.steps.create!.unknown).toBe(1);
    await h.store.setFields('users', 'ada.lovelace', { email: 'ada.new@corp.test' });
    const second = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(second).toMatchObject({ succeeded: 1 });
    const created = h.sandbox.users().filter((u) => u.first_name === 'Ada');
    expect(created.map((u) => u.email)).toEqual(['ada.lovelace@corp.test']);
    expect((await h.store.getRecord('users', 'ada.lovelace'))!.fields.qualys_login).toBe(created[0]!.login);
  });

  it('two users with the same email stay unknown for a person to resolve', async () => {
    h = await harness();
    h.sandbox.addUser({ role: 'scanner', first_name: 'A', last_name: 'One', email: 'twin@corp.test' });
    h.sandbox.addUser({ role: 'scanner', first_name: 'A', last_name: 'Two', email: 'twin@corp.test' });
    await h.store.upsertMany('users', [person('twin', { email: 'twin@corp.test' })]);
    await crashedAttempt(h, 'twin');
    const s = await runWorkflow(h.deps, h.workflow('qualys-create-user'), { trigger: 'manual' });
    expect(s.steps.create).toMatchObject({ unknown: 1, succeeded: 0 });
    expect(s.failures[0]!.error).toMatch(/2 objects have email twin@corp.test; resolve it/);
    expect(h.sandbox.users().filter((u) => u.email === 'twin@corp.test')).toHaveLength(2);
  });
});

describe('the journal while a call is in flight', () => {
  /** The committed step rows of the record, read by a second connection while its call is out. */
  async function rowsDuringCall(hh: Harness, workflow: string): Promise<{ during: unknown[]; after: unknown[] }> {
    const reader = new Database(join(hh.dir, 'state.db'), { readonly: true });
    const rows = () => reader.prepare("SELECT step_id, status, json_extract(request, '$.params.email') AS email FROM run_steps ORDER BY rowid").all();
    try {
      let during: unknown[] | undefined;
      const started = new Promise<void>((r) => (hh.deps.onStepStart = () => r()));
      const run = runWorkflow(hh.deps, hh.workflow(workflow), { trigger: 'manual' });
      await started;
      await new Promise((r) => setTimeout(r, 100)); // the sandbox answers after 300 ms
      during = rows();
      await run;
      return { during, after: rows() };
    } finally {
      reader.close();
    }
  }

  it('a call not safe to repeat (create_user) is committed as running before it leaves', async () => {
    h = await harness({ sandbox: { latencyMs: 300 } });
    await h.store.upsertMany('users', [person('ada.lovelace')]);
    const { during, after } = await rowsDuringCall(h, 'qualys-create-user');
    // With what a reconciliation would look it up by, should the runner die now.
    expect(during).toEqual([{ step_id: 'create', status: 'running', email: 'ada.lovelace@corp.test' }]);
    expect(after).toEqual([{ step_id: 'create', status: 'succeeded', email: 'ada.lovelace@corp.test' }]);
  });

  it('an idempotent call (deactivate) is written once, with its outcome', async () => {
    h = await harness({ sandbox: { latencyMs: 300 } });
    const u = h.sandbox.addUser({ role: 'scanner', first_name: 'Lee', last_name: 'Ver', email: 'lee.ver@corp.test', status: 'Active' });
    await h.store.upsertMany('users', [person('lee.ver', { status: 'Leaver', qualys_login: u.login, qualys_status: 'Active' })]);
    const { during, after } = await rowsDuringCall(h, 'qualys-deactivate-leavers');
    expect(during).toEqual([]);
    expect(after).toEqual([{ step_id: 'deactivate', status: 'succeeded', email: null }]);
  });
});
