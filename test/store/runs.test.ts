import { describe, expect, it } from 'vitest';
import { capText, newRunId } from '../../src/store/history-rows.js';
import { TEXT_CAP_BYTES, TRUNCATION_MARKER } from '../../src/store/types.js';
import { openTempStore } from './helpers.js';

describe('run history', () => {
  it('round-trips a run with records and steps', async () => {
    const { store } = await openTempStore();
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
    expect(run).toMatchObject({
      id: runId,
      workflow: 'onboard',
      trigger: 'event',
      trigger_data: { event_id: 7 },
      status: 'partial',
      summary: { succeeded: 1, failed: 1 },
    });
    expect(run!.finished_at).not.toBeNull();
    expect(run!.records.map((r) => [r.key, r.status, r.steps.map((s) => `${s.step_id}:${s.status}`)])).toEqual([
      ['alice', 'succeeded', ['create:succeeded', 'notify:skipped']],
      ['bob', 'failed', ['create:failed']],
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
      // kept from the first call: the update left them undefined
      attempts: 1,
      started_at: '2025-01-01T00:00:00Z',
      duration_ms: 120,
      finished_at: '2025-01-01T00:00:01Z',
    });
    expect(run!.records[1]).toMatchObject({ error: 'parameter email has invalid value', steps: [{ error_code: 'vendor-failed' }] });
    expect(await store.getRun('r_nope')).toBeNull();
    await store.close();
  });

  it('lists runs newest first, filtered by workflow and status', async () => {
    const { store } = await openTempStore();
    const a = await store.createRun({ workflow: 'onboard', trigger: 'manual' });
    const b = await store.createRun({ workflow: 'offboard', trigger: 'schedule' });
    const c = await store.createRun({ workflow: 'onboard', trigger: 'event' });
    await store.finishRun(a, 'succeeded');
    await store.finishRun(c, 'failed');
    expect((await store.listRuns()).map((r) => r.id)).toEqual([c, b, a]);
    expect((await store.listRuns({ workflow: 'onboard' })).map((r) => r.id)).toEqual([c, a]);
    expect((await store.listRuns({ status: 'running' })).map((r) => r.id)).toEqual([b]);
    expect((await store.listRuns({ limit: 1 })).map((r) => r.id)).toEqual([c]);
    await store.close();
  });

  it('refuses steps for unknown runs or records', async () => {
    const { store } = await openTempStore();
    await expect(store.startRunRecord('r_none', 'users', 'a')).rejects.toMatchObject({ code: 'run-not-found' });
    await expect(store.finishRun('r_none', 'failed')).rejects.toMatchObject({ code: 'run-not-found' });
    const id = await store.createRun({ workflow: 'w', trigger: 'manual' });
    await expect(store.recordStep(id, 'a', { step_id: 's', status: 'running' })).rejects.toMatchObject({ code: 'run-record-not-found' });
    await store.close();
  });

  it('truncates large text columns at the cap with a marker', async () => {
    const { store } = await openTempStore();
    const id = await store.createRun({ workflow: 'w', trigger: 'manual' });
    await store.startRunRecord(id, 'users', 'a');
    const body = 'x'.repeat(TEXT_CAP_BYTES + 1000);
    await store.recordStep(id, 'a', { step_id: 's', status: 'failed', response: body, request: { body }, error: 'short' });
    const step = (await store.getRun(id))!.records[0]!.steps[0]!;
    expect(step.response).toBe('x'.repeat(TEXT_CAP_BYTES) + `${TRUNCATION_MARKER}${TEXT_CAP_BYTES + 1000}]`);
    // A cut JSON column is no longer JSON: it reads back as the cut text.
    expect(typeof step.request).toBe('string');
    expect((step.request as string).startsWith('{"body":"xxx')).toBe(true);
    expect((step.request as string).endsWith(']')).toBe(true);
    expect(step.error).toBe('short');
    await store.close();
  });

  it('capText cuts on UTF-8 bytes without splitting a character', () => {
    expect(capText('abc', 10)).toBe('abc');
    const cut = capText('ééééé', 5); // 10 bytes; 5 bytes = 2.5 characters
    expect(cut).toBe(`éé${TRUNCATION_MARKER}10]`);
  });

  it('run ids sort by creation order', () => {
    const ids = Array.from({ length: 50 }, () => newRunId());
    expect([...ids].sort()).toEqual(ids);
  });
});
