// Run history on PostgreSQL: runs, the records each run touched, and each record's steps. Text
// columns are cut exactly as on SQLite (capText, TEXT_CAP_BYTES), and a truncated JSON column
// reads back as the stored string.
import { SkeinError } from '../../errors.js';
import { newRunId, STEP_COLUMNS, toRun, toStep, writeJson, writeText as capTextColumn, type RunDbRow, type RunRecordDbRow, type StepDbRow } from '../history-rows.js';
import type { ListRunsOptions, NewRun, RunDetail, RunRecordRow, RunRecordStatus, RunRow, RunStatus, StepInDoubt, StepRow } from '../types.js';
import type { Queryable } from './records.js';

/** Capped as on SQLite; U+0000, which PostgreSQL text cannot hold, becomes U+FFFD. */
function writeText(v: string | null | undefined): string | null {
  return capTextColumn(v)?.replace(/\u0000/g, '\uFFFD') ?? null;
}

const RUN_COLUMNS = 'id, workflow, trigger, trigger_data, status, summary, started_at, finished_at, runner';
const STEP_SELECT = `record_key, step_id, ${STEP_COLUMNS.join(', ')}`;

export class PgRuns {
  constructor(private readonly now: () => string) {}

  private async mustHaveRun(q: Queryable, runId: string): Promise<void> {
    const r = await q.query('SELECT 1 FROM runs WHERE id = $1', [runId]);
    if (r.rowCount === 0) throw new SkeinError('run-not-found', `no run with id "${runId}"`);
  }

  async createRun(q: Queryable, run: NewRun): Promise<string> {
    const id = newRunId();
    await q.query(
      "INSERT INTO runs (id, workflow, trigger, trigger_data, status, started_at, runner) VALUES ($1, $2, $3, $4, 'running', $5, $6)",
      [id, run.workflow, run.trigger, writeJson(run.trigger_data), this.now(), run.runner ?? null],
    );
    return id;
  }

  async startRunRecord(q: Queryable, runId: string, object: string, key: string, startedAt?: string): Promise<void> {
    await this.mustHaveRun(q, runId);
    await q.query(
      "INSERT INTO run_records (run_id, record_key, object, status, started_at) VALUES ($1, $2, $3, 'running', $4) ON CONFLICT (run_id, record_key) DO NOTHING",
      [runId, key, object, startedAt ?? this.now()],
    );
  }

  async finishRunRecord(q: Queryable, runId: string, key: string, status: RunRecordStatus, error?: string | null): Promise<void> {
    const r = await q.query(
      'UPDATE run_records SET status = $1, error = $2, finished_at = $3 WHERE run_id = $4 AND record_key = $5',
      [status, writeText(error), this.now(), runId, key],
    );
    if (r.rowCount === 0) throw new SkeinError('run-record-not-found', `run "${runId}" has no record "${key}"; call startRunRecord first`);
  }

  async stepsInDoubt(q: Queryable, workflow: string, recordKey: string, stepId: string): Promise<StepInDoubt[]> {
    const r = await q.query<StepDbRow & { run_id: string; run_status: RunStatus; runner: string | null }>(
      `SELECT s.run_id, r.status AS run_status, r.runner AS runner, ${STEP_SELECT.split(', ').map((c) => 's.' + c).join(', ')}
         FROM run_steps s JOIN runs r ON r.id = s.run_id
        WHERE s.record_key = $1 AND s.step_id = $2 AND s.status IN ('running', 'unknown') AND r.workflow = $3
        ORDER BY s.seq`,
      [recordKey, stepId, workflow],
    );
    return r.rows.map((row) => ({ ...toStep(row), run_id: row.run_id, run_status: row.run_status, runner: row.runner }));
  }

