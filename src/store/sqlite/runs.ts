// Run history on SQLite: runs, the records each run touched, and each record's steps. Large
// text (request and response bodies, outputs, errors) is cut at TEXT_CAP_BYTES so one chatty
// endpoint cannot bloat the state file.
import type Database from 'better-sqlite3';
import { SkeinError } from '../../errors.js';
import { newRunId, STEP_COLUMNS, toRun, toStep, writeJson, writeText, type RunDbRow, type RunRecordDbRow, type StepDbRow } from '../history-rows.js';
import type { ListRunsOptions, NewRun, RunDetail, RunRecordRow, RunRecordStatus, RunRow, RunStatus, StepRow } from '../types.js';

export class SqliteRuns {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => string,
  ) {
    this.s = {
      insertRun: db.prepare(
        "INSERT INTO runs (id, workflow, trigger, trigger_data, status, started_at, runner) VALUES (?, ?, ?, ?, 'running', ?, ?)",
      ),
      getRun: db.prepare<[string], RunDbRow>('SELECT * FROM runs WHERE id = ?'),
      finishRun: db.prepare('UPDATE runs SET status = ?, summary = ?, finished_at = ? WHERE id = ?'),
      startRecord: db.prepare(
        "INSERT OR IGNORE INTO run_records (run_id, record_key, object, status, started_at) VALUES (?, ?, ?, 'running', ?)",
      ),
      finishRecord: db.prepare('UPDATE run_records SET status = ?, error = ?, finished_at = ? WHERE run_id = ? AND record_key = ?'),
      records: db.prepare<[string], RunRecordDbRow>(
        'SELECT record_key, object, status, error, started_at, finished_at FROM run_records WHERE run_id = ? ORDER BY rowid',
      ),
      hasRecord: db.prepare<[string, string], { x: number }>('SELECT 1 AS x FROM run_records WHERE run_id = ? AND record_key = ?'),
      getStep: db.prepare<[string, string, string], StepDbRow>(
        'SELECT * FROM run_steps WHERE run_id = ? AND record_key = ? AND step_id = ?',
      ),
      upsertStep: db.prepare(
        `INSERT INTO run_steps (run_id, record_key, step_id, ${STEP_COLUMNS.join(', ')})
         VALUES (@run_id, @record_key, @step_id, ${STEP_COLUMNS.map((c) => '@' + c).join(', ')})
         ON CONFLICT (run_id, record_key, step_id) DO UPDATE SET
         ${STEP_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}`,
      ),
      steps: db.prepare<[string], StepDbRow>('SELECT * FROM run_steps WHERE run_id = ? ORDER BY rowid'),
      inDoubt: db.prepare<[string, string, string], StepDbRow & { run_id: string }>(
        `SELECT s.* FROM run_steps s JOIN runs r ON r.id = s.run_id
         WHERE s.record_key = ? AND s.step_id = ? AND s.status IN ('running', 'unknown') AND r.workflow = ?
         ORDER BY s.rowid`,
      ),
    };
  }

  private mustHaveRun(runId: string): void {
    if (!this.s.getRun.get(runId)) throw new SkeinError('run-not-found', `no run with id "${runId}"`);
  }

  createRun(run: NewRun): string {
    const id = newRunId();
    this.s.insertRun.run(id, run.workflow, run.trigger, writeJson(run.trigger_data), this.now(), run.runner ?? null);
    return id;
  }

  startRunRecord(runId: string, object: string, key: string): void {
    this.mustHaveRun(runId);
    this.s.startRecord.run(runId, key, object, this.now());
  }

  finishRunRecord(runId: string, key: string, status: RunRecordStatus, error?: string | null): void {
    const info = this.s.finishRecord.run(status, writeText(error), this.now(), runId, key);
    if (info.changes === 0) throw new SkeinError('run-record-not-found', `run "${runId}" has no record "${key}"; call startRunRecord first`);
  }

  /** Steps of a workflow for one record left `running` (a crash) or `unknown`, oldest first. */
  stepsInDoubt(workflow: string, recordKey: string, stepId: string): Array<StepRow & { run_id: string }> {
    return this.s.inDoubt.all(recordKey, stepId, workflow).map((r) => ({ ...toStep(r), run_id: r.run_id }));
  }

  /** Fields of `step` left undefined keep their stored value on update. */
  recordStep(runId: string, recordKey: string, step: StepRow): void {
    if (!this.s.hasRecord.get(runId, recordKey)) {
      this.mustHaveRun(runId);
      throw new SkeinError('run-record-not-found', `run "${runId}" has no record "${recordKey}"; call startRunRecord first`);
    }
    const old = this.s.getStep.get(runId, recordKey, step.step_id);
    const pick = <K extends keyof StepRow>(k: K, encoded: unknown, fallback: unknown): unknown =>
      step[k] === undefined ? fallback : encoded;
    this.s.upsertStep.run({
      run_id: runId,
      record_key: recordKey,
      step_id: step.step_id,
      status: step.status,
      request: pick('request', writeJson(step.request), old?.request ?? null),
      response: pick('response', writeText(step.response), old?.response ?? null),
      http_status: pick('http_status', step.http_status, old?.http_status ?? null),
      qualys_code: pick('qualys_code', step.qualys_code, old?.qualys_code ?? null),
      qualys_message: pick('qualys_message', writeText(step.qualys_message), old?.qualys_message ?? null),
      outputs: pick('outputs', writeJson(step.outputs), old?.outputs ?? null),
      error: pick('error', writeText(step.error), old?.error ?? null),
      attempts: step.attempts ?? old?.attempts ?? 0,
      duration_ms: pick('duration_ms', step.duration_ms, old?.duration_ms ?? null),
      started_at: pick('started_at', step.started_at, old?.started_at ?? null),
      finished_at: pick('finished_at', step.finished_at, old?.finished_at ?? null),
    });
  }

  finishRun(runId: string, status: RunStatus, summary?: unknown): void {
    const info = this.s.finishRun.run(status, writeJson(summary), this.now(), runId);
    if (info.changes === 0) throw new SkeinError('run-not-found', `no run with id "${runId}"`);
  }

  listRuns(opts: ListRunsOptions = {}): RunRow[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (opts.workflow !== undefined) {
      where.push('workflow = ?');
      params.push(opts.workflow);
    }
    if (opts.status !== undefined) {
      where.push('status = ?');
      params.push(opts.status);
    }
    const sql = `SELECT * FROM runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, opts.limit ?? 50) as RunDbRow[]).map(toRun);
  }

  getRun(runId: string): RunDetail | null {
    const run = this.s.getRun.get(runId);
    if (!run) return null;
    const steps = new Map<string, StepRow[]>();
    for (const s of this.s.steps.all(runId)) {
      const list = steps.get(s.record_key) ?? [];
      list.push(toStep(s));
      steps.set(s.record_key, list);
    }
    const records = this.s.records.all(runId).map((r): RunRecordRow & { steps: StepRow[] } => ({
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