  /** Fields of `step` left undefined keep their stored value on update. */
  async recordStep(q: Queryable, runId: string, recordKey: string, step: StepRow): Promise<void> {
    const has = await q.query('SELECT 1 FROM run_records WHERE run_id = $1 AND record_key = $2', [runId, recordKey]);
    if (has.rowCount === 0) {
      await this.mustHaveRun(q, runId);
      throw new SkeinError('run-record-not-found', `run "${runId}" has no record "${recordKey}"; call startRunRecord first`);
    }
    // One statement: insert, or update only the columns this call gives (undefined keeps).
    const given: Record<(typeof STEP_COLUMNS)[number], boolean> = {
      status: true,
      request: step.request !== undefined,
      response: step.response !== undefined,
      http_status: step.http_status !== undefined,
      qualys_code: step.qualys_code !== undefined,
      qualys_message: step.qualys_message !== undefined,
      outputs: step.outputs !== undefined,
      error: step.error !== undefined,
      attempts: step.attempts !== undefined,
      duration_ms: step.duration_ms !== undefined,
      started_at: step.started_at !== undefined,
      finished_at: step.finished_at !== undefined,
      error_code: step.error_code !== undefined,
    };
    const values: unknown[] = [
      runId,
      recordKey,
      step.step_id,
      step.status,
      writeJson(step.request),
      writeText(step.response),
      step.http_status ?? null,
      step.qualys_code ?? null,
      writeText(step.qualys_message),
      writeJson(step.outputs),
      writeText(step.error),
      step.attempts ?? 0,
      step.duration_ms ?? null,
      step.started_at ?? null,
      step.finished_at ?? null,
      step.error_code ?? null,
    ];
    const updates = STEP_COLUMNS.filter((c) => given[c]).map((c) => `${c} = excluded.${c}`);
    await q.query(
      `INSERT INTO run_steps (run_id, record_key, step_id, ${STEP_COLUMNS.join(', ')})
       VALUES (${values.map((_, i) => '$' + (i + 1)).join(', ')})
       ON CONFLICT (run_id, record_key, step_id) DO UPDATE SET ${updates.join(', ')}`,
      values,
    );
  }

  async finishRun(q: Queryable, runId: string, status: RunStatus, summary?: unknown): Promise<void> {
    const r = await q.query('UPDATE runs SET status = $1, summary = $2, finished_at = $3 WHERE id = $4', [status, writeJson(summary), this.now(), runId]);
    if (r.rowCount === 0) throw new SkeinError('run-not-found', `no run with id "${runId}"`);
  }

  async listRuns(q: Queryable, opts: ListRunsOptions = {}): Promise<RunRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (opts.workflow !== undefined) {
      params.push(opts.workflow);
      where.push(`workflow = $${params.length}`);
    }
    if (opts.status !== undefined) {
      params.push(opts.status);
      where.push(`status = $${params.length}`);
    }
    params.push(opts.limit ?? 50);
    const r = await q.query<RunDbRow>(
      `SELECT ${RUN_COLUMNS} FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return r.rows.map(toRun);
  }

  async getRun(q: Queryable, runId: string): Promise<RunDetail | null> {
    const run = (await q.query<RunDbRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [runId])).rows[0];
    if (!run) return null;
    const steps = new Map<string, StepRow[]>();
    const stepRows = await q.query<StepDbRow>(`SELECT ${STEP_SELECT} FROM run_steps WHERE run_id = $1 ORDER BY seq`, [runId]);
    for (const s of stepRows.rows) {
      const list = steps.get(s.record_key) ?? [];
      list.push(toStep(s));
      steps.set(s.record_key, list);
    }
    const recs = await q.query<RunRecordDbRow>(
      'SELECT record_key, object, status, error, started_at, finished_at FROM run_records WHERE run_id = $1 ORDER BY seq',
      [runId],
    );
    const records = recs.rows.map((r): RunRecordRow & { steps: StepRow[] } => ({
      object: r.object,
      key: r.record_key,
      status: r.status,
      error: r.error,
      started_at: r.started_at,
      finished_at: r.finished_at,
      steps: steps.get(r.record_key) ?? [],
    }));
    return { ...toRun(run), records };
  }
}
